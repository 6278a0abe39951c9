# Tests of the evaluation statistics against closed forms (exponential-disk curve of growth,
# second moments of a sheared profile, stated colours, a known bulge + disk mixture) and of the
# radio detection against the generator's own source catalogue.

import math

import numpy as np
import pytest
from scipy.special import gammaincinv

import evaluate_galaxy as EG
import evaluate_radio as ER
import evaluation
import galaxies as G
import radio_skies as R


def _draw(obj):
    import galsim
    img = obj.drawImage(nx=64, ny=64, scale=G.PIXEL_SCALE_KPC, offset=(0.5, 0.5)).array.astype(np.float64)
    return np.stack([img, img, img])


def test_exponential_half_light_radius_and_concentration():
    import galsim
    x = _draw(galsim.Exponential(half_light_radius=4.8))
    m = EG.measure(x, with_bt=False)
    # exponential: enclosed fraction P(2, r/r_s) → R_f = r_s · P⁻¹(2, f)
    rs = 4.8 / gammaincinv(2, 0.5)
    assert m["r_half_kpc"] == pytest.approx(4.8, rel=0.03)
    assert m["concentration"] == pytest.approx(gammaincinv(2, 0.8) / gammaincinv(2, 0.2), rel=0.04)
    assert m["ellipticity"] < 0.01 and abs(m["g_minus_i"]) < 1e-9
    assert rs > 0


def test_ellipticity_of_a_sheared_profile_is_one_minus_axis_ratio():
    import galsim
    x = _draw(galsim.Exponential(half_light_radius=3.0).shear(q=0.5, beta=0.7 * galsim.radians))
    assert EG.measure(x, with_bt=False)["ellipticity"] == pytest.approx(0.5, abs=0.02)


def test_colour_of_a_disk_only_galaxy_is_the_stated_colour():
    p = G.draw_parameters(3)
    p = G.GalaxyParameters(**{**p.__dict__, "bulge_to_total": 0.0, "knot_fraction": 0.0,
                              "colours": tuple(G.COLOURS_MAG[c] for c in ("bulge", "disk", "knots"))})
    m = EG.measure(G.render(p), with_bt=False)
    assert m["g_minus_i"] == pytest.approx(sum(G.COLOURS_MAG["disk"]), abs=1e-3)


@pytest.mark.parametrize("bt", [0.2, 0.6])
def test_bulge_disk_decomposition_recovers_a_de_vaucouleurs_plus_exponential(bt):
    import galsim
    gal = (galsim.DeVaucouleurs(half_light_radius=1.5, flux=bt).shear(q=0.8, beta=0.3 * galsim.radians)
           + galsim.Exponential(half_light_radius=4.0, flux=1 - bt).shear(q=0.6, beta=0.3 * galsim.radians))
    m = EG.measure(_draw(gal))
    assert m["bulge_to_total"] == pytest.approx(bt, abs=0.06)


def test_radio_detection_recovers_the_generator_catalogue():
    idx = range(R.SPLITS["heldout"][0], R.SPLITS["heldout"][0] + 25)
    s = ER.measure_set(R.generate(idx))
    assert s["n_sources"].tolist() == [len(R.draw_sources(i)) for i in idx]
    for i, found in zip(idx, s["sources"]):
        for src in R.draw_sources(i):
            f = min(found, key=lambda d: math.hypot(d["x"] - src.x_px, d["y"] - src.y_px))
            assert math.hypot(f["x"] - src.x_px, f["y"] - src.y_px) < 0.05
            assert f["flux_Jy"] == pytest.approx(src.flux_jy, rel=0.01)
            assert f["sigma_major_px"] * ER.FWHM_PER_SIGMA * 0.1 == pytest.approx(src.fwhm_major_arcsec, rel=0.03)
            assert f["sigma_minor_px"] * ER.FWHM_PER_SIGMA * 0.1 == pytest.approx(src.fwhm_minor_arcsec, rel=0.03)


def test_radio_detection_ignores_noise_below_five_sigma():
    rng = np.random.default_rng(1)
    img = rng.normal(0, 1e-7, (64, 64))
    img += R.render([R.Source(30.0, 30.0, 3e-4, 0.6, 0.5, 0.2)])[0]
    found = ER.detect(img)
    assert len(found) == 1 and found[0]["flux_Jy"] == pytest.approx(3e-4, rel=0.05)


def test_ks_table_zero_for_identical_and_one_for_disjoint_sets():
    a = {"v": np.arange(50.0)}
    assert evaluation.ks_table(a, a, ["v"])[0]["D"] == 0
    assert evaluation.ks_table(a, {"v": np.arange(50.0) + 100}, ["v"])[0]["D"] == 1


def test_load_images_reads_npy_and_fits_cubes(tmp_path):
    from astropy.io import fits
    x = np.random.default_rng(0).normal(size=(4, 3, 8, 8)).astype(np.float32)
    np.save(tmp_path / "a.npy", x)
    fits.PrimaryHDU(x).writeto(tmp_path / "a.fits")
    for k in range(4):
        fits.PrimaryHDU(x[k]).writeto(tmp_path / f"s{k}.fits")
    for p in ("a.npy", "a.fits"):
        np.testing.assert_array_equal(evaluation.load_images(str(tmp_path / p), 3), x)
    np.testing.assert_array_equal(evaluation.load_images(str(tmp_path / "s*.fits"), 3), x)


def test_measured_statistics_cache_is_reused_only_for_the_same_file_and_settings(tmp_path):
    x = np.random.default_rng(1).normal(size=(5, 1, 8, 8))
    path = str(tmp_path / "b.npy")
    np.save(path, x)
    calls = []

    def measure(images):
        calls.append(len(images))
        return {"total": images.sum(axis=(1, 2, 3)), "label": ["set", len(images)]}

    def load(p):
        return evaluation.load_images(p, 1)

    direct = measure(load(path))
    first = evaluation.measured_statistics(path, load, measure, {"v": 1}, cache=True)
    again = evaluation.measured_statistics(path, load, measure, {"v": 1}, cache=True)
    assert len(calls) == 2  # the direct call and the first cached one; the second came from disk
    for got in (first, again):
        np.testing.assert_array_equal(got["total"], direct["total"])
        assert got["label"] == ["set", 5]
    evaluation.measured_statistics(path, load, measure, {"v": 2}, cache=True)
    assert len(calls) == 3  # other settings: measured again
    np.save(path, x[:3])
    changed = evaluation.measured_statistics(path, load, measure, {"v": 2}, cache=True)
    assert len(calls) == 4 and len(changed["total"]) == 3  # other contents: measured again
    evaluation.measured_statistics(path, load, measure, {"v": 2}, cache=False)
    assert len(calls) == 5
