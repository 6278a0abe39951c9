#!/usr/bin/env python3
"""Independent reference values (astropy / numpy) for Tweedie's statistics,
display-stretch and `tweedie info` tests; writes reference_values.json.

Run from the repository root (needs ../shared/data/real/m51_kpno_B_devpix.fits):
    python3 Tests/TweedieCoreTests/Fixtures/make_reference_values.py
Made with astropy 8.0.2.

1. zscale limits (astropy.visualization.ZScaleInterval, defaults: 1000 samples,
   contrast 0.25, krej 2.5, max_reject 0.5, min_npixels 5, 5 iterations) of
   synthetic arrays defined by integer formulas the Swift tests rebuild exactly:
   - "ramp_outliers": 5000 values, v[i] = (i * 37) % 1000 + (i % 7) * 0.25,
     v[i] = 1e6 for i % 499 == 0, NaN for i % 613 == 5;
   - "sky_sources":  4096 values (64 × 64), v = 100 + ((x * 13 + y * 29) % 17) - 8,
     plus 4000 on a 5 × 5 block at x, y in 20..24 and 30000 at (50, 10).
2. m51_kpno_B_devpix.fits (512 × 512 int16): numpy min, max, median, mean,
   1.4826 · MAD, NaN count; astropy sigma_clip (sigma 3, maxiters 10,
   cenfunc median, stdfunc mad_std) median and mad_std of the kept pixels;
   zscale limits.
"""
import json
import os

import numpy as np
from astropy.io import fits
from astropy.stats import sigma_clip, mad_std
from astropy.visualization import ZScaleInterval
import astropy

HERE = os.path.dirname(os.path.abspath(__file__))
M51 = os.path.join(HERE, "..", "..", "..", "..", "shared", "data", "real", "m51_kpno_B_devpix.fits")


def ramp_outliers():
    i = np.arange(5000)
    v = ((i * 37) % 1000 + (i % 7) * 0.25).astype(np.float32)
    v[i % 499 == 0] = 1e6
    v[i % 613 == 5] = np.nan
    return v


def sky_sources():
    y, x = np.mgrid[0:64, 0:64]
    v = (100 + ((x * 13 + y * 29) % 17) - 8).astype(np.float32)
    v[20:25, 20:25] = 4000
    v[10, 50] = 30000
    return v.ravel()


zs = ZScaleInterval()
out = {"generator": "make_reference_values.py", "astropy": astropy.__version__, "zscale": {}}
for name, arr in [("ramp_outliers", ramp_outliers()), ("sky_sources", sky_sources())]:
    z1, z2 = zs.get_limits(arr)
    out["zscale"][name] = [float(z1), float(z2)]

d = fits.getdata(M51).astype(np.float64)
med = float(np.median(d))
clipped = sigma_clip(d, sigma=3, maxiters=10, cenfunc="median", stdfunc="mad_std").compressed()
z1, z2 = zs.get_limits(d)
out["m51"] = {
    "shape": list(d.shape), "bitpix": 16,
    "min": float(d.min()), "max": float(d.max()), "median": med, "mean": float(d.mean()),
    "robust_sigma": float(1.4826 * np.median(np.abs(d - med))), "nan_count": int(np.isnan(d).sum()),
    "clipped_median": float(np.median(clipped)), "clipped_mad_std": float(mad_std(clipped)),
    "clipped_kept": int(clipped.size),
    "zscale": [float(z1), float(z2)],
}
with open(os.path.join(HERE, "reference_values.json"), "w") as f:
    json.dump(out, f, indent=1)
print(json.dumps(out, indent=1))
