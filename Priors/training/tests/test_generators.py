# Tests of the seeded data generators (galaxies.py, radio_skies.py) against independent oracles:
# closed-form moments and colours, an independent D_A integral, and exact invariances.

import math

import numpy as np
import pytest
from scipy.integrate import quad

import galaxies as G
import radio_skies as R


def test_galaxy_is_a_function_of_its_index_only():
    a = G.generate([5, 6, 7])
    b = np.stack([G.galaxy(7), G.galaxy(5)])
    assert np.array_equal(a[2], b[0]) and np.array_equal(a[0], b[1])


def test_galaxy_normalisation_and_shape():
    x = G.generate(range(10))
    assert x.shape == (10, 3, 64, 64) and x.dtype == np.float32
    np.testing.assert_allclose(x[:, 1].sum(axis=(1, 2), dtype=np.float64), 1.0, rtol=1e-5)
    assert x.min() > -1e-4 and np.isfinite(x).all()


def _params(**kw):
    base = dict(index=0, r_disk_kpc=3.0, bulge_to_total=0.0, sersic_n=4.0, r_bulge_kpc=1.0, q_bulge=1.0,
                cos_inclination=1.0, h_over_r=0.1, n_knots=20, knot_fraction=0.0, position_angle_rad=0.0,
                dx_px=0.0, dy_px=0.0, colours=tuple(G.COLOURS_MAG[c] for c in ("bulge", "disk", "knots")),
                knot_seed=3)
    base.update(kw)
    return G.GalaxyParameters(**base)


@pytest.mark.parametrize("component,kw", [
    ("bulge", dict(bulge_to_total=1.0)),
    ("disk", dict(bulge_to_total=0.0, knot_fraction=0.0)),
    ("knots", dict(bulge_to_total=0.0, knot_fraction=1.0)),
])
def test_component_colours_are_the_stated_flux_ratios(component, kw):
    img = G.render(_params(**kw)).astype(np.float64)
    ratios = img.sum(axis=(1, 2)) / img[1].sum()
    gr, ri = G.COLOURS_MAG[component]
    np.testing.assert_allclose(ratios, [10 ** (-0.4 * gr), 1.0, 10 ** (0.4 * ri)], rtol=2e-3)


def test_bulge_redder_than_disk_knots_bluest():
    gi = {c: G.COLOURS_MAG[c][0] + G.COLOURS_MAG[c][1] for c in G.COLOURS_MAG}
    assert gi["bulge"] > gi["disk"] > gi["knots"]


def test_centre_and_shift_of_a_symmetric_galaxy():
    # face-on disk, no bulge/knots: its first moment is its centre, pixel (32 + dx, 32 + dy).
    for dx, dy in [(0.0, 0.0), (1.3, -2.6)]:
        img = G.render(_params(dx_px=dx, dy_px=dy, r_disk_kpc=1.5))[1].astype(np.float64)
        y, x = np.mgrid[:64, :64]
        assert abs((img * x).sum() / img.sum() - (32 + dx)) < 0.02
        assert abs((img * y).sum() / img.sum() - (32 + dy)) < 0.02


def _orientation(img):
    y, x = np.mgrid[:64, :64]
    w = img / img.sum()
    mx, my = (w * x).sum(), (w * y).sum()
    qxx, qyy, qxy = (w * (x - mx) ** 2).sum(), (w * (y - my) ** 2).sum(), (w * (x - mx) * (y - my)).sum()
    return 0.5 * math.atan2(2 * qxy, qxx - qyy), qxx, qyy


def test_knots_follow_the_disk_orientation_and_inclination():
    pa = 0.6
    disk = G.render(_params(cos_inclination=0.2, position_angle_rad=pa))[1]
    knots = G.render(_params(cos_inclination=0.2, position_angle_rad=pa, knot_fraction=1.0, n_knots=30))[1]
    for img in (disk, knots):
        ang, _, _ = _orientation(img.astype(np.float64))
        assert abs(math.remainder(ang - pa, math.pi)) < 0.1


