#!/usr/bin/env python3
"""Independent reference numbers for the radio UV tests (Tests/TweedieOperatorsTests/Radio*Tests.swift).

Reads ../shared/data/real/vla_3C273_Xband_C.uvfits with astropy.io.fits and grids it with
numpy, following the definitions written in Operators/Radio/*.swift (no Swift code is used):
  - Stokes I = (w_RR RR + w_LL LL)/(w_RR + w_LL), weight w_RR + w_LL, correlations with
    weight <= 0 dropped; u, v = -(UU, VV) [s] * CRVAL(FREQ) (UVFITS ant1-ant2 baselines ->
    V = sum I exp(-2 pi i (ul + vm)));
  - image N x N, cell dl; operator grid M = 2N, du = 1/(M dl); cell fx = round(-u/du),
    fy = round(v/du) (half away from zero), sample and mirror gridded separately on the
    full plane; weighting density on N x N cells of 1/(N dl); uniform g = 1/D;
  - dirty beam = IFFT[W]/sum W, dirty image = IFFT[W * Vbar]/sum W, Vbar the
    natural-weighted mean per cell; phase centre at pixel (N/2, N/2), x to the west.
Also writes two small UVFITS fixtures with astropy:
  - uv_no_uv.uvfits: random groups whose parameters have no UU/VV (must be rejected);
  - uv_xxyy_2chan.uvfits: 3 rows, XX/YY, 2 channels, PSCAL-scaled UU/VV, one flagged
    correlation; the expected Stokes I samples go to uv_reference.json.
Run from the repository root:  python3 Tests/TweedieOperatorsTests/Fixtures/make_uv_reference.py
"""
import json
import os

import numpy as np
from astropy.io import fits

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
UVFITS = os.path.join(ROOT, "..", "shared", "data", "real", "vla_3C273_Xband_C.uvfits")
ARCSEC = np.pi / 180 / 3600


def parameter(data, prefix):
    names = [p.upper() for p in data.parnames]
    i = [k for k, p in enumerate(names) if p.startswith(prefix)][0]
    return np.asarray(data.par(i), dtype=np.float64)


def read_stokes_i(path):
    h = fits.open(path)
    hdr, d = h[0].header, h[0].data
    nu = hdr["CRVAL4"]
    assert hdr["CTYPE4"].startswith("FREQ") and hdr["CTYPE3"].startswith("STOKES")
    u = -parameter(d, "UU") * nu
    v = -parameter(d, "VV") * nu
    vis = np.asarray(d.data, dtype=np.float64).reshape(len(d), -1, 3)  # rows, stokes, (re, im, w)
    codes = hdr["CRVAL3"] + (np.arange(vis.shape[1]) + 1 - hdr["CRPIX3"]) * hdr["CDELT3"]
    rr, ll = list(codes).index(-1), list(codes).index(-2)
    w1 = np.where(vis[:, rr, 2] > 0, vis[:, rr, 2], 0.0)
    w2 = np.where(vis[:, ll, 2] > 0, vis[:, ll, 2], 0.0)
    w = w1 + w2
    ok = w > 0
    re = (w1 * vis[:, rr, 0] + w2 * vis[:, ll, 0])[ok] / w[ok]
    im = (w1 * vis[:, rr, 1] + w2 * vis[:, ll, 1])[ok] / w[ok]
    flagged = int((vis[:, rr, 2] <= 0).sum() + (vis[:, ll, 2] <= 0).sum())
    return dict(u=u[ok], v=v[ok], w=w[ok], re=re, im=im, rows=len(d), flagged=flagged, nu=nu)


def fwhm(profile):
    c = len(profile) // 2
    total = 0.0
    for s in (1, -1):
        i = 0
        while profile[c + i + s] > 0.5:
            i += s
        a, b = profile[c + i], profile[c + i + s]
        total += abs(i) + (a - 0.5) / (a - b)
    return total


