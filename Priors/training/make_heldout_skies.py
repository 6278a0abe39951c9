"""Held-out radio skies for Tweedie's study 3 (paper 000 on simulated ALMA data, issue 7 item 6):
sky models of the radio generator (radio_skies.py) from its held-out split (indices 1 000 000 + k,
never in training), on the radio prior's grid (64 × 64, 0.1″/px, Jy/px), and their source catalogue.

Writes
  Notebooks/studies/radio/heldout_skies.fits   cube [N][1][64][64] float32 (NAXIS4 = N), BUNIT Jy/pixel,
                                               PIXSCALE = 0.1 (arcsec/px), SKYIDXk = generator index of image k
  Notebooks/studies/radio/heldout_catalogue.csv one row per source:
      sky                cube index k (0-based; the study's `truth` parameter)
      generator_index    radio_skies.py sky index
      source             index of the source within its sky
      x, y               0-based pixel coordinates of the source centre; pixel i covers [i − ½, i + ½),
                         x along NAXIS1 (fastest), y along NAXIS2 (radio_skies.py's convention)
      flux_jy            integrated flux, Jy
      fwhm_major_arcsec, fwhm_minor_arcsec   FWHMs of the elliptical Gaussian
      pa_deg             position angle of the major axis, degrees counter-clockwise from +x (pixel axes)

Run: python3 Priors/training/make_heldout_skies.py [--count 24]   (seeded; < 1 s per sky)

With --split heldout2 --name tuning it writes tuning_skies.fits / tuning_catalogue.csv instead: skies
of the second held-out split, for choosing sampler settings (DPS ζ) on data that the study's
evaluation skies never see.
"""
from __future__ import annotations

import argparse
import math
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import radio_skies  # noqa: E402

OUT_DIR = os.path.join(HERE, "..", "..", "Notebooks", "studies", "radio")
FIRST = radio_skies.SPLITS["heldout"][0] + 1000   # 1 001 000…: away from the indices the evaluation scripts use first


def main() -> int:
    from astropy.io import fits
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=24)
    ap.add_argument("--split", choices=["heldout", "heldout2"], default="heldout")
    ap.add_argument("--name", default="heldout", help="file names: NAME_skies.fits, NAME_catalogue.csv")
    args = ap.parse_args()
    offset = FIRST - radio_skies.SPLITS["heldout"][0] if args.split == "heldout" else 0
    idx = list(radio_skies.split_indices(args.split, args.count, start=offset))
    cube = radio_skies.generate(idx).astype(np.float32)          # [N][1][64][64]
    h = fits.Header()
    h["BUNIT"] = ("Jy/pixel", "sky model")
    h["PIXSCALE"] = (radio_skies.PIXEL_SCALE_ARCSEC, "arcsec per pixel")
    h["BAND1"] = radio_skies.BANDS[0]
    for k, i in enumerate(idx):
        h[f"SKYIDX{k}"] = (i, "radio_skies.py index (" + ("held-out" if args.split == "heldout" else "second held-out") + " split)")
    h["ORIGIN"] = "Priors/training/make_heldout_skies.py"
    os.makedirs(OUT_DIR, exist_ok=True)
    fits.writeto(os.path.join(OUT_DIR, f"{args.name}_skies.fits"), cube, h, overwrite=True)
    rows = ["sky,generator_index,source,x,y,flux_jy,fwhm_major_arcsec,fwhm_minor_arcsec,pa_deg"]
    for k, i in enumerate(idx):
        for j, s in enumerate(radio_skies.draw_sources(i)):
            rows.append(f"{k},{i},{j},{s.x_px:.6f},{s.y_px:.6f},{s.flux_jy:.9g},{s.fwhm_major_arcsec:.6f},"
                        f"{s.fwhm_minor_arcsec:.6f},{math.degrees(s.position_angle_rad):.4f}")
    with open(os.path.join(OUT_DIR, f"{args.name}_catalogue.csv"), "w") as f:
        f.write("\n".join(rows) + "\n")
    print(f"wrote {OUT_DIR}/{args.name}_skies.fits {cube.shape} and {args.name}_catalogue.csv ({len(rows) - 1} sources)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
