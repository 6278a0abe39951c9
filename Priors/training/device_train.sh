#!/usr/bin/env bash
# GPU variant of train_galaxy.sh / train_radio.sh: the same script and recipe with --device cuda,
# batch 128, bf16 autocast, a larger cached training set generated there on 16 processes, EMA 0.9995
# (time constant 2 000 steps, for runs of 10⁴–10⁵ steps) and a wall-time limit per call.
# Run on the CUDA device machine from the repository root, e.g. with the device tool:
#   run(command="bash Priors/training/device_train.sh galaxy", carry=["Priors/training/data/devpy"])
# (galaxy: first run Priors/training/device_prepare.sh here; radio needs no carry). Each call trains
# for TIME_LIMIT seconds (default 480), exports the EMA weights and copies to $OUT: prior/config.json,
# weights.safetensors, loss.csv and the checkpoint split in ≤ 15 MiB parts (cat checkpoint.pt.part-*
# > checkpoint.pt to resume elsewhere). While the machine stays warm a new call resumes.
set -euo pipefail
PRIOR=${1:?usage: device_train.sh galaxy|radio [train.py flags]}; shift
cd "$(dirname "$0")"
if [ "$PRIOR" = galaxy ] && ! python3 -c "import galsim" 2>/dev/null; then
  DEV=data/devpy
  [ -f "$DEV/galsim-slim.tgz" ] || { echo "error: GalSim is missing here; run Priors/training/device_prepare.sh on the CPU machine and carry Priors/training/data/devpy"; exit 2; }
  SITE=/tmp/tweedie-site; mkdir -p "$SITE"
  for w in "$DEV"/*.whl; do python3 -m zipfile -e "$w" "$SITE"; done
  tar xzf "$DEV/galsim-slim.tgz" -C "$SITE"
  export PYTHONPATH="$SITE${PYTHONPATH:+:$PYTHONPATH}"
  python3 -c "import galsim; print('galsim', galsim.__version__)"
fi
nvidia-smi -L || true
case "$PRIOR" in
  galaxy) NAME=galaxy-gri-64-gpu; SIZE=${DATASET_SIZE:-50000}; RES=2; ATTN=16,8;;
  radio)  NAME=radio-sky-64-gpu;  SIZE=${DATASET_SIZE:-50000}; RES=1; ATTN=8;;   # as train_radio.sh
  *) echo "error: prior must be galaxy or radio"; exit 2;;
esac
export PYTHONUNBUFFERED=1
python3 train.py --prior "$PRIOR" --out "runs/$NAME" --steps "${STEPS:-60000}" --seed 1 \
  --dataset-size "$SIZE" --processes 16 --batch-size "${BATCH:-128}" \
  --num-channels 32 --num-res-blocks "$RES" --channel-mult 1,2,2,2 --attention-resolutions "$ATTN" --num-heads 4 \
  --lr 2e-4 --warmup 500 --ema-rate 0.9995 --grad-clip 1 --prediction v --amp bf16 \
  --log-every 200 --checkpoint-every 2000 --device cuda --time-limit "${TIME_LIMIT:-480}" "$@"
python3 train.py --prior "$PRIOR" --out "runs/$NAME" --steps "${STEPS:-60000}" --seed 1 \
  --dataset-size "$SIZE" --batch-size "${BATCH:-128}" \
  --num-channels 32 --num-res-blocks "$RES" --channel-mult 1,2,2,2 --attention-resolutions "$ATTN" --num-heads 4 \
  --lr 2e-4 --warmup 500 --ema-rate 0.9995 --grad-clip 1 --prediction v --device cuda --export-only
if [ -n "${OUT:-}" ]; then
  cp "runs/$NAME/prior/config.json" "runs/$NAME/prior/weights.safetensors" "runs/$NAME/loss.csv" "$OUT"/
  split -b 15M -d "runs/$NAME/checkpoint.pt" "$OUT/checkpoint.pt.part-"
  ls -la "$OUT"
fi
