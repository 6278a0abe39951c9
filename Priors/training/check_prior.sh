#!/usr/bin/env bash
# Progress check of a running prior-training run (between checkpoints, without stopping it):
# exports the latest checkpoint's EMA weights, draws N unconditional samples with Tweedie (100
# DDPM steps, seed 12, physical units) and compares them with 500 held-out generator images
# (evaluate_galaxy.py: half-light radius, concentration, ellipticity, g−i, B/T proxy;
# evaluate_radio.py: sources per sky, fluxes, FWHMs). The issue's target is KS D ≤ 0.15 with
# ≥ 500 samples — with N = 64 each D carries ≈ ±0.08 of sampling noise, so this tracks the trend.
# Usage (repository root, after `swift build -c release`):
#   bash Priors/training/check_prior.sh galaxy|radio [N] [prior sample options, e.g. --ddim --eta 0.5]
# (extra options replace the default sampler; the output name records them).
# Outputs in Priors/training/runs/<run>/checks/step-<S>.{fits,txt}; the held-out set and its
# statistics are cached there (heldout500.npy, heldout500.npy.stats.json).
set -euo pipefail
PRIOR=${1:?galaxy or radio}
N=${2:-64}
shift $(( $# < 2 ? $# : 2 ))
EXTRA=("$@")
TAG=$(printf '%s' "${EXTRA[*]:-}" | tr -c 'A-Za-z0-9.' '-' | sed 's/-\+/-/g; s/^-//; s/-$//')
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
T=$ROOT/Priors/training
case "$PRIOR" in
  galaxy) RUN=$T/runs/galaxy-gri-64-v; TRAIN=train_galaxy_v.sh; GEN=galaxies.py; EVAL=evaluate_galaxy.py ;;
  radio) RUN=$T/runs/radio-sky-64; TRAIN=train_radio.sh; GEN=radio_skies.py; EVAL=evaluate_radio.py ;;
  *) echo "error: unknown prior '$PRIOR' (galaxy or radio)" >&2; exit 2 ;;
esac
cd "$T"
bash "$TRAIN" --export-only | tail -1
STEP=$(python3 -c "import json; print(json.load(open('$RUN/prior/config.json'))['training']['steps'])" 2>/dev/null || echo latest)
mkdir -p "$RUN/checks"
[ -f "$RUN/checks/heldout500.npy" ] || python3 "$GEN" --split heldout --count 500 --out "$RUN/checks/heldout500.npy"
OUT=$RUN/checks/step-$STEP${TAG:+-$TAG}
"$ROOT/.build/release/tweedie" prior sample --prior "$RUN/prior" --samples "$N" --steps 100 --batch 8 --seed 12 \
  --space physical "${EXTRA[@]}" -o "$OUT.fits"
python3 "$EVAL" "$OUT.fits" "$RUN/checks/heldout500.npy" --processes 2 --cache-b | tee "$OUT.txt"
