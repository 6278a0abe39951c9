"""Fixtures of the Python front end's tests: a small deconvolution problem with a closed-form
posterior, simulated here with numpy (independent of the Swift code).

The problem: x ~ N(0, I) on a 16×16 grid (the analytic prior `mixture:n=16,weights=1,means=0,
variances=1`, one Gaussian component), y = h ⊛ x + n + b with h a symmetric 3×3 binomial PSF
(written to psf.fits, centre at pixel (1, 1), periodic convolution), n ~ N(0, σ²) and a constant
sky b that the run is told to subtract. The exact posterior mean is the Wiener filter
X̂ = conj(H) Ŷ / (|H|² + σ²) in Fourier space, and every pixel's posterior variance is
mean_k σ² / (|H_k|² + σ²).
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

N, SIGMA, SKY = 16, 0.3, 2.5
PRIOR = "mixture:n=16,weights=1,means=0,variances=1"
REPO = Path(__file__).resolve().parents[2]


def psf_transfer() -> np.ndarray:
    """H: the DFT of the 3×3 PSF placed with its centre pixel at (0, 0) of the 16×16 grid."""
    psf = np.outer([1, 2, 1], [1, 2, 1]) / 16.0
    k = np.zeros((N, N))
    k[:3, :3] = psf
    return np.fft.fft2(np.roll(k, (-1, -1), (0, 1)))


def exact_posterior(y_sky_subtracted: np.ndarray) -> tuple[np.ndarray, float]:
    """Posterior mean image and per-pixel posterior variance of the problem above."""
    h = psf_transfer()
    s2 = SIGMA ** 2
    mean = np.real(np.fft.ifft2(np.conj(h) * np.fft.fft2(y_sky_subtracted) / (np.abs(h) ** 2 + s2)))
    return mean, float(np.mean(s2 / (np.abs(h) ** 2 + s2)))


@pytest.fixture(scope="session")
def problem(tmp_path_factory) -> dict:
    d = tmp_path_factory.mktemp("problem")
    rng = np.random.default_rng(20261207)
    truth = rng.normal(size=(N, N))
    psf = np.outer([1, 2, 1], [1, 2, 1]) / 16.0
    y = np.real(np.fft.ifft2(np.fft.fft2(truth) * psf_transfer())) + SIGMA * rng.normal(size=(N, N)) + SKY
    hdr = fits.Header()
    hdr["BUNIT"] = "adu"
    fits.writeto(d / "obs.fits", y.astype(np.float32), hdr)
    fits.writeto(d / "truth.fits", truth.astype(np.float32))
    fits.writeto(d / "psf.fits", psf.astype(np.float32))
    (d / "spec.yaml").write_text("chain:\n  - psf: {file: psf.fits, boundary: periodic}\n")
    return {"dir": d, "observation": d / "obs.fits", "truth": d / "truth.fits", "spec": d / "spec.yaml",
            "y": y.astype(np.float32).astype(float)}


@pytest.fixture(scope="session", autouse=True)
def binary_present():
    """The tests need a built binary ($TWEEDIE or the checkout's build): a missing one fails them."""
    import tweedie
    return tweedie.find_binary()


@pytest.fixture(scope="session")
def schema() -> dict:
    import json
    return json.loads((REPO / "docs" / "summary.schema.json").read_text())
