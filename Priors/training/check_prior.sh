#!/usr/bin/env bash
# Progress check of a running galaxy-prior training run (between checkpoints, without stopping it):
# exports the latest checkpoint's EMA weights, draws N unconditional samples with Tweedie (100
# DDPM steps, seed 12, physical units) and compares them with 500 held-out generator galaxies by
# evaluate_galaxy.py (KS D per statistic; the issue's target is D ≤ 0.15 with ≥ 500 samples —
# with N = 64 each D carries ≈ ±0.08 of sampling noise, so this tracks the trend only).
# Usage (repository root, after `swift build -c release`): bash Priors/training/check_prior.sh [N]
# Outputs in Priors/training/runs/galaxy-gri-64-v/checks/step-<S>.{fits,txt}.
set -euo pipefail
N=${1:-64}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
T=$ROOT/Priors/training
RUN=$T/runs/galaxy-gri-64-v
cd "$T"
bash train_galaxy_v.sh --export-only | tail -1
STEP=$(python3 -c "import json; print(json.load(open('$RUN/prior/config.json'))['training']['steps'])" 2>/dev/null || echo latest)
mkdir -p "$RUN/checks"
[ -f "$RUN/checks/heldout500.npy" ] || python3 galaxies.py --split heldout --count 500 --out "$RUN/checks/heldout500.npy"
"$ROOT/.build/release/tweedie" prior sample --prior "$RUN/prior" --samples "$N" --steps 100 --batch 8 --seed 12 \
  --space physical -o "$RUN/checks/step-$STEP.fits"
python3 evaluate_galaxy.py "$RUN/checks/step-$STEP.fits" "$RUN/checks/heldout500.npy" --processes 2 | tee "$RUN/checks/step-$STEP.txt"