def test_splits_are_disjoint():
    for gen in (G, R):
        ranges = sorted(gen.SPLITS.values())
        assert all(a[1] <= b[0] for a, b in zip(ranges, ranges[1:]))
    with pytest.raises(ValueError):
        G.split_indices("heldout", 100_001)


def test_asinh_transform_matches_tweedie_formula_and_inverts():
    x = np.array([-1e-3, 0.0, 1e-4, 1e-3, 0.05, 0.45])
    u = G.to_network(x)
    np.testing.assert_allclose(u, np.arcsinh(x / G.ASINH_SOFTENING) * G.ASINH_GAIN + G.ASINH_OFFSET)
    np.testing.assert_allclose(G.to_physical(u), x, atol=1e-15, rtol=1e-12)
    assert u[1] == -1.0 and abs(u[-1]) <= 1.0


def test_m_table_against_an_independent_angular_diameter_distance():
    c_km_s = 299792.458
    h0, om = G.COSMOLOGY["H0"], G.COSMOLOGY["Om0"]
    for row in G.m_table():
        z = row["z"]
        dc = c_km_s / h0 * quad(lambda zz: 1 / math.sqrt(om * (1 + zz) ** 3 + 1 - om), 0, z)[0]  # Mpc
        da_kpc = dc / (1 + z) * 1000
        m = round(64 * G.PIXEL_SCALE_KPC / (0.168 / 206264.80624709636 * da_kpc))
        assert row["m"] == m and abs(row["D_A_Mpc"] * 1000 / da_kpc - 1) < 1e-5


def test_radio_sources_follow_the_stated_distributions():
    counts, fluxes, majors, minors = [], [], [], []
    for i in range(600):
        src = R.draw_sources(i)
        counts.append(len(src))
        for s in src:
            fluxes.append(s.flux_jy); majors.append(s.fwhm_major_arcsec); minors.append(s.fwhm_minor_arcsec)
            assert R.MARGIN_PX <= s.x_px <= 64 - R.MARGIN_PX and R.MARGIN_PX <= s.y_px <= 64 - R.MARGIN_PX
        for a in src:
            for b in src:
                if a is not b:
                    assert math.hypot(a.x_px - b.x_px, a.y_px - b.y_px) >= R.MIN_SEPARATION_PX
    assert set(counts) == {0, 1, 2, 3, 4, 5}
    assert 0.05e-3 <= min(fluxes) and max(fluxes) <= 0.5e-3
    # log-uniform: log10 flux uniform on [log 0.05, log 0.5] mJy → mean of log10(S/mJy) = log10(0.05)+0.5
    assert abs(np.mean(np.log10(np.array(fluxes) * 1e3)) - (math.log10(0.05) + 0.5)) < 0.03
    assert 0.4 <= min(minors) and max(majors) <= 0.8 and all(a >= b for a, b in zip(majors, minors))


def test_radio_image_flux_and_peak_closed_form():
    src = [R.Source(32.0, 30.0, 2e-4, 0.6, 0.4, 0.3)]
    img = R.render(src)[0].astype(np.float64)
    assert abs(img.sum() / 2e-4 - 1) < 1e-4                      # ≥ 8 px margin, σ ≤ 2.6 px
    sa, sb = 0.6 / 2.3548200450309493 / 0.1, 0.4 / 2.3548200450309493 / 0.1
    peak = 2e-4 / (2 * math.pi * sa * sb)                         # centre pixel ≈ peak SB × 1 px²
    assert abs(img[30, 32] / peak - 1) < 0.03
    ang, qxx, qyy = _orientation(img)
    assert abs(math.remainder(ang - 0.3, math.pi)) < 1e-3


def test_gamma_root_transform_matches_tweedie_formula_and_inverts():
    x = np.array([0.0, 1e-7, 1e-6, 2.96e-5])
    u = R.to_network(x)
    np.testing.assert_allclose(u, 2 * np.sqrt(x / 2.96e-5) - 1)
    np.testing.assert_allclose(R.to_physical(u), x, rtol=1e-12, atol=1e-20)
    imgs = R.generate(range(200))
    assert imgs.min() >= 0 and -1 <= R.to_network(imgs).min() and R.to_network(imgs).max() <= 1
