#!/usr/bin/env bash
# Turns a training run into the bundled prior directory Priors/Models/<name>/ (issue 6 item 5):
#   1. exports the run's EMA weights (train.py --export-only) into the model directory
#      (config.json, weights.safetensors, loss.csv, and the loss curve loss.png);
#   1b. the PyTorch parity fixture of those weights (parity_fixture.py → parity.safetensors);
#   2. the prior variance map from N unconditional samples drawn by Tweedie in Swift
#      (`tweedie prior variance`, written into the directory and recorded in config.json);
#   3. a PNG grid of 64 unconditional samples drawn by Tweedie, and one of 64 training images;
#   4. ≥ 500 Tweedie samples vs 500 held-out generator images: evaluate_galaxy.py or
#      evaluate_radio.py → evaluation.json (KS D per statistic).
# Usage: Priors/training/finalize_prior.sh galaxy|radio [VARIANCE_SAMPLES] [EVAL_SAMPLES] [STEPS]
# (the run is the one of train_galaxy.sh / train_radio.sh, exported with their settings).
# Run from the repository root after `swift build -c release`. DEST=dir overrides the destination;
# EXPORTED=dir takes an already exported prior directory instead of exporting.
set -euo pipefail
PRIOR=${1:?galaxy or radio}
NVAR=${2:-256}
NEVAL=${3:-500}
STEPS=${4:-100}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
B=.build/release/tweedie
case "$PRIOR" in
  galaxy) NAME=galaxy-gri-64 ;;
  radio) NAME=radio-sky-64 ;;
  *) echo "error: unknown prior '$PRIOR' (galaxy or radio)" >&2; exit 2 ;;
esac
DEST=${DEST:-Priors/Models/$NAME}
mkdir -p "$DEST"; DEST=$(cd "$DEST" && pwd)
T=Priors/training

if [ -z "${EXPORTED:-}" ]; then
  echo "== export the EMA weights of $T/runs/$NAME"
  bash $T/train_$PRIOR.sh --export-only
  EXPORTED=$T/runs/$NAME/prior
fi
mkdir -p "$DEST"
# ζ per step count (prior.dps_guidance), the split-Gibbs settings (prior.split_gibbs) and the
# unconditional sampler (prior.unconditional_sampler) are tuned on the demo and by the evaluation,
# not by training: keep the destination's when the export has none, and say that they need
# retuning for new weights. The variance map, the grids and the evaluation below are drawn with the
# declared unconditional sampler (DDPM when none is declared; UNCOND='{"method": "ddim", "eta": 0.5}'
# declares one before they are drawn).
python3 - "$EXPORTED/config.json" "$DEST/config.json" "${UNCOND:-}" <<'PY'
import json, os, sys
new_path, old_path, uncond = sys.argv[1:4]
new = json.load(open(new_path))
if uncond:
    new.setdefault("prior", {})["unconditional_sampler"] = json.loads(uncond)
    print("declared unconditional_sampler", uncond)
if os.path.exists(old_path):
    old = json.load(open(old_path)).get("prior", {})
    for key in ("dps_guidance", "split_gibbs", "unconditional_sampler"):
        if key in old and key not in new.get("prior", {}):
            new.setdefault("prior", {})[key] = old[key]
            print(f"kept {key} {old[key]} from the previous config: retune it on the demo for these weights")
json.dump(new, open(new_path, "w"), indent=1)
PY
cp "$EXPORTED/config.json" "$EXPORTED/weights.safetensors" "$EXPORTED/loss.csv" "$DEST/"
python3 $T/plot_loss.py "$DEST/loss.csv" "$DEST/loss.png" --title "$NAME: training loss"
$B prior info "$DEST"

echo "== PyTorch parity fixture of the shipped weights (Tests/TweediePriorsTests/ShippedPriorParityTests.swift)"
python3 $T/parity_fixture.py "$DEST"

echo "== variance map from $NVAR samples ($STEPS steps of the prior's declared unconditional sampler)"
$B prior variance --prior "$DEST" --samples "$NVAR" --steps "$STEPS" --batch 8 --seed 7

echo "== 64-sample grid and training-image grid"
# 64 samples (network space): Tweedie's own grid, and next to 64 training images drawn by the same renderer.
$B prior sample --prior "$DEST" --samples 64 --steps "$STEPS" --batch 8 --seed 11 --space network \
  -o /tmp/$NAME-grid-u.fits --grid "$DEST/samples.png"
(cd $T && python3 - "$PRIOR" /tmp/$NAME-grid-u.fits "$DEST/samples_vs_training.png" <<'PY'
import sys, numpy as np, datasets, evaluation, previews
prior, samples, out = sys.argv[1:4]
c = datasets.channels(prior)
u = evaluation.load_images(samples, c)[:64]
gen = datasets.GENERATORS[prior]
x = np.stack([gen.galaxy(i) if prior == "galaxy" else gen.sky(i) for i in range(64)])
t = gen.to_network(x)
a, b = previews.grid(u, columns=8, zoom=2), previews.grid(t, columns=8, zoom=2)
gap = np.full((a.shape[0], 12) + a.shape[2:], 255, dtype=a.dtype)
previews.write_png(out, np.concatenate([a, gap, b], axis=1))
print("wrote", out, "(left: 64 Tweedie samples; right: 64 training images; same stretch)")
PY
)

if [ "$NEVAL" -gt 0 ]; then
  echo "== evaluation: $NEVAL Tweedie samples vs $NEVAL held-out generator images"
  $B prior sample --prior "$DEST" --samples "$NEVAL" --steps "${EVAL_STEPS:-$STEPS}" --batch 8 --seed 12 --space physical \
    -o /tmp/$NAME-eval.fits
  if [ "$PRIOR" = galaxy ]; then GEN=galaxies.py; EVAL=evaluate_galaxy.py; else GEN=radio_skies.py; EVAL=evaluate_radio.py; fi
  python3 $T/$GEN --split heldout --count "$NEVAL" --out /tmp/$NAME-heldout.npy
  (cd $T && python3 $EVAL /tmp/$NAME-eval.fits /tmp/$NAME-heldout.npy --processes 2 \
     --json "$DEST/evaluation.json" | tee "$DEST/evaluation.txt")
fi
echo "done: $DEST"
