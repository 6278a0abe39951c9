"""`tweedie.sample` on a problem with a closed-form posterior (conftest.py): the returned maps
against the exact posterior, summary.json against docs/summary.schema.json and against numbers
recomputed from the FITS maps written beside it, and the CLI's errors as Python exceptions."""
from __future__ import annotations

import subprocess

import jsonschema
import numpy as np
import pytest
from astropy.io import fits

import tweedie
from tweedie.binary import options
from conftest import N, PRIOR, SIGMA, SKY, exact_posterior, psf_transfer

K = 64


@pytest.fixture(scope="module")
def exact_run(problem, tmp_path_factory):
    out = tmp_path_factory.mktemp("exact") / "run"
    return tweedie.sample(prior=PRIOR, observation=problem["observation"], spec=problem["spec"], sigma=SIGMA,
                          background=SKY, sampler="exact", samples=K, batch=16, seed=3, truth=problem["truth"],
                          keep_samples=True, output=out)


def test_mean_and_std_match_the_exact_posterior(exact_run, problem):
    mean = exact_run.mean[0].data.astype(float).squeeze()
    std = exact_run.std[0].data.astype(float).squeeze()
    assert mean.shape == (N, N) and std.shape == (N, N)
    oracle, post_var = exact_posterior(problem["y"] - SKY)
    # The mean of K exact draws scatters about the posterior mean by sqrt(var / K) per pixel.
    z = (mean - oracle) / np.sqrt(post_var / K)
    assert 0.5 < np.mean(z ** 2) < 1.6, np.mean(z ** 2)
    assert np.abs(z).max() < 5, np.abs(z).max()
    # Sample variances (K − 1 dof) about the exact variance: their median within ±12 %.
    assert abs(np.median(std ** 2) / post_var - 1) < 0.12, (np.median(std ** 2), post_var)
    # A shifted PSF centre or an unsubtracted sky would move the mean by far more than its scatter.
    wrong, _ = exact_posterior(problem["y"])
    assert np.mean(((mean - wrong) / np.sqrt(post_var / K)) ** 2) > 25


def test_summary_follows_the_schema(exact_run, schema):
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft202012Validator(schema).validate(exact_run.summary)
    s = exact_run.summary
    assert s["run"]["noise"]["sigma"] == [SIGMA] and s["run"]["noise"]["units"]["sigma"] == "adu"
    assert s["run"]["noise"]["background"] == {"method": "given", "values": [SKY]}
    assert s["run"]["observation"]["unit"] == "adu"
    assert s["run"]["samplerRequest"]["kind"] == "exact" and s["samplesDrawn"] == K
    assert s["scores"]["truth"]["units"] == {"mse": "adu^2", "psnr": "dB"}


def test_summary_numbers_recomputed_from_the_maps(exact_run, problem):
    sc = exact_run.scores
    d = exact_run.directory
    # Reduced χ² of the mean: from residual.fits, and from mean.fits through the PSF, σ and sky.
    residual = fits.getdata(d / "residual.fits").astype(float).squeeze()
    assert sc["observationBands"][0]["usableValues"] == N * N == sc["usableValues"]
    assert np.sum(residual ** 2) / (N * N) == pytest.approx(sc["observationBands"][0]["reducedChiSquaredOfMean"], rel=1e-5)
    mean = exact_run.mean[0].data.astype(float).squeeze()
    model = np.real(np.fft.ifft2(np.fft.fft2(mean) * psf_transfer()))
    chi2 = np.sum(((problem["y"] - SKY - model) / SIGMA) ** 2) / (N * N)
    assert chi2 == pytest.approx(sc["reducedChiSquaredOfMean"], rel=1e-4)
    # Aperture variance ratio: variance_ratio.fits averaged over the default disk (radius n·30/256
    # px about the image centre), and its median; the band is observed, so the headline is it.
    ratio = exact_run.variance_ratio[0].data.astype(float).squeeze()
    yy, xx = np.mgrid[:N, :N]
    c, r = (N - 1) / 2, N * 30 / 256
    assert sc["apertureRadius"] == pytest.approx(r) and sc["apertureCenter"] == [c, c]
    disk = (xx - c) ** 2 + (yy - c) ** 2 <= r ** 2
    band = sc["priorBands"][0]
    assert band["observed"] is True
    assert band["apertureVarianceRatio"] == pytest.approx(ratio[disk].mean(), rel=1e-5)
    assert sc["apertureVarianceRatio"] == pytest.approx(ratio[disk].mean(), rel=1e-5)
    assert band["medianVarianceRatio"] == pytest.approx(np.median(ratio), rel=1e-5)
    # The prior's pixel variance is 1: the ratio is the posterior variance, ≈ std² (the prior map is
    # itself estimated from exact prior draws, so a few per cent apart).
    std = exact_run.std[0].data.astype(float).squeeze()
    assert np.median(ratio / std ** 2) == pytest.approx(1, abs=0.1)
    # Coverage: type-6 (Weibull) empirical quantiles of the kept samples, numpy's own.
    samples = exact_run.samples[0].data.astype(float).reshape(K, N, N)
    truth = fits.getdata(problem["truth"]).astype(float)
    for level, key in [(0.5, "coverage50"), (0.68, "coverage68"), (0.95, "coverage95")]:
        lo, hi = np.quantile(samples, [(1 - level) / 2, (1 + level) / 2], axis=0, method="weibull")
        inside = np.mean((truth >= lo) & (truth <= hi))
        assert sc["truth"][key] == pytest.approx(inside, abs=1.5 / (N * N)), key
        assert band["truth"][key] == pytest.approx(inside, abs=1.5 / (N * N)), key
    assert sc["truth"]["mse"] == pytest.approx(np.mean((mean - truth) ** 2), rel=1e-4)


def test_a_cli_error_is_raised_with_its_message(problem, tmp_path):
    out = tmp_path / "bad"
    with pytest.raises(tweedie.TweedieCLIError) as e:
        tweedie.sample(prior=PRIOR, observation=problem["observation"], spec=problem["spec"], sigma=-1, output=out)
    direct = subprocess.run([tweedie.find_binary(), "sample", "--prior", PRIOR, "--observation", str(problem["observation"]),
                             "--spec", str(problem["spec"]), "--sigma", "-1", "-o", str(out)], capture_output=True, text=True)
    assert e.value.message == direct.stderr.strip().splitlines()[0] and e.value.returncode == direct.returncode != 0
    assert "sigma" in e.value.message and not out.exists()


def test_a_missing_binary_says_how_to_get_one(monkeypatch, tmp_path):
    monkeypatch.setenv("TWEEDIE", str(tmp_path / "no-such-tweedie"))
    with pytest.raises(tweedie.BinaryNotFoundError, match="TWEEDIE=.*not an executable"):
        tweedie.find_binary()


def test_keyword_arguments_become_options():
    assert options({"samples": 8, "keep_samples": True, "quiet": False, "truth": None, "sigma": [1, 2.5],
                    "sampler_settings": {"eta": 0.5, "adaptive": True}}) == [
        "--samples", "8", "--keep-samples", "--sigma", "1,2.5",
        "--sampler-setting", "eta=0.5", "--sampler-setting", "adaptive=true"]
