#!/usr/bin/env bash
# The galaxy prior with v-prediction: the same network, data and recipe as
# train_galaxy.sh, trained on v = √ᾱ ε − √(1−ᾱ) x0, initialised from the ε-run's weights
# (runs/galaxy-gri-64/checkpoint.pt). Why: with ε-prediction the first sampling steps divide the
# network's error by √ᾱ ≈ 0.0016 and set each image's mean level from noise (README, "v-prediction").
# Resumable: rerun to continue from runs/galaxy-gri-64-v/checkpoint.pt.
set -euo pipefail
cd "$(dirname "$0")"
exec python3 train.py --prior galaxy --out runs/galaxy-gri-64-v --steps "${STEPS:-40000}" --seed 1 \
  --dataset-size 20000 --processes 2 --batch-size 16 \
  --num-channels 32 --num-res-blocks 2 --channel-mult 1,2,2,2 --attention-resolutions 16,8 --num-heads 4 \
  --lr 2e-4 --warmup 500 --ema-rate 0.999 --grad-clip 1 --prediction v \
  --init-from runs/galaxy-gri-64/checkpoint.pt \
  --log-every 50 --checkpoint-every 250 --threads "${THREADS:-2}" --amp "${AMP:-bf16}" "$@"
