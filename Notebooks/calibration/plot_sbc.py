"""Rank histograms of a simulation-based calibration run (`tweedie calibrate` with an sbc: spec).

Usage: python3 Notebooks/calibration/plot_sbc.py DIR   → DIR/sbc.png

One row per SNR scale. Panels: the pooled rank histogram of every source pixel and of every sky
pixel (all values of all truths, K + 1 ranks; the grey band is the 99 % range of a bin count
under uniform ranks, ignoring the correlation of pixels within an image, so it is a guide only),
and the one-rank-per-truth histograms the χ² tests use for source pixels, sky pixels and the
aperture flux of each band (expected counts dashed, p-values in the titles). A calibrated sampler
gives flat histograms; a ∪ shape is over-confidence, a ∩ shape under-confidence, a slope bias.
"""
import csv
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from scipy.stats import binom  # noqa: E402


def num(x):
    """sbc.json writes NaN as the string "nan"."""
    return float(x)


def main(d):
    report = json.load(open(os.path.join(d, "sbc.json")))
    rows = list(csv.DictReader(open(os.path.join(d, "sbc_ranks.csv"))))
    scales = report["scales"]
    bands = report["metadata"].get("bands", "").split(",")
    nflux = len(scales[0]["apertureFlux"])
    names = bands if len(bands) == nflux and all(bands) else [f"band {b}" for b in range(nflux)]
    ncol = 4 + nflux
    fig, axes = plt.subplots(len(scales), ncol, figsize=(2.6 * ncol, 2.6 * len(scales)), squeeze=False)
    for i, s in enumerate(scales):
        k = s["samples"]
        def series(stat):
            sel = [r for r in rows if float(r["scale"]) == s["scale"] and r["statistic"] == stat]
            return [int(r["rank"]) for r in sel], [int(r["count"]) for r in sel], [float(r["expected"]) for r in sel]
        for j, (stat, title) in enumerate([("source_pixels_pooled", "source pixels, pooled"),
                                           ("sky_pixels_pooled", "sky pixels, pooled")]):
            ax = axes[i][j]
            x, c, e = series(stat)
            n = sum(c)
            if n:
                lo, hi = binom.ppf(0.005, n, 1 / (k + 1)), binom.ppf(0.995, n, 1 / (k + 1))
                ax.axhspan(lo, hi, color="0.85")
            ax.bar(x, c, width=1.0, color="C0")
            ax.set_title(f"×{s['scale']:g}: {title}", fontsize=8)
            ax.set_xlabel(f"rank of truth among {k} samples", fontsize=7)
        tests = [("source_pixel_one_per_truth_bins", "source pixel / truth", s["sourcePixels"]),
                 ("sky_pixel_one_per_truth_bins", "sky pixel / truth", s["skyPixels"])]
        tests += [(f"aperture_flux_band{b}_bins", f"aperture flux {names[b]}", s["apertureFlux"][b]) for b in range(nflux)]
        for j, (stat, title, t) in enumerate(tests):
            ax = axes[i][2 + j]
            x, c, e = series(stat)
            ax.bar(x, c, width=0.9, color="C1")
            ax.plot(x, e, "k--", lw=1)
            ax.set_title(f"{title}\np = {num(t['pValue']):.3g}", fontsize=8)
            ax.set_xlabel(f"rank bin ({t['bins']} bins)", fontsize=7)
        axes[i][0].set_ylabel("count", fontsize=8)
    cov = "; ".join(f"×{s['scale']:g}: 68/95 % source {num(s['sourceCoverage'][0]['mean']):.2f}/{num(s['sourceCoverage'][1]['mean']):.2f}, "
                    f"sky {num(s['skyCoverage'][0]['mean']):.2f}/{num(s['skyCoverage'][1]['mean']):.2f} "
                    f"(expected {num(s['expectedCoverage'][0]):.2f}/{num(s['expectedCoverage'][1]):.2f}; {s['truths']} truths)" for s in scales)
    fig.suptitle(f"SBC: {report['metadata'].get('sampler', '')[:110]}\n{cov}", fontsize=8)
    fig.tight_layout()
    out = os.path.join(d, "sbc.png")
    fig.savefig(out, dpi=110)
    print(out)


if __name__ == "__main__":
    main(sys.argv[1])
