"""Radio-prior evaluation: sources found by a simple detection + Gaussian fit in two sets of
sky images, and the two-sample KS distances of their statistics (issue 6, "Radio prior
evaluation"; target D ≤ 0.15 each).

Detection (per image, Jy/px, 0.1″/px):
  1. threshold t = max(5 σ, --min-peak) with σ = 1.4826 · MAD of the whole image (the skies
     are sparse, so the MAD is the background's; 0 for noiseless generator skies) and
     --min-peak = 2e-7 Jy/px (0.29 × the faintest possible source peak, a 0.05 mJy source of
     0.8″ × 0.8″ FWHM: 6.9e-7 Jy/px);
  2. peaks: pixels above t that are the maximum of their 5 × 5 neighbourhood;
  3. one joint least-squares fit of an elliptical Gaussian per peak (flux, centre within
     ±3 px of the peak, σ_major, σ_minor ∈ [0.5, 12] px, position angle) to the whole image,
     the model pixel-integrated by 2 × 2 sub-sampling, fitted on the pixels within
     12 px of a peak (analytic Jacobian). Fitted sources with flux below
     --min-flux (1e-6 Jy) are dropped.
Statistics: n_sources per image; per source flux_mJy, fwhm_major_arcsec, fwhm_minor_arcsec.
On noiseless generator skies the detection recovers every source (see tests).

Usage:
  python evaluate_radio.py A B [--space physical|network] [--json out.json]
"""

from __future__ import annotations

import argparse
import math
import sys

import numpy as np

import evaluation
import radio_skies

SUB = 2
FWHM_PER_SIGMA = 2 * math.sqrt(2 * math.log(2))
PER_SOURCE = ["flux_mJy", "fwhm_major_arcsec", "fwhm_minor_arcsec"]


def _model_and_jacobian(p, xx, yy):
    """Sum of elliptical Gaussians at sub-samples xx, yy ([pixel][sub]) averaged per pixel, and
    d(model)/d(params) ([pixel][param]). Per source: flux f, centre x0, y0, σ_a, σ_b, angle θ."""
    n = len(p) // 6
    img = np.zeros(xx.shape[0])
    jac = np.zeros((xx.shape[0], len(p)))
    for k in range(n):
        f, x0, y0, sa, sb, th = p[6 * k:6 * k + 6]
        c, s = math.cos(th), math.sin(th)
        dx, dy = xx - x0, yy - y0
        u, v = c * dx + s * dy, -s * dx + c * dy
        e = np.exp(-0.5 * ((u / sa) ** 2 + (v / sb) ** 2)) / (2 * math.pi * sa * sb)
        g = f * e
        img += g.mean(axis=1)
        jac[:, 6 * k] = e.mean(axis=1)
        jac[:, 6 * k + 1] = (g * (u * c / sa ** 2 - v * s / sb ** 2)).mean(axis=1)
        jac[:, 6 * k + 2] = (g * (u * s / sa ** 2 + v * c / sb ** 2)).mean(axis=1)
        jac[:, 6 * k + 3] = (g * (u * u / sa ** 3 - 1 / sa)).mean(axis=1)
        jac[:, 6 * k + 4] = (g * (v * v / sb ** 3 - 1 / sb)).mean(axis=1)
        jac[:, 6 * k + 5] = (g * u * v * (1 / sb ** 2 - 1 / sa ** 2)).mean(axis=1)
    return img, jac


