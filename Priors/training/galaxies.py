"""Seeded GalSim generator of 3-band (g, r, i) parametric galaxies in physical units.

Training data for Tweedie's galaxy prior (issue 6, item 2; DESIGN §4.4). Paper 003 §2
trains on idealised TNG100 images at a fixed physical scale (0.4 kpc/px, g, r, i,
asinh stretch, random shifts against mode collapse); TNG images cannot be downloaded
here, so this module draws parametric galaxies with the same conventions instead.

Conventions
-----------
* Image: 64 × 64 pixels, array order [band][y][x] with bands (g, r, i); x is the fast
  axis (FITS NAXIS1). Pixel (0, 0) is the first stored pixel; pixel i covers
  [i − ½, i + ½) in 0-based pixel-centre coordinates.
* Physical pixel scale: PIXEL_SCALE_KPC = 0.6 kpc per pixel (field 38.4 kpc). All
  profile parameters are in kpc and GalSim draws with scale = 0.6 (kpc/px), with the
  pixel response (method 'auto'), so pixel values are fluxes per pixel.
* Flux unit: per-image normalisation. Each image is divided by the sum of its r-band
  pixels, so the r-band stamp sums to exactly 1 and g, i carry the colour
  (the flux scale of an observation is estimated from the data, DESIGN §4.4).
* The nominal centre is pixel (32, 32) (0-based, = n/2, the DESIGN §2 convention);
  every galaxy is shifted from it by a random offset (below).

Why 0.6 kpc/px (observed cutout m(z, p) = round(n·s/D_A(z)/p), flat ΛCDM H0 = 67.66,
Ωm = 0.30966, p = 0.168″/px, n = 64; table from `python galaxies.py --m-table`):

    z      0.05  0.1  0.15  0.2  0.3  0.4  0.5  0.7  0.85  1.0
    m(z)    226  120    85   67   50   41   36   31    29   28

  - the 38.4 kpc field holds the largest disks (r_half = 8 kpc: 90 % of the light
    within 18.5 kpc) while 1 kpc galaxies still span ~3 pixels across their half-light
    diameter;
  - at z ≈ 0.2 (the demo) m ≈ n: the redshift resampling is nearly 1:1;
  - the prior must upsample by ≤ 2 (m ≥ 32) up to z ≈ 0.65 and by 2.3 at z = 1,
    matching paper 003's finding that reconstructions become prior-dominated
    beyond z ≈ 0.7 (upsampling > 2);
  - at z = 0.05 the observation's pixels are 3.5× finer than the prior's but the
    0.7″ seeing (0.71 kpc) is already ~1 prior pixel: the prior loses little of what
    the data resolve, but deconvolution cannot gain resolution there.

Distributions (per galaxy; all independent unless stated)
---------------------------------------------------------
* Disk half-light radius r_d [kpc]: log-normal, median 3.5, σ(ln r_d) = 0.45,
  truncated to [1.0, 8.0] by rejection. (The galaxy's total circular half-light radius,
  bulge included and measured by evaluate_galaxy.py, is smaller: see README.md.)
* Bulge-to-total flux ratio (r band) B/T ~ Beta(1.2, 2.0)   (mean 0.375).
* Bulge: Sérsic index n_b uniform on {3.0, 3.5, 4.0, 4.5} (de Vaucouleurs-like;
  discrete so GalSim's Sérsic tables are cached), half-light radius
  r_b = r_d · U(0.2, 0.6) but ≥ 0.3 kpc, truncated at 4.5 r_b (as GalSim's COSMOS
  parametric bulges), projected axis ratio q_b ~ U(0.6, 1.0).
* Disk: GalSim InclinedExponential with face-on half-light radius r_d, inclination i
  with cos i ~ U(0, 1) (isotropic orientations), scale height / scale radius
  h/r ~ U(0.08, 0.15).
* Knots: GalSim RandomKnots with N_k ~ uniform integer on [5, 30] points drawn from a
  Gaussian of half-light radius r_d in the disk plane, projected like the disk
  (y · cos i), each rendered as a circular Gaussian clump of FWHM 0.5 kpc (pixel-
  integrated exactly with erf). Knot flux fraction of the disk light f_k ~ U(0, 0.4).
* Position angle φ ~ U(0, π), shared by bulge, disk and knots (GalSim rotate, counter-
  clockwise from +x towards +y).
* Centre offset (dx, dy) ~ U(−3, 3) px each, continuous: both a sub-pixel phase and a
  ±3 px shift (paper 003's random shifts against mode collapse, scaled to 64 px).
* r-band component fluxes: bulge B/T, smooth disk (1 − B/T)(1 − f_k),
  knots (1 − B/T) f_k.
* Colours, as flux ratios relative to r (from mean colours in mag, then per galaxy and
  component a jitter N(0, 0.05²) mag added to g − r and to r − i):
      bulge  g−r = 0.75, r−i = 0.37  →  g : r : i = 0.501 : 1 : 1.406   (old, red)
      disk   g−r = 0.40, r−i = 0.20  →  g : r : i = 0.692 : 1 : 1.202
      knots  g−r = −0.10, r−i = −0.15 →  g : r : i = 1.096 : 1 : 0.871  (young, bluest)

Splits (by galaxy index; each index seeds its own numpy SeedSequence([NAMESPACE, index]),
so a galaxy is the same whatever chunk or process draws it):
    train      [0, 1 000 000)
    heldout    [1 000 000, 1 100 000)   — evaluation and the demo observation
    heldout2   [1 100 000, 1 200 000)   — a second held-out set (generator-vs-generator checks)
Held-out galaxies are never in training because training only reads the train range.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from dataclasses import dataclass, asdict

import numpy as np

IMAGE_SIZE = 64
PIXEL_SCALE_KPC = 0.6
BANDS = ("g", "r", "i")
NAMESPACE = 20261121            # seeds of this generator: SeedSequence([NAMESPACE, index])
GENERATOR_VERSION = 1           # bump whenever a distribution or the rendering changes
SPLITS = {
    "train": (0, 1_000_000),
    "heldout": (1_000_000, 1_100_000),
    "heldout2": (1_100_000, 1_200_000),
}
CENTRE_SHIFT_PX = 3.0
KNOT_FWHM_KPC = 0.5
SERSIC_INDICES = (3.0, 3.5, 4.0, 4.5)

# Mean colours (mag) of each component: (g − r, r − i).
COLOURS_MAG = {"bulge": (0.75, 0.37), "disk": (0.40, 0.20), "knots": (-0.10, -0.15)}
COLOUR_JITTER_MAG = 0.05

# Pixel transform (Tweedie AsinhTransform): u = asinh(x / softening)·gain + offset.
# Chosen from the generator's pixel statistics (`python galaxies.py --transform-stats
# --split train --count 400`: per-image brightest pixel median 0.080, 99.9 % 0.43, max 0.44):
# softening 1e-3 ≈ 1 % of a typical galaxy's peak, like paper 003's asinh scale 0.01 on
# peak-normalised images (linear below it, logarithmic above); offset −1 puts the empty
# background at u = −1 and gain 0.29 puts x = 0.45 (above the 99.9 % brightest peak, 0.43) at u ≈ 0.97.
ASINH_SOFTENING = 1.0e-3
ASINH_GAIN = 0.29
ASINH_OFFSET = -1.0

COSMOLOGY = {"H0": 67.66, "Om0": 0.30966}   # flat ΛCDM (DESIGN §3, Planck 2018)
HSC_PIXEL_ARCSEC = 0.168


def flux_ratios(g_minus_r: float, r_minus_i: float) -> tuple[float, float, float]:
    """(g, r, i) fluxes relative to r for colours in magnitudes."""
    return (10 ** (-0.4 * g_minus_r), 1.0, 10 ** (0.4 * r_minus_i))


@dataclass(frozen=True)
class GalaxyParameters:
    index: int
    r_disk_kpc: float
    bulge_to_total: float
    sersic_n: float
    r_bulge_kpc: float
    q_bulge: float
    cos_inclination: float
    h_over_r: float
    n_knots: int
    knot_fraction: float
    position_angle_rad: float
    dx_px: float
    dy_px: float
    colours: tuple  # ((g−r, r−i) for bulge, disk, knots), jittered
    knot_seed: int


def galaxy_rng(index: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([NAMESPACE, int(index)]))


def draw_parameters(index: int) -> GalaxyParameters:
    """The parameters of galaxy `index`, from the distributions in the module docstring."""
    rng = galaxy_rng(index)
    while True:
        r_d = math.exp(math.log(3.5) + 0.45 * rng.standard_normal())
        if 1.0 <= r_d <= 8.0:
            break
    bt = float(rng.beta(1.2, 2.0))
    n_b = float(SERSIC_INDICES[rng.integers(len(SERSIC_INDICES))])
    r_b = max(r_d * rng.uniform(0.2, 0.6), 0.3)
    q_b = rng.uniform(0.6, 1.0)
    cos_i = rng.uniform(0.0, 1.0)
    h_over_r = rng.uniform(0.08, 0.15)
    n_k = int(rng.integers(5, 31))
    f_k = rng.uniform(0.0, 0.4)
    pa = rng.uniform(0.0, math.pi)
    dx, dy = rng.uniform(-CENTRE_SHIFT_PX, CENTRE_SHIFT_PX, size=2)
    colours = tuple(
        (COLOURS_MAG[c][0] + COLOUR_JITTER_MAG * rng.standard_normal(),
         COLOURS_MAG[c][1] + COLOUR_JITTER_MAG * rng.standard_normal())
        for c in ("bulge", "disk", "knots"))
    knot_seed = int(rng.integers(1, 2**31 - 1))
    return GalaxyParameters(index, r_d, bt, n_b, r_b, q_b, cos_i, h_over_r, n_k, f_k, pa,
                            float(dx), float(dy), colours, knot_seed)


def _render_knots(points_kpc: np.ndarray, fluxes: np.ndarray, cx: float, cy: float,
                  n: int, scale: float) -> np.ndarray:
    """Sum of circular Gaussians (FWHM KNOT_FWHM_KPC) at `points_kpc` (already projected and
    rotated, relative to the centre), integrated exactly over square pixels (separable erf)."""
    from scipy.special import erf
    sigma_px = KNOT_FWHM_KPC / (2 * math.sqrt(2 * math.log(2))) / scale
    edges = np.arange(n + 1, dtype=np.float64) - 0.5
    px = cx + points_kpc[:, 0] / scale
    py = cy + points_kpc[:, 1] / scale
    s = math.sqrt(2) * sigma_px
    ex = 0.5 * np.diff(erf((edges[None, :] - px[:, None]) / s), axis=1)   # [k][x]
    ey = 0.5 * np.diff(erf((edges[None, :] - py[:, None]) / s), axis=1)   # [k][y]
    return np.einsum("k,ky,kx->yx", fluxes, ey, ex)


def render(p: GalaxyParameters, n: int = IMAGE_SIZE, scale: float = PIXEL_SCALE_KPC) -> np.ndarray:
    """Float32 array [3][n][n] (g, r, i), r-band sum normalised to 1."""
    import galsim
    bt = p.bulge_to_total
    f_bulge, f_disk, f_knots = bt, (1 - bt) * (1 - p.knot_fraction), (1 - bt) * p.knot_fraction
    pa = p.position_angle_rad * galsim.radians
    # GalSim puts the profile centre at the image's true centre ((n+1)/2 1-based = n/2 − ½
    # 0-based); offset by ½ px more so that the nominal centre is pixel n/2 (0-based).
    offset = (0.5 + p.dx_px, 0.5 + p.dy_px)
    cx, cy = n / 2 + p.dx_px, n / 2 + p.dy_px
    comps = []
    if f_bulge > 0:
        bulge = galsim.Sersic(n=p.sersic_n, half_light_radius=p.r_bulge_kpc, trunc=4.5 * p.r_bulge_kpc,
                              flux=f_bulge)
        bulge = bulge.shear(q=p.q_bulge, beta=0 * galsim.degrees).rotate(pa)
        comps.append(bulge.drawImage(nx=n, ny=n, scale=scale, offset=offset).array.astype(np.float64))
    else:
        comps.append(np.zeros((n, n)))
    incl = math.acos(p.cos_inclination) * galsim.radians
    disk = galsim.InclinedExponential(incl, half_light_radius=p.r_disk_kpc, scale_h_over_r=p.h_over_r,
                                      flux=f_disk).rotate(pa)
    comps.append(disk.drawImage(nx=n, ny=n, scale=scale, offset=offset).array.astype(np.float64))
    if f_knots > 0:
        knots = galsim.RandomKnots(p.n_knots, half_light_radius=p.r_disk_kpc, flux=1.0,
                                   rng=galsim.BaseDeviate(p.knot_seed))
        pts = np.array(knots.points, dtype=np.float64).reshape(-1, 2)
        pts[:, 1] *= p.cos_inclination                              # project into the sky plane
        c, s = math.cos(p.position_angle_rad), math.sin(p.position_angle_rad)
        pts = pts @ np.array([[c, s], [-s, c]])                     # rotate counter-clockwise by φ
        fl = np.full(len(pts), f_knots / len(pts))
        comps.append(_render_knots(pts, fl, cx, cy, n, scale))
    else:
        comps.append(np.zeros((n, n)))
    out = np.zeros((3, n, n), dtype=np.float64)
    for comp, (gr, ri) in zip(comps, p.colours):
        w = flux_ratios(gr, ri)
        for b in range(3):
            out[b] += w[b] * comp
    out /= out[1].sum()
    return out.astype(np.float32)


def galaxy(index: int) -> np.ndarray:
    return render(draw_parameters(index))


def _chunk(indices) -> np.ndarray:
    import warnings
    warnings.filterwarnings("ignore", category=UserWarning)
    return np.stack([galaxy(i) for i in indices])


def generate(indices, processes: int = 1) -> np.ndarray:
    """Images of the given galaxy indices, [N][3][64][64] float32, identical for any `processes`."""
    indices = [int(i) for i in indices]
    if processes <= 1 or len(indices) < 64:
        return _chunk(indices)
    import multiprocessing as mp
    chunks = [indices[k:k + 32] for k in range(0, len(indices), 32)]
    with mp.get_context("spawn").Pool(processes) as pool:
        parts = pool.map(_chunk, chunks)
    return np.concatenate(parts)


def split_indices(split: str, count: int, start: int = 0) -> range:
    lo, hi = SPLITS[split]
    if count < 0 or lo + start + count > hi:
        raise ValueError(f"split '{split}' holds indices [{lo}, {hi}); {start}+{count} do not fit")
    return range(lo + start, lo + start + count)


# --- pixel transform (mirrors Sources/TweedieCore/PixelTransform.swift AsinhTransform) ---

def to_network(x):
    return np.arcsinh(np.asarray(x, dtype=np.float64) / ASINH_SOFTENING) * ASINH_GAIN + ASINH_OFFSET


def to_physical(u):
    return ASINH_SOFTENING * np.sinh((np.asarray(u, dtype=np.float64) - ASINH_OFFSET) / ASINH_GAIN)


def pixel_transform_config() -> dict:
    return {"type": "asinh", "softening": ASINH_SOFTENING, "gain": ASINH_GAIN, "offset": ASINH_OFFSET}


def m_table(redshifts=(0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.7, 0.85, 1.0),
            pixel_arcsec: float = HSC_PIXEL_ARCSEC, scale_kpc: float = PIXEL_SCALE_KPC,
            n: int = IMAGE_SIZE) -> list[dict]:
    """m(z, p) = round(n·s / D_A(z) / p) with astropy's flat ΛCDM (H0 = 67.66, Ωm = 0.30966)."""
    from astropy.cosmology import FlatLambdaCDM
    import astropy.units as u
    cosmo = FlatLambdaCDM(H0=COSMOLOGY["H0"], Om0=COSMOLOGY["Om0"])
    rows = []
    for z in redshifts:
        da_kpc = cosmo.angular_diameter_distance(z).to(u.kpc).value
        kpc_per_obs_px = pixel_arcsec / 206264.80624709636 * da_kpc
        m = int(round(n * scale_kpc / kpc_per_obs_px))
        rows.append({"z": z, "D_A_Mpc": da_kpc / 1000, "kpc_per_arcsec": da_kpc / 206264.80624709636,
                     "kpc_per_obs_pixel": kpc_per_obs_px, "m": m, "upsampling": n / m})
    return rows


