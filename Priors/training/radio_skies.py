"""Seeded radio sky models like paper 000's (§2), with its γ-root normalisation (§3.1, Eq. 1–2).

Training data for Tweedie's radio-sky prior (issue 6, item 3). Paper 000's sky models
(CASA simalma, ALMA Band 6) are 2-D elliptical Gaussians on a zero background, 0.1″/px;
we draw 64 × 64 sky models of the same kind.

Conventions
-----------
* Image: 64 × 64 pixels, one channel (continuum), array [1][y][x], x fastest; pixel i
  covers [i − ½, i + ½) in 0-based pixel-centre coordinates.
* Pixel scale: PIXEL_SCALE_ARCSEC = 0.1″ per pixel (field 6.4″ × 6.4″). Why 0.1″: it is
  paper 000's sampling (its 512 × 512 sky models at 0.1″/px, beam 0.89″ × 0.82″ ≈ 8.5 px),
  so sources of 0.4–0.8″ FWHM span 4–8 px — resolved, so that source sizes can be measured
  on samples (at 0.2″/px a 0.4″ source would be 2 px) — and paper 000's γ = 2 and
  normalisation constant, tuned at this sampling, carry over unchanged. A 64-px grid at
  0.1″ reaches |u| ≤ 1/(2·0.1″) ≈ 1.03 Mλ, beyond ALMA baselines up to ~1.3 km at 230 GHz
  (Cycle 10 C-1 … C-4), so the UV operator sees the full coverage of the compact configs.
* Unit: Jy per pixel (a CASA sky model's unit), float32; every pixel ≥ 0.

Distributions (per sky)
-----------------------
* Number of sources N ~ uniform integer on {0, 1, 2, 3, 4, 5} (one sky in six is empty,
  as paper 000's set includes skies without sources).
* Per source: integrated flux S ~ log-uniform on [0.05, 0.5] mJy; two FWHMs drawn
  independently ~ U(0.4″, 0.8″), the larger is the major axis, the smaller the minor;
  position angle ~ U(0, π); centre uniform on [8, 56] px in x and y (a 0.8″ margin
  = 2.35 σ of the widest source, so ≥ 98 % of each source's flux lies in the image),
  redrawn (up to 1000 tries) until it is ≥ 1.0″ (10 px) from every earlier source so
  that sources stay distinct (detection-based evaluation counts them).
* Each source is an elliptical Gaussian integrated over each pixel (5 × 5 midpoint
  sub-samples; σ ≥ 1.7 px, so the rule's error is < 1e-4 of the flux).

Normalisation (paper 000 Eq. 1–2 with γ = 2; Tweedie `GammaRootTransform(gamma, maxValue)`):
    u = 2·(x / c)^{1/γ} − 1,   γ = 2,   c = 2.96e-5 Jy/px
c is paper 000's constant (the maximum pixel of its training set). The brightest
possible pixel here (0.5 mJy, 0.4″ × 0.4″) is ≈ 2.7e-5 Jy/px, so u ∈ [−1, ≈ 0.92]; the
empty background is u = −1.

Splits (by sky index; SeedSequence([NAMESPACE, index])): train [0, 1 000 000),
heldout [1 000 000, 1 100 000), heldout2 [1 100 000, 1 200 000).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from dataclasses import dataclass

import numpy as np

IMAGE_SIZE = 64
PIXEL_SCALE_ARCSEC = 0.1
BANDS = ("ALMA-B6-230GHz",)
NAMESPACE = 20261122
GENERATOR_VERSION = 1
SPLITS = {
    "train": (0, 1_000_000),
    "heldout": (1_000_000, 1_100_000),
    "heldout2": (1_100_000, 1_200_000),
}
MAX_SOURCES = 5
FLUX_RANGE_JY = (0.05e-3, 0.5e-3)
FWHM_RANGE_ARCSEC = (0.4, 0.8)
MARGIN_PX = 8.0
MIN_SEPARATION_PX = 10.0
SUBSAMPLES = 5

GAMMA = 2.0
MAX_VALUE = 2.96e-5      # Jy/px, paper 000 §3.1


@dataclass(frozen=True)
class Source:
    x_px: float
    y_px: float
    flux_jy: float
    fwhm_major_arcsec: float
    fwhm_minor_arcsec: float
    position_angle_rad: float   # of the major axis, counter-clockwise from +x


def sky_rng(index: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([NAMESPACE, int(index)]))


def draw_sources(index: int) -> list[Source]:
    rng = sky_rng(index)
    n = int(rng.integers(0, MAX_SOURCES + 1))
    out: list[Source] = []
    lo, hi = MARGIN_PX, IMAGE_SIZE - MARGIN_PX
    for _ in range(n):
        flux = math.exp(rng.uniform(math.log(FLUX_RANGE_JY[0]), math.log(FLUX_RANGE_JY[1])))
        a, b = rng.uniform(*FWHM_RANGE_ARCSEC, size=2)
        pa = rng.uniform(0, math.pi)
        for _try in range(1000):
            x, y = rng.uniform(lo, hi, size=2)
            if all(math.hypot(x - s.x_px, y - s.y_px) >= MIN_SEPARATION_PX for s in out):
                break
        else:
            raise RuntimeError(f"sky {index}: could not place source {len(out) + 1} after 1000 tries")
        out.append(Source(float(x), float(y), float(flux), float(max(a, b)), float(min(a, b)), float(pa)))
    return out


def render(sources: list[Source], n: int = IMAGE_SIZE, scale: float = PIXEL_SCALE_ARCSEC) -> np.ndarray:
    """Float32 [1][n][n] sky in Jy/px: pixel-integrated elliptical Gaussians."""
    k = SUBSAMPLES
    sub = (np.arange(k) + 0.5) / k - 0.5
    grid = (np.arange(n)[:, None] + sub[None, :]).reshape(-1)       # n·k sub-pixel centres
    yy, xx = np.meshgrid(grid, grid, indexing="ij")
    img = np.zeros((n * k, n * k), dtype=np.float64)
    f2s = 1.0 / (2 * math.sqrt(2 * math.log(2)))
    for s in sources:
        sa = s.fwhm_major_arcsec * f2s / scale
        sb = s.fwhm_minor_arcsec * f2s / scale
        c, si = math.cos(s.position_angle_rad), math.sin(s.position_angle_rad)
        dx, dy = xx - s.x_px, yy - s.y_px
        xp = c * dx + si * dy
        yp = -si * dx + c * dy
        img += s.flux_jy / (2 * math.pi * sa * sb) * np.exp(-0.5 * ((xp / sa) ** 2 + (yp / sb) ** 2))
    img = img.reshape(n, k, n, k).mean(axis=(1, 3))
    return img[None].astype(np.float32)


def sky(index: int) -> np.ndarray:
    return render(draw_sources(index))


def generate(indices, processes: int = 1) -> np.ndarray:
    """[N][1][64][64] float32 skies (Jy/px); `processes` is accepted for symmetry with galaxies."""
    return np.stack([sky(int(i)) for i in indices]) if len(indices) else np.zeros((0, 1, IMAGE_SIZE, IMAGE_SIZE),
                                                                                 np.float32)


def catalogue(indices) -> list[dict]:
    rows = []
    for i in indices:
        for s in draw_sources(int(i)):
            rows.append({"sky": int(i), **s.__dict__})
    return rows


def split_indices(split: str, count: int, start: int = 0) -> range:
    lo, hi = SPLITS[split]
    if count < 0 or lo + start + count > hi:
        raise ValueError(f"split '{split}' holds indices [{lo}, {hi}); {start}+{count} do not fit")
    return range(lo + start, lo + start + count)


# --- pixel transform (mirrors Sources/TweedieCore/PixelTransform.swift GammaRootTransform) ---

def to_network(x):
    r = np.asarray(x, dtype=np.float64) / MAX_VALUE
    return 2 * np.sign(r) * np.abs(r) ** (1 / GAMMA) - 1


def to_physical(u):
    v = (np.asarray(u, dtype=np.float64) + 1) / 2
    return MAX_VALUE * np.sign(v) * np.abs(v) ** GAMMA


def pixel_transform_config() -> dict:
    return {"type": "gamma-root", "gamma": GAMMA, "max": MAX_VALUE}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--split", choices=sorted(SPLITS), default="heldout")
    ap.add_argument("--count", type=int, default=500)
    ap.add_argument("--start", type=int, default=0)
    ap.add_argument("--out", help="output .npy or .fits ([N][1][64][64], Jy/px)")
    ap.add_argument("--stats", action="store_true", help="print pixel statistics and exit")
    a = ap.parse_args(argv)
    idx = split_indices(a.split, a.count, a.start)
    imgs = generate(idx)
    if a.stats:
        print("max pixel %.4g Jy/px (c = %.3g); u range [%.3f, %.3f]"
              % (imgs.max(), MAX_VALUE, to_network(imgs).min(), to_network(imgs).max()))
        return 0
    if not a.out:
        ap.error("--out is required")
    from galaxies import write_images
    write_images(a.out, imgs, {"split": a.split, "start": a.start, "genver": GENERATOR_VERSION,
                               "cdelt": PIXEL_SCALE_ARCSEC, "bunit": "Jy/pixel"})
    print(f"wrote {len(imgs)} skies ({a.split} [{a.start}, {a.start + a.count})) to {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
