#!/usr/bin/env bash
# Split-Gibbs on the demo at several CG error tolerances (docs/samplers.md, "Where split-Gibbs's time
# goes"): 2 samples each, the galaxy prior's declared settings otherwise, 1 OpenBLAS thread; prints
# seconds per sample, the FFTW r2c calls (≈ 3 per operator product A or Aᵀ, one per band) counted
# with a perf uprobe, and the reduced χ² of the mean.
# Usage (repository root, after `swift build -c release`; perf and root for the uprobe):
#   bash Notebooks/sampler_comparison/cg_tolerance.sh 0.1 1 10   (TWEEDIE=path times another binary)
set -euo pipefail
cd "$(dirname "$0")/../.."
B=${TWEEDIE:-.build/release/tweedie}
P=Priors/Models/galaxy-gri-64
D=$P/demo
LIB=$(ls /usr/lib/x86_64-linux-gnu/libfftw3f.so.3* | head -1)
perf probe -q -x "$LIB" fftwf_execute_dft_r2c 2>/dev/null || true
trap 'perf probe -q -d "probe_libfftw3f:*" 2>/dev/null || true' EXIT
read -r SIG FLUX < <(python3 - "$D/observation.fits" <<'PY'
import sys
from astropy.io import fits
h = fits.getheader(sys.argv[1])
print(",".join(repr(float(h[k])) for k in ("SIGMA_G", "SIGMA_R", "SIGMA_I")), 10 ** (-0.4 * (h["MAG_R"] - 27)))
PY
)
WORK=$(mktemp -d)
for tol in "$@"; do
  out=$WORK/tol-$tol
  perf stat -x, -e probe_libfftw3f:fftwf_execute_dft_r2c -o "$out.perf" \
    env OPENBLAS_NUM_THREADS=1 $B sample --prior $P --observation $D/observation.fits --spec $D/operator.yaml \
    --truth $D/truth.fits --sigma "$SIG" --flux-scale "$FLUX" --samples 2 --batch 2 --seed 0 --quiet \
    --sampler-setting cg_error_tolerance="$tol" -o "$out" 2>/dev/null
  python3 - "$out/summary.json" "$tol" "$(grep r2c "$out.perf" | cut -d, -f1)" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
print(f"cg_error_tolerance {sys.argv[2]}: {s['secondsPerSample']:.2f} s/sample, r2c calls {sys.argv[3]}, "
      f"reduced chi2 of the mean {s['scores']['reducedChiSquaredOfMean']:.3f}")
PY
done
echo "load $(cut -d' ' -f1-3 /proc/loadavg)"
rm -rf "$WORK"