def image(vis, n, cell_arcsec, weighting):
    cell = cell_arcsec * ARCSEC
    m = 2 * n
    du = 1.0 / (m * cell)
    u, v, w = vis["u"], vis["v"], vis["w"]
    rnd = lambda x: (np.sign(x) * np.floor(np.abs(x) + 0.5)).astype(np.int64)
    fx, fy = rnd(-u / du), rnd(v / du)
    keep = (np.abs(fx) < m // 2) & (np.abs(fy) < m // 2)
    g = np.ones_like(w)
    if weighting == "uniform":
        duw = 1.0 / (n * cell)
        gx, gy = rnd(-u / duw), rnd(v / duw)
        dens = np.zeros((n, n))
        np.add.at(dens, (gy % n, gx % n), w)
        np.add.at(dens, ((-gy) % n, (-gx) % n), w)
        g = 1.0 / dens[gy % n, gx % n]
    W = np.zeros((m, m)); NAT = np.zeros((m, m)); V = np.zeros((m, m), complex)
    z = vis["re"] + 1j * vis["im"]
    for sx, sy, val in ((fx, fy, z), (-fx, -fy, np.conj(z))):
        idx = ((sy % m)[keep], (sx % m)[keep])
        np.add.at(W, idx, (w * g)[keep])
        np.add.at(NAT, idx, w[keep])
        np.add.at(V, idx, (w * val)[keep])
    vbar = np.where(NAT > 0, V / np.where(NAT > 0, NAT, 1), 0)
    def crop(a):
        a = np.fft.fftshift(a)  # offset 0 -> index m/2
        return a[m // 2 - n // 2: m // 2 - n // 2 + n, m // 2 - n // 2: m // 2 - n // 2 + n]
    beam = crop(np.fft.ifft2(W).real * m * m / W.sum())
    dirty_c = np.fft.ifft2(W * vbar) * m * m / W.sum()
    dirty = crop(dirty_c.real)
    cells = int(np.count_nonzero(W))
    return beam, dirty, dict(cells_full_plane=cells, dropped=int((~keep).sum()),
                             imag_over_real=float(np.abs(dirty_c.imag).max() / np.abs(dirty_c.real).max()))


def reference_3c273():
    vis = read_stokes_i(UVFITS)
    bmax = float(np.hypot(vis["u"], vis["v"]).max())
    out = dict(source=os.path.relpath(UVFITS, ROOT), rows=vis["rows"], visibilities=int(len(vis["u"])),
               flagged_correlations=vis["flagged"], frequency_hz=vis["nu"],
               weight_sum=float(vis["w"].sum()), max_baseline_wavelengths=bmax,
               lambda_over_bmax_arcsec=float(1 / bmax / ARCSEC),
               weighted_mean_re=float((vis["w"] * vis["re"]).sum() / vis["w"].sum()),
               weighted_mean_im=float((vis["w"] * vis["im"]).sum() / vis["w"].sum()),
               first_samples=[dict(u=float(vis["u"][k]), v=float(vis["v"][k]), re=float(vis["re"][k]),
                                   im=float(vis["im"][k]), weight=float(vis["w"][k])) for k in range(5)],
               images=[])
    n, cell = 512, 0.2
    for weighting in ("natural", "uniform"):
        beam, dirty, info = image(vis, n, cell, weighting)
        c = n // 2
        py, px = np.unravel_index(np.argmax(dirty), dirty.shape)
        entry = dict(size=n, cell_arcsec=cell, weighting=weighting,
                     beam_peak=float(beam.max()),
                     beam_fwhm_x_arcsec=fwhm(beam[c, :]) * cell, beam_fwhm_y_arcsec=fwhm(beam[:, c]) * cell,
                     dirty_peak=float(dirty.max()), dirty_peak_x=int(px), dirty_peak_y=int(py), **info)
        if weighting == "natural":
            # Brightest residual after removing the core (peak x dirty beam): the 3C273 jet.
            res = dirty - dirty[c, c] * beam
            yy, xx = np.mgrid[0:n, 0:n]
            res[np.hypot(xx - c, yy - c) < 25] = -np.inf
            jy, jx = np.unravel_index(np.argmax(res), res.shape)
            east, north = -(jx - c) * cell, (jy - c) * cell
            entry.update(jet_x=int(jx), jet_y=int(jy), jet_value=float(res[jy, jx]),
                         jet_distance_arcsec=float(np.hypot(east, north)),
                         jet_position_angle_deg=float(np.degrees(np.arctan2(east, north)) % 360))
        out["images"].append(entry)
    return out


def write_fixtures():
    # 1. Random groups without UU/VV parameters.
    n = 4
    data = np.zeros((n, 1, 1, 1, 1, 1, 3), dtype=np.float32)
    data[..., 2] = 1
    g = fits.GroupData(data, parnames=["BASELINE", "DATE"], pardata=[np.full(n, 258.0), np.full(n, 2447704.5)],
                       bitpix=-32)
    hdu = fits.GroupsHDU(g)
    for k, (ct, val, dl) in enumerate([("COMPLEX", 1, 1), ("STOKES", -1, -1), ("FREQ", 8.0e9, 5e7),
                                        ("IF", 1, 1), ("RA", 10.0, 1), ("DEC", 2.0, 1)], start=2):
        hdu.header[f"CTYPE{k}"] = ct; hdu.header[f"CRVAL{k}"] = val
        hdu.header[f"CDELT{k}"] = dl; hdu.header[f"CRPIX{k}"] = 1.0
    hdu.writeto(os.path.join(HERE, "uv_no_uv.uvfits"), overwrite=True)

    # 2. XX/YY, two channels, scaled UU/VV, one flagged correlation.
    rows, nchan = 3, 2
    rng = np.random.default_rng(7)
    useconds = np.array([1.0e-6, -2.0e-6, 3.0e-7])
    vseconds = np.array([-4.0e-7, 5.0e-7, 2.5e-6])
    data = np.zeros((rows, 1, 1, 1, nchan, 2, 3), dtype=np.float32)
    data[..., 0] = rng.normal(1.0, 0.3, data.shape[:-1])
    data[..., 1] = rng.normal(0.0, 0.3, data.shape[:-1])
    data[..., 2] = rng.uniform(0.5, 2.0, data.shape[:-1])
    data[1, 0, 0, 0, 1, 0, 2] = -1.0          # row 2, channel 2, XX flagged
    data[2, 0, 0, 0, 0, :, 2] = 0.0           # row 3, channel 1, both hands flagged
    # Stored (raw) parameters are seconds / PSCAL; PSCALn is added to the header afterwards
    # (astropy then scales on reading, CFITSIO does not: the reader must apply PSCAL itself).
    pscale = 1e-10
    g = fits.GroupData(data, parnames=["UU---SIN", "VV---SIN", "WW---SIN", "BASELINE"],
                       pardata=[useconds / pscale, vseconds / pscale, np.zeros(rows), np.full(rows, 259.0)],
                       bitpix=-32)
    hdu = fits.GroupsHDU(g)
    for k in (1, 2, 3):
        hdu.header[f"PSCAL{k}"] = pscale
        hdu.header[f"PZERO{k}"] = 0.0
    f0, df = 1.4e9, 1.0e8
    for k, (ct, val, dl) in enumerate([("COMPLEX", 1, 1), ("STOKES", -5, -1), ("FREQ", f0, df),
                                        ("IF", 1, 1), ("RA", 10.0, 1), ("DEC", 2.0, 1)], start=2):
        hdu.header[f"CTYPE{k}"] = ct; hdu.header[f"CRVAL{k}"] = val
        hdu.header[f"CDELT{k}"] = dl; hdu.header[f"CRPIX{k}"] = 1.0
    hdu.header["OBJECT"] = "FIXTURE"; hdu.header["TELESCOP"] = "MEERKAT"
    path = os.path.join(HERE, "uv_xxyy_2chan.uvfits")
    hdu.writeto(path, overwrite=True)
    # Expected samples, computed from what astropy reads back (scaled parameters).
    d = fits.open(path)[0].data
    us, vs = parameter(d, "UU"), parameter(d, "VV")
    expected = []
    for r in range(rows):
        for c in range(nchan):
            cor = np.asarray(d.data[r, 0, 0, 0, c], dtype=np.float64)
            w = np.where(cor[:, 2] > 0, cor[:, 2], 0.0)
            if w.sum() <= 0:
                continue
            nu = f0 + c * df
            expected.append(dict(u=float(-us[r] * nu), v=float(-vs[r] * nu), weight=float(w.sum()),
                                 re=float((w * cor[:, 0]).sum() / w.sum()), im=float((w * cor[:, 1]).sum() / w.sum())))
    return dict(xxyy_2chan=dict(file="uv_xxyy_2chan.uvfits", flagged_correlations=3, samples=expected))


if __name__ == "__main__":
    ref = reference_3c273()
    ref.update(write_fixtures())
    ref["generator"] = "Tests/TweedieOperatorsTests/Fixtures/make_uv_reference.py (astropy + numpy)"
    with open(os.path.join(HERE, "uv_reference.json"), "w") as f:
        json.dump(ref, f, indent=1)
    for im in ref["images"]:
        print(im["weighting"], "FWHM %.3f x %.3f arcsec" % (im["beam_fwhm_x_arcsec"], im["beam_fwhm_y_arcsec"]),
              "peak %.3f at (%d, %d)" % (im["dirty_peak"], im["dirty_peak_x"], im["dirty_peak_y"]),
              "imag/real %.2e" % im["imag_over_real"])
    print("jet:", {k: v for k, v in ref["images"][0].items() if k.startswith("jet")})
    print("B_max %.1f lambda, lambda/B_max %.3f arcsec" % (ref["max_baseline_wavelengths"], ref["lambda_over_bmax_arcsec"]))
