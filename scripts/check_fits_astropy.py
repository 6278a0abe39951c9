#!/usr/bin/env python3
"""Opens FITS files with astropy, every warning an error, and checks what the astronomy
ecosystem needs from them (run by Tests/TweedieCLITests/AstropyReadsOutputsTests.swift).

Usage: check_fits_astropy.py CHECKS.json

CHECKS.json: {"files": [FILE, ...]}, each FILE an object:
  "path":    the FITS file;
  "sky":     optional list of {"hdu": N|NAME, "pixel": [x, y],
                               "reference": {"path": P, "hdu": N|NAME, "pixel": [x, y]}}:
             the sky position of `pixel` (0-based, astropy's convention) in this file must be the
             sky position of the reference file's `pixel`, within 0.01 px measured on the
             reference grid;
  "source":  optional {"hdu": N|NAME, "ra": deg, "dec": deg, "tolerance_arcsec": t}: the
             brightest pixel of the HDU, converted from the file's frame (RADESYS/EQUINOX) to
             ICRS, lies within t arcsec of (ra, dec) ICRS;
  "celestial": optional bool: whether every image HDU must (true) or must not (false) have
             celestial axes.
Every image HDU (NAXIS >= 1) must open, verify, load its data and build its WCS with no warning,
and carry BUNIT.

Prints one line per file (OK / FAIL with the reasons); exits 0 when all pass, 1 when any fails,
2 when astropy or numpy is missing.
"""
import json
import sys
import warnings

try:
    import numpy as np
    from astropy.coordinates import SkyCoord
    from astropy.io import fits
    from astropy.wcs import WCS
    import astropy.units as u
except ImportError as error:  # the test must fail, not pass, without astropy
    print(f"check_fits_astropy: {error}; install Notebooks/requirements.txt (scripts/setup-python.sh)")
    sys.exit(2)


def hdu_key(h):
    return h if isinstance(h, int) else str(h)


def check_file(spec):
    problems = []
    path = spec["path"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            with fits.open(path) as hdul:
                hdul.verify("exception")
                for i, hdu in enumerate(hdul):
                    if not hdu.header.get("NAXIS", 0):
                        continue
                    name = hdu.name or str(i)
                    _ = hdu.data
                    if "BUNIT" not in hdu.header:
                        problems.append(f"HDU {name}: no BUNIT")
                    wcs = WCS(hdu.header)
                    if "celestial" in spec and wcs.has_celestial != spec["celestial"]:
                        problems.append(f"HDU {name}: celestial WCS {wcs.has_celestial}, expected {spec['celestial']}")
                for sky in spec.get("sky", []):
                    problems += check_sky(hdul, sky)
                if "source" in spec:
                    problems += check_source(hdul, spec["source"])
        except Exception as error:  # a warning raised as an error, or a broken file
            problems.append(f"{type(error).__name__}: {error}")
    return problems


def check_sky(hdul, sky):
    ref = sky["reference"]
    out_wcs = WCS(hdul[hdu_key(sky["hdu"])].header).celestial
    with fits.open(ref["path"]) as rh:
        ref_wcs = WCS(rh[hdu_key(ref["hdu"])].header).celestial
    if not out_wcs.has_celestial or not ref_wcs.has_celestial:
        return [f"sky check of pixel {sky['pixel']}: no celestial WCS (output {out_wcs.has_celestial}, reference {ref_wcs.has_celestial})"]
    position = out_wcs.pixel_to_world(*sky["pixel"])
    x, y = ref_wcs.world_to_pixel(position)
    dx, dy = float(x) - ref["pixel"][0], float(y) - ref["pixel"][1]
    if np.hypot(dx, dy) > 0.01:
        return [f"pixel {sky['pixel']} is at reference pixel ({float(x):.4f}, {float(y):.4f}), expected {ref['pixel']} (off by {np.hypot(dx, dy):.4f} px)"]
    return []


def check_source(hdul, source):
    hdu = hdul[hdu_key(source["hdu"])]
    wcs = WCS(hdu.header).celestial
    data = np.asarray(hdu.data, dtype=float)
    while data.ndim > 2:
        data = data[0]
    y, x = np.unravel_index(np.nanargmax(data), data.shape)
    found = wcs.pixel_to_world(x, y).icrs
    target = SkyCoord(source["ra"] * u.deg, source["dec"] * u.deg, frame="icrs")
    separation = found.separation(target).arcsec
    if separation > source["tolerance_arcsec"]:
        return [f"brightest pixel ({x}, {y}) is at ICRS {found.to_string('hmsdms')}, {separation:.2f} arcsec from the target "
                f"(tolerance {source['tolerance_arcsec']} arcsec)"]
    return []


def main():
    if len(sys.argv) != 2:
        print("usage: check_fits_astropy.py CHECKS.json")
        return 2
    with open(sys.argv[1]) as f:
        checks = json.load(f)
    failed = 0
    for spec in checks["files"]:
        problems = check_file(spec)
        if problems:
            failed += 1
            print(f"FAIL {spec['path']}: " + "; ".join(problems))
        else:
            print(f"OK {spec['path']}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
