"""Paired per-truth comparison of SBC runs that share a spec's seed (so the same prior-drawn
truths and observations): source / sky pixel coverage, reduced chi^2 of the mean, the per-band
aperture-flux z = (posterior mean - truth) / posterior std, and seconds per truth.

Usage: python3 Notebooks/calibration/compare_sbc_probes.py DIR [DIR ...] [--scale 1]
"""
import glob
import json
import os
import sys


def main(argv):
    scale = 1
    if "--scale" in argv:
        i = argv.index("--scale")
        scale = argv[i + 1]
        argv = argv[:i] + argv[i + 2:]
    runs = argv
    if not runs:
        sys.exit("usage: compare_sbc_probes.py DIR [DIR ...] [--scale K]")
    truths = sorted({os.path.basename(f)
                     for d in runs for f in glob.glob(os.path.join(d, "cases", f"k{scale}-t*.json"))})
    for name in truths:
        print(name)
        for d in runs:
            path = os.path.join(d, "cases", name)
            if not os.path.exists(path):
                continue
            x = json.load(open(path))
            z = [(m - t) / s for m, t, s in zip(x["apertureFluxMean"], x["apertureFluxTruth"], x["apertureFluxStd"])]
            sky = x.get("skyCoverage") or []
            print(f"  {d:60s} source {x['sourceCoverage'][0]:.2f}/{x['sourceCoverage'][1]:.2f}"
                  f"  sky {'/'.join(f'{v:.2f}' for v in sky) or '-':9s}"
                  f"  chi2 {x['reducedChiSquaredOfMean']:.3f}  flux z {' '.join(f'{v:+.1f}' for v in z)}"
                  f"  {x['seconds']:.0f} s")


if __name__ == "__main__":
    main(sys.argv[1:])
