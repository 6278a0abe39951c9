"""Writes cosmology.json: angular-diameter distances and observed cutout sizes
m(z, p) computed by astropy, the independent oracle for Tweedie's FlatLambdaCDM
and RedshiftResampling tests.

Cosmology: astropy.cosmology.FlatLambdaCDM(H0=67.66, Om0=0.30966, Tcmb0=0)
(flat Planck 2018 without radiation, as in DESIGN §3).
m(z, p) = round(n * theta / p) with theta = s / D_A(z) (proper angular-diameter
distance), n = 256, s = 0.4 kpc/px, p = 0.17 arcsec/px (paper 003 §2).

Run:  python3 make_cosmology_fixture.py   (writes cosmology.json next to this file)
"""
import json
import os

import astropy
import astropy.units as u
import numpy as np
from astropy.cosmology import FlatLambdaCDM

H0, OM0 = 67.66, 0.30966
cosmo = FlatLambdaCDM(H0=H0, Om0=OM0, Tcmb0=0)

redshifts = [0.01, 0.05, 0.1, 0.15, 0.1527, 0.2, 0.3, 0.5, 0.7, 1.0, 1.5, 2.0, 3.0, 5.0]
n, s_kpc, p_arcsec = 256, 0.4, 0.17

rows = []
for z in redshifts:
    da = cosmo.angular_diameter_distance(z).to(u.Mpc).value
    dc = cosmo.comoving_distance(z).to(u.Mpc).value
    theta_arcsec = (s_kpc / 1000.0 / da) * u.rad.to(u.arcsec)
    m_exact = n * theta_arcsec / p_arcsec
    rows.append({
        "z": z,
        "angular_diameter_distance_mpc": da,
        "comoving_distance_mpc": dc,
        "prior_pixel_arcsec": theta_arcsec,
        "m_exact": m_exact,
        "m": int(np.round(m_exact)),
    })

out = {
    "source": "astropy %s FlatLambdaCDM(H0=%g, Om0=%g, Tcmb0=0); script make_cosmology_fixture.py" % (astropy.__version__, H0, OM0),
    "H0": H0,
    "Om0": OM0,
    "n": n,
    "prior_pixel_kpc": s_kpc,
    "observed_pixel_arcsec": p_arcsec,
    "rows": rows,
}
path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "cosmology.json")
with open(path, "w") as f:
    json.dump(out, f, indent=1)
    f.write("\n")
for r in rows:
    print("z=%-6g D_A=%10.4f Mpc  m=%6.2f -> %d" % (r["z"], r["angular_diameter_distance_mpc"], r["m_exact"], r["m"]))
