"""`tweedie.calibrate` with the exact sampler: exact posterior draws cover the truth at the nominal
rates (the defining property the calibration measures), read back from the returned Table."""
from __future__ import annotations

import numpy as np

import tweedie

SPEC = """\
seed: 11
observations: 12
samples: 64
pixel_scale_arcsec: 1
priors:
  - name: gauss8
    spec: "gaussian:n=8,amplitude=1,slope=3,k0=0.3"
operators:
  - name: gpsf-periodic
    chain:
      - psf: {gaussian_fwhm: 2, size: 7, boundary: periodic}
noise:
  snr: [20]
samplers:
  - {kind: exact}
"""


def test_exact_draws_cover_at_the_nominal_rates(tmp_path):
    spec = tmp_path / "calibrate.yaml"
    spec.write_text(SPEC)
    r = tweedie.calibrate(spec, output=tmp_path / "out")
    assert r.table is not None and len(r.table) == 1 and len(r.cases) == 1
    row = r.table[0]
    # 12 observations × 64 pixels, correlated within an image: ±3 standard errors of the CLI's own
    # spread over observations, and never further than 0.08 from nominal.
    for level in (50, 68, 95):
        cov, se = float(row[f"coverage{level}"]), float(row[f"coverage{level}_se"])
        assert abs(cov - level / 100) < max(3 * se, 0.02) and abs(cov - level / 100) < 0.08, (level, cov, se)
    assert np.isfinite(float(row["seconds_per_sample"]))
