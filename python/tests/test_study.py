"""`tweedie.study` on a noise sweep with a closed-form posterior: prior x ~ N(0, I) on 16×16, an
identity operator (a 1×1 PSF stamp) and σ ∈ {0.1, 1}, sampled exactly. Per pixel the posterior is
N(y / (1 + σ²), σ² / (1 + σ²)); the returned table and each case's maps are checked against it."""
from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits

import tweedie

K = 32
SPEC = f"""\
name: exact-noise
prior: "mixture:n=16,weights=1,means=0,variances=1"
truths: truths.fits
fixed: {{psf: gaussian, psf_fwhm: 0.05, psf_size: 1, psf_pixel_scale: 1, sampler: exact, samples: {K}, batch: 8, seed: 4}}
grid: {{sigma: [0.1, 1.0], truth: [0]}}
"""


def test_a_noise_sweep_matches_the_closed_form(tmp_path):
    truths = np.random.default_rng(5).normal(size=(1, 1, 16, 16)).astype(np.float32)
    fits.writeto(tmp_path / "truths.fits", truths)
    (tmp_path / "study.yaml").write_text(SPEC)
    r = tweedie.study(tmp_path / "study.yaml", output=tmp_path / "out", by="sigma", scores="aperture_variance_ratio")
    assert r.results is not None and len(r.results) == 2 and "aperture_variance_ratio" in r.report
    for row in r.results:
        sigma = float(row["sigma"])
        post_var = sigma ** 2 / (1 + sigma ** 2)
        case = r.case(int(row["case"]))
        # The table row is the case's summary.
        assert float(row["aperture_variance_ratio"]) == pytest.approx(case.scores["apertureVarianceRatio"], rel=1e-9)
        # Variance ratio = posterior / prior variance (prior 1; its map from exact prior draws).
        ratio = case.variance_ratio[0].data.astype(float)
        assert ratio.mean() == pytest.approx(post_var, rel=0.08), (sigma, ratio.mean(), post_var)
        # Mean of K exact draws about y / (1 + σ²).
        y = fits.getdata(case.directory.parent / "observation.fits").astype(float).squeeze()
        mean = case.mean[0].data.astype(float).squeeze()
        z = (mean - y / (1 + sigma ** 2)) / np.sqrt(post_var / K)
        assert 0.7 < np.mean(z ** 2) < 1.35 and np.abs(z).max() < 5, (sigma, np.mean(z ** 2))
        assert case.summary["run"]["noise"]["sigma"] == [pytest.approx(sigma)]
