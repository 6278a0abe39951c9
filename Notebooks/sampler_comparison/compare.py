"""Side-by-side comparison of posterior runs of `tweedie sample` on the same observation
(issue 8: DPS against split-Gibbs on the neural galaxy prior and the demo observation).

Reads each run directory's mean.fits, std.fits, variance_ratio.fits and summary.json and writes
into OUT:
  comparison.png  one row per run: r-band mean (asinh stretch shared with the truth), r-band
                  posterior std, r-band variance ratio var_post / var_prior (log scale, shared),
                  and a last panel with the band-averaged radial profile of the variance ratio
                  (median in 2-px annuli around the image centre) of every run;
  scores.csv/.md  the scores of each summary.json (aperture variance ratio, median variance ratio,
                  reduced χ² of the mean and the median per-sample χ², PSNR, SSIM, coverage of the
                  truth by the 68 / 95 % intervals, seconds per sample, network evaluations).

Usage: python compare.py TRUTH.fits OUT RUN_DIR [RUN_DIR ...]   (run name = directory name)
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from astropy.io import fits  # noqa: E402
from matplotlib.colors import LogNorm  # noqa: E402

R_BAND = 1  # bands are (g, r, i)


def load(run: Path) -> dict:
    summary = json.loads((run / "summary.json").read_text())
    return {
        "name": run.name,
        "mean": fits.getdata(run / "mean.fits").astype(float),
        "std": fits.getdata(run / "std.fits").astype(float),
        "vr": fits.getdata(run / "variance_ratio.fits").astype(float),
        "summary": summary,
    }


def radial_profile(cube: np.ndarray, width: float, statistic) -> tuple[np.ndarray, np.ndarray]:
    """`statistic` of the finite values of a [band][y][x] cube in annuli of `width` px around the
    image centre, all bands together: (annulus centres, values)."""
    n = cube.shape[-1]
    y, x = np.mgrid[:n, :n]
    r = np.hypot(x - (n - 1) / 2, y - (n - 1) / 2)
    edges = np.arange(0, r.max() + width, width)
    centres, values = [], []
    for lo, hi in zip(edges[:-1], edges[1:]):
        v = cube[:, (r >= lo) & (r < hi)].ravel().astype(float)
        v = v[np.isfinite(v)]
        if v.size:
            centres.append((lo + hi) / 2)
            values.append(statistic(v))
    return np.array(centres), np.array(values)


def radial_median(vr: np.ndarray, width: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
    """Median variance ratio in 2-px annuli."""
    return radial_profile(vr, width, np.median)


def radial_coverage(run: dict, truth: np.ndarray, level: float = 0.68, width: float = 4.0):
    """Fraction of truth pixels (all bands) inside the Gaussian central interval mean ± z·std, in
    annuli of `width` px (the summary's own coverage is the same statistic over the whole image)."""
    from scipy.stats import norm

    z = norm.ppf(0.5 + level / 2)
    inside = np.abs(truth - run["mean"]) <= z * run["std"]
    return radial_profile(inside, width, np.mean)


def scores_row(run: dict) -> dict:
    s = run["summary"]
    sc, t = s["scores"], s["scores"].get("truth") or {}
    return {
        "run": run["name"],
        "sampler": s["run"]["samplerSettings"],
        "samples": s["samplesDrawn"],
        "aperture_vr": sc.get("apertureVarianceRatio"),
        "median_vr": sc.get("medianVarianceRatio"),
        "chi2_mean": sc["reducedChiSquaredOfMean"],
        "chi2_samples_median": sc["sampleReducedChiSquared"]["median"],
        "psnr_db": t.get("psnr"),
        "ssim": t.get("ssim"),
        "coverage68": t.get("coverage68"),
        "coverage95": t.get("coverage95"),
        "s_per_sample": s["secondsPerSample"],
        "network_evaluations_per_sample": s["run"].get("networkEvaluationsPerSample"),
    }


def fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def main(argv: list[str]) -> None:
    if len(argv) < 3:
        sys.exit(__doc__)
    truth = fits.getdata(argv[0]).astype(float)
    out = Path(argv[1])
    runs = [load(Path(p)) for p in argv[2:]]
    out.mkdir(parents=True, exist_ok=True)

    rows = [scores_row(r) for r in runs]
    with open(out / "scores.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    keys = list(rows[0])
    md = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    md += ["| " + " | ".join(fmt(r[k]) for k in keys) + " |" for r in rows]
    (out / "scores.md").write_text("\n".join(md) + "\n")

    # Shared stretches: asinh on the truth's r-band range for means; one log range for VR maps.
    peak = truth[R_BAND].max()
    soft = 0.02 * peak

    def stretch(img):
        return np.arcsinh(img / soft) / np.arcsinh(peak / soft)

    vr_all = np.concatenate([r["vr"][R_BAND].ravel() for r in runs])
    vr_all = vr_all[np.isfinite(vr_all) & (vr_all > 0)]
    lo, hi = np.percentile(vr_all, [1, 99.5])
    std_hi = max(np.percentile(r["std"][R_BAND], 99.5) for r in runs)

    fig, axes = plt.subplots(len(runs) + 1, 4, figsize=(13, 3.2 * (len(runs) + 1)))
    axes[0, 0].imshow(stretch(truth[R_BAND]), origin="lower", cmap="gray", vmin=0, vmax=1)
    axes[0, 0].set_title("truth (r, asinh)")
    axes[0, 1].axis("off")
    cov = axes[0, 2]
    prof = axes[0, 3]
    for i, (run, row) in enumerate(zip(runs, rows), start=1):
        s = run["summary"]["scores"]
        axes[i, 0].imshow(stretch(run["mean"][R_BAND]), origin="lower", cmap="gray", vmin=0, vmax=1)
        axes[i, 0].set_title(f"{run['name']}: mean (r)")
        im = axes[i, 1].imshow(run["std"][R_BAND], origin="lower", cmap="magma", vmin=0, vmax=std_hi)
        axes[i, 1].set_title("posterior std (r)")
        fig.colorbar(im, ax=axes[i, 1], fraction=0.046)
        vr = np.where(run["vr"][R_BAND] > 0, run["vr"][R_BAND], np.nan)
        im = axes[i, 2].imshow(vr, origin="lower", cmap="viridis", norm=LogNorm(vmin=lo, vmax=hi))
        ap = s["apertureRadius"]
        cx, cy = s["apertureCenter"]
        axes[i, 2].add_patch(plt.Circle((cx, cy), ap, fill=False, color="w", lw=0.8))
        axes[i, 2].set_title(f"variance ratio (r); aperture {s['apertureVarianceRatio']:.3g}")
        fig.colorbar(im, ax=axes[i, 2], fraction=0.046)
        for ax in axes[i, :3]:
            ax.set_xticks([]), ax.set_yticks([])
        r, v = radial_median(run["vr"])
        prof.plot(r, v, marker="o", ms=3, label=run["name"])
        r, c = radial_coverage(run, truth)
        cov.plot(r, c, marker="o", ms=3, label=run["name"])
        axes[i, 3].axis("off")
        axes[i, 3].text(0, 0.95, "\n".join([
            f"reduced χ² of mean   {row['chi2_mean']:.3f}",
            f"per-sample χ² (med.) {row['chi2_samples_median']:.3f}",
            f"PSNR {row['psnr_db']:.2f} dB   SSIM {row['ssim']:.3f}",
            f"coverage 68 / 95 %  {row['coverage68']:.2f} / {row['coverage95']:.2f}",
            f"median VR {row['median_vr']:.3g}",
            f"{row['samples']} samples, {row['s_per_sample']:.1f} s/sample",
        ]), va="top", family="monospace", fontsize=9, transform=axes[i, 3].transAxes)
    axes[0, 0].set_xticks([]), axes[0, 0].set_yticks([])
    prof.set_yscale("log")
    prof.set_xlabel("radius [prior px, 0.6 kpc]")
    prof.set_ylabel("median variance ratio (g, r, i)")
    prof.set_title("variance ratio, radial profile")
    prof.legend()
    cov.axhline(0.68, color="k", lw=0.8, ls="--")
    cov.set_ylim(0, 1)
    cov.set_xlabel("radius [prior px]")
    cov.set_ylabel("truth inside 68 % interval")
    cov.set_title("68 % coverage (Gaussian), radial")
    cov.legend()
    fig.tight_layout()
    fig.savefig(out / "comparison.png", dpi=90)
    print(f"wrote {out / 'comparison.png'}, {out / 'scores.csv'}, {out / 'scores.md'}")
    print((out / "scores.md").read_text())


if __name__ == "__main__":
    main(sys.argv[1:])