def write_images(path: str, images: np.ndarray, meta: dict) -> None:
    """Writes images [N][band][y][x] atomically as .npy, or as FITS (a 4-D primary array; FITS
    NAXIS1 = x) with `meta` as header cards."""
    tmp = path + ".tmp"
    if path.endswith(".npy"):
        with open(tmp, "wb") as f:
            np.save(f, images)
    else:
        from astropy.io import fits
        hdu = fits.PrimaryHDU(images)
        for k, v in meta.items():
            hdu.header[k[:8].upper()] = v
        hdu.writeto(tmp, overwrite=True, output_verify="silentfix")
    os.replace(tmp, path)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--split", choices=sorted(SPLITS), default="heldout")
    ap.add_argument("--count", type=int, default=500)
    ap.add_argument("--start", type=int, default=0, help="offset inside the split")
    ap.add_argument("--out", help="output .npy or .fits ([N][3][64][64], flux units of the module docstring)")
    ap.add_argument("--processes", type=int, default=1)
    ap.add_argument("--m-table", action="store_true", help="print the m(z, p) table for HSC and exit")
    ap.add_argument("--transform-stats", action="store_true",
                    help="print pixel statistics of --count galaxies (to choose the asinh stretch)")
    a = ap.parse_args(argv)
    if a.m_table:
        print("| z | D_A [Mpc] | kpc/″ | kpc per 0.168″ px | m (64 px at 0.6 kpc/px) | upsampling n/m |")
        print("|---|---|---|---|---|---|")
        for r in m_table():
            print(f"| {r['z']} | {r['D_A_Mpc']:.1f} | {r['kpc_per_arcsec']:.3f} | {r['kpc_per_obs_pixel']:.3f} "
                  f"| {r['m']} | {r['upsampling']:.2f} |")
        return 0
    imgs = generate(split_indices(a.split, a.count, a.start), a.processes)
    if a.transform_stats:
        peak = imgs.reshape(len(imgs), -1).max(axis=1)
        q = np.percentile(peak, [0, 1, 50, 99, 99.9, 100])
        print("per-image max pixel (x): min, 1%, 50%, 99%, 99.9%, max =", " ".join(f"{v:.4g}" for v in q))
        u = to_network(imgs)
        print("network u: min %.3f max %.3f, fraction > 1: %.2e; median of per-image max u %.3f"
              % (u.min(), u.max(), (u > 1).mean(), np.median(u.reshape(len(u), -1).max(1))))
        return 0
    if not a.out:
        ap.error("--out is required")
    write_images(a.out, imgs, {"split": a.split, "start": a.start, "genver": GENERATOR_VERSION,
                               "kpcpix": PIXEL_SCALE_KPC})
    print(f"wrote {len(imgs)} galaxies ({a.split} [{a.start}, {a.start + a.count})) to {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
