#!/usr/bin/env bash
# Generator-vs-generator check of the evaluation scripts: two disjoint held-out seed ranges of
# the same generator must give small KS distances (the floor against which a prior's samples are
# judged). Writes into Priors/training/runs/generator-check/ (ignored by git).
# Usage: Priors/training/generator_check.sh [count=500] [processes=1]
set -euo pipefail
cd "$(dirname "$0")"
N=${1:-500}; P=${2:-1}
OUT=runs/generator-check; mkdir -p "$OUT"
python3 galaxies.py --split heldout  --count "$N" --processes "$P" --out "$OUT/galaxy-heldout.npy"
python3 galaxies.py --split heldout2 --count "$N" --processes "$P" --out "$OUT/galaxy-heldout2.npy"
python3 radio_skies.py --split heldout  --count "$N" --out "$OUT/radio-heldout.npy"
python3 radio_skies.py --split heldout2 --count "$N" --out "$OUT/radio-heldout2.npy"
echo "## galaxy: heldout [0, $N) vs heldout2 [0, $N)"
python3 evaluate_galaxy.py "$OUT/galaxy-heldout.npy" "$OUT/galaxy-heldout2.npy" --processes "$P" --json "$OUT/galaxy-ks.json"
echo "## radio: heldout [0, $N) vs heldout2 [0, $N)"
python3 evaluate_radio.py "$OUT/radio-heldout.npy" "$OUT/radio-heldout2.npy" --processes "$P" --json "$OUT/radio-ks.json"
