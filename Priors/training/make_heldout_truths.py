"""Held-out truth images for Tweedie's studies (issue 7): galaxies of the galaxy prior's
generator from the held-out split (indices 1 000 000 + k, never in training), on the prior
grid (64 × 64, 0.6 kpc/px, g, r, i), r-band sum = 1 (unit flux; a study scales them to a
magnitude). Writes Priors/Models/galaxy-gri-64/heldout.fits: a cube [N][3][64][64] (NAXIS4 = N)
with the generator index of image k in keyword GALIDXk.

Run: python3 Priors/training/make_heldout_truths.py [--count 12]   (seeded; ~1 s per galaxy)
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import galaxies  # noqa: E402

OUT = os.path.join(HERE, "..", "Models", "galaxy-gri-64", "heldout.fits")
FIRST = galaxies.SPLITS["heldout"][0] + 100   # 1 000 100…: disjoint from the demo galaxy (1 000 013)


def main() -> int:
    from astropy.io import fits
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=12)
    args = ap.parse_args()
    idx = [FIRST + k for k in range(args.count)]
    cube = np.stack([galaxies.galaxy(i) for i in idx]).astype(np.float32)
    h = fits.Header()
    h["BUNIT"] = ("", "unit flux: r-band sum = 1")
    for k, b in enumerate(galaxies.BANDS):
        h[f"BAND{k + 1}"] = b
    for k, i in enumerate(idx):
        h[f"GALIDX{k}"] = (i, "galaxies.py index (held-out split)")
    h["ORIGIN"] = "Priors/training/make_heldout_truths.py"
    fits.writeto(OUT, cube, h, overwrite=True)
    print(f"wrote {OUT}: {cube.shape}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