def detect(img: np.ndarray, min_peak: float = 2e-7, min_flux: float = 1e-6) -> list[dict]:
    """Sources in one [H][W] sky (Jy/px): list of {x, y, flux_Jy, sigma_major_px, sigma_minor_px, pa}."""
    from scipy.ndimage import maximum_filter
    from scipy.optimize import least_squares
    img = np.asarray(img, dtype=np.float64)
    sigma = 1.4826 * np.median(np.abs(img - np.median(img)))
    t = max(5 * sigma, min_peak)
    peaks = np.argwhere((img > t) & (img == maximum_filter(img, size=5, mode="constant", cval=-np.inf)))
    if len(peaks) == 0:
        return []
    peaks = peaks[np.argsort(-img[peaks[:, 0], peaks[:, 1]])][:20]
    h, w = img.shape
    yi, xi = np.mgrid[:h, :w]
    near = np.zeros((h, w), dtype=bool)
    for (py, px) in peaks:
        near |= (yi - py) ** 2 + (xi - px) ** 2 <= 12 ** 2
    sub = (np.arange(SUB) + 0.5) / SUB - 0.5
    sy, sx = np.meshgrid(sub, sub, indexing="ij")
    xx = xi[near][:, None] + sx.ravel()[None]
    yy = yi[near][:, None] + sy.ravel()[None]
    data = img[near]
    p0, lo, hi = [], [], []
    for (py, px) in peaks:
        pk = img[py, px]
        p0 += [pk * 2 * math.pi * 2.5 ** 2, px, py, 2.5, 2.0, 0.0]
        lo += [0.0, px - 3, py - 3, 0.5, 0.5, -math.pi]
        hi += [np.inf, px + 3, py + 3, 12.0, 12.0, math.pi]
    scale = img.max()
    sol = least_squares(lambda p: (_model_and_jacobian(p, xx, yy)[0] - data) / scale, p0,
                        jac=lambda p: _model_and_jacobian(p, xx, yy)[1] / scale,
                        bounds=(lo, hi), x_scale="jac", max_nfev=200)
    out = []
    for k in range(len(peaks)):
        f, x0, y0, sa, sb, th = sol.x[6 * k:6 * k + 6]
        if f < min_flux:
            continue
        if sb > sa:
            sa, sb, th = sb, sa, th + math.pi / 2
        out.append({"x": float(x0), "y": float(y0), "flux_Jy": float(f), "sigma_major_px": float(sa),
                    "sigma_minor_px": float(sb), "pa": float(math.remainder(th, math.pi))})
    return out


def measure_set(images: np.ndarray, processes: int = 1, **kw) -> dict:
    found = evaluation.parallel_map(_detect_one, [x[0] for x in images], processes) if not kw else \
        [detect(x[0], **kw) for x in images]
    px = radio_skies.PIXEL_SCALE_ARCSEC
    return {
        "n_sources": np.array([len(f) for f in found], dtype=np.float64),
        "flux_mJy": np.array([s["flux_Jy"] * 1e3 for f in found for s in f]),
        "fwhm_major_arcsec": np.array([s["sigma_major_px"] * FWHM_PER_SIGMA * px for f in found for s in f]),
        "fwhm_minor_arcsec": np.array([s["sigma_minor_px"] * FWHM_PER_SIGMA * px for f in found for s in f]),
        "sources": found,
    }


def _detect_one(x):
    return detect(x)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="KS comparison of two radio sky sets (detected sources).")
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--space", choices=["physical", "network"], default="physical",
                    help="network: inputs are in network space u; mapped back with the γ-root transform")
    ap.add_argument("--processes", type=int, default=1)
    ap.add_argument("--json")
    ap.add_argument("--cache-b", action="store_true",
                    help="keep B's statistics beside it (B.stats.json, keyed by B's SHA-256) and reuse them")
    a = ap.parse_args(argv)

    def images(p):
        x = evaluation.load_images(p, 1)
        return radio_skies.to_physical(x) if a.space == "network" else x

    def measure(x):
        return measure_set(x, a.processes)

    settings = {"evaluator": "evaluate_radio", "script_sha256": evaluation.file_sha256(__file__),
                "generator_version": radio_skies.GENERATOR_VERSION, "space": a.space}
    stats = [measure(images(a.a)),
             evaluation.measured_statistics(a.b, images, measure, settings, cache=a.cache_b)]
    names = ["n_sources"] + PER_SOURCE
    rows = evaluation.ks_table(stats[0], stats[1], names)
    evaluation.print_table(rows, "A", "B")
    if a.json:
        evaluation.write_json(a.json, {"a": a.a, "b": a.b, "ks": rows,
                                       "sources": {"a": stats[0]["sources"], "b": stats[1]["sources"]}})
    return 0


if __name__ == "__main__":
    sys.exit(main())
