#!/usr/bin/env bash
# DPS against split-Gibbs and SMC on the neural galaxy prior and the demo observation (issue 8, "the same
# comparison on the neural galaxy prior"): the same observation, truth, σ, flux scale, seed and
# sample count for each sampler; then compare.py draws the mean, std and variance-ratio maps side
# by side and tabulates the scores of each run's summary.json.
# Usage (repository root, after `swift build -c release`):
#   bash Notebooks/sampler_comparison/run.sh [SAMPLES]
# Outputs: Notebooks/results/sampler_comparison/ (comparison.png, scores.csv, scores.md and each
# run's summary.json and preview.png); the FITS products stay in Notebooks/work/sampler_comparison/.
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${1:-16}
B=.build/release/tweedie
P=Priors/Models/galaxy-gri-64
D=$P/demo
WORK=Notebooks/work/sampler_comparison
OUT=Notebooks/results/sampler_comparison
mkdir -p "$WORK" "$OUT"
# The demo's noise and flux scale (written into the observation by make_demo_observation.py).
read -r SIG FLUX < <(python3 - "$D/observation.fits" <<'PY'
import sys
from astropy.io import fits
h = fits.getheader(sys.argv[1])
print(",".join(repr(float(h[k])) for k in ("SIGMA_G", "SIGMA_R", "SIGMA_I")), 10 ** (-0.4 * (h["MAG_R"] - 27)))
PY
)
COMMON=(--prior "$P" --observation "$D/observation.fits" --spec "$D/operator.yaml" --truth "$D/truth.fits"
        --sigma "$SIG" --flux-scale "$FLUX" --samples "$N" --seed 0 --quiet)
run() {  # name, sampler options…
  local name=$1; shift
  if [ -f "$WORK/$name/summary.json" ]; then echo "$name: done earlier, kept"; return; fi
  if [ -f "$WORK/$name/checkpoint.json" ]; then
    $B sample --resume "$WORK/$name" --quiet
  else
    rm -rf "$WORK/$name"
    $B sample "${COMMON[@]}" "$@" -o "$WORK/$name"
  fi
}
# DPS as `tweedie demo` runs it (ζ and x̂0 clip from the prior's config).
run dps --sampler dps --steps 100 --batch 8
# Split-Gibbs as `tweedie sample` and `tweedie demo` run it by default: the settings the prior's
# config.json declares (prior.split_gibbs; docs/samplers.md).
run split-gibbs --sampler split-gibbs --batch 8
# SMC over the same annealing (SMC=1; one population of N particles, the N samples, correlated by
# resampling): with adaptive tempering, the default, it costs 7–13× split-Gibbs's time on 16–32 px
# analytic images, hours here; SMC_TEMPERING=planned gives the fixed schedule, which collapses to
# one particle on this image (interim weights; Notebooks/results/sampler_comparison/RUN.md).
RUNS=(dps split-gibbs)
if [ "${SMC:-0}" = 1 ]; then
  run smc --sampler smc --particles "$N" --smc-tempering "${SMC_TEMPERING:-adaptive}" \
      --gibbs-iterations 30 --gibbs-rho-max 1 --gibbs-prior-steps 20 --batch 8
fi
[ -f "$WORK/smc/summary.json" ] && RUNS+=(smc)
# SMC with one sample kept per population (SMC_KEEP1=1): every sample is drawn by weight from its own
# population of SMC_PARTICLES (default 4) planned-tempering particles, so a population that
# collapses onto one lineage still yields a distinct sample; SMC_PARTICLES × split-Gibbs's work.
if [ "${SMC_KEEP1:-0}" = 1 ]; then
  run smc-keep1 --sampler smc --particles "${SMC_PARTICLES:-4}" --samples-per-population 1 --smc-tempering planned \
      --gibbs-iterations 30 --gibbs-rho-max 1 --gibbs-prior-steps 20 --batch 2
fi
[ -f "$WORK/smc-keep1/summary.json" ] && RUNS+=(smc-keep1)
for name in "${RUNS[@]}"; do
  rm -rf "${OUT:?}/$name"; mkdir -p "$OUT/$name"
  cp "$WORK/$name/summary.json" "$WORK/$name/preview.png" "$OUT/$name/"
done
python3 Notebooks/sampler_comparison/compare.py "$P/demo/truth.fits" "$OUT" "${RUNS[@]/#/$WORK/}"
