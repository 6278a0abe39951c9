#!/usr/bin/env python3
"""Writes the FITS fixtures read by Tweedie's FITS tests, and fits_expected.json.

Run from anywhere:  python3 Tests/TweedieCoreTests/Fixtures/make_fits_fixtures.py
(needs numpy and astropy; made with astropy 8.0.2, numpy from Python 3.11).

Every image is W = 12 wide (NAXIS1, x) and H = 9 high (NAXIS2, y) -- non-square
so that an axis mix-up cannot pass -- and its pixels follow a simple formula of
(x, y[, band]) with 0-based x, y. The expected values written to the JSON are
computed here in float64 from the *raw* stored integers / floats and the scaling
keywords (physical = BZERO + BSCALE * raw, BLANK -> null), and are checked
against what astropy itself reads back before they are written out. Header
cards are listed as astropy reads them (non-structural keywords only).

Files:
  bitpix8.fits            uint8, plus header cards of every type (string, long
                          CONTINUE string, int, float, bool, COMMENT, HISTORY)
  bitpix16.fits           int16 (negative values), BUNIT
  bitpix32.fits           int32 (values beyond 2^24)
  bitpix64.fits           int64 (values beyond 2^32, below 2^53)
  bitpix_m32.fits         float32 with two NaN pixels
  bitpix_m64.fits         float64 (values that round in float32), one NaN
  scaled16_blank.fits     int16 with BSCALE = 0.25, BZERO = 1000, BLANK = -32768
  uint16.fits             unsigned 16-bit as astropy writes it (BZERO = 32768)
  scaled8.fits            uint8 with BSCALE = 2, BZERO = -100
  int32_blank.fits        int32 with BLANK = -999 (unscaled)
  cube3.fits              float32 cube, 3 bands (BAND1..3 = g, r, i), BUNIT, TAN WCS (CD)
  extensions.fits         empty primary (NAXIS = 0) + SCI (float32) + ERR (int16)
                          + MASK (uint8) image extensions + a binary table CAT
  compressed.fits         empty primary + RICE_1 tile-compressed int16 'RICEIMG'
                          + lossless GZIP_2 tile-compressed float32 'GZIPIMG'
  empty.fits              a primary HDU with NAXIS = 0 and nothing else
  notfits.fits            a text file
  truncated.fits          bitpix16.fits cut in the middle of its data unit
  truncated_header.fits   the first 1000 bytes of bitpix16.fits (no END card)
"""
import json
import os

import numpy as np
from astropy.io import fits
import astropy

HERE = os.path.dirname(os.path.abspath(__file__))
W, H = 12, 9
yy, xx = np.mgrid[0:H, 0:W]


def path(name):
    return os.path.join(HERE, name)


def cards_of(header):
    """Non-structural cards as astropy reads them: {keyword, type, value, comment}.

    type is one of string, int, float, bool, commentary (COMMENT / HISTORY: the
    text is the value)."""
    structural = {"SIMPLE", "XTENSION", "BITPIX", "NAXIS", "NAXIS1", "NAXIS2", "NAXIS3",
                  "EXTEND", "PCOUNT", "GCOUNT", "BSCALE", "BZERO", "BLANK", ""}
    out = []
    for card in header.cards:
        kw = card.keyword
        if kw in structural:
            continue
        value = card.value
        if kw in ("COMMENT", "HISTORY"):
            kind, value = "commentary", str(value)
        elif isinstance(value, (bool, np.bool_)):
            kind, value = "bool", bool(value)
        elif isinstance(value, (int, np.integer)):
            kind, value = "int", int(value)
        elif isinstance(value, (float, np.floating)):
            kind, value = "float", float(value)
        else:
            kind, value = "string", str(value)
        out.append({"keyword": kw, "type": kind, "value": value, "comment": card.comment})
    return out


def expected_values(physical, null_mask):
    flat = physical.astype(np.float64).ravel()
    nulls = null_mask.ravel() | np.isnan(flat)
    return [None if n else float(v) for v, n in zip(flat, nulls)]


def check_against_astropy(filename, hdu_index, physical, null_mask):
    """The values we promise must be what astropy reads (to the precision of its dtype)."""
    with fits.open(path(filename)) as hdul:
        data = np.asarray(hdul[hdu_index].data, dtype=np.float64)
    ours = physical.astype(np.float64)
    assert data.shape == ours.shape, (filename, data.shape, ours.shape)
    bad = null_mask | np.isnan(ours)
    assert np.all(np.isnan(data[bad])), filename
    tol = 1e-6 * np.maximum(1.0, np.abs(ours[~bad]))
    assert np.all(np.abs(data[~bad] - ours[~bad]) <= tol), filename


def entry(filename, hdu_index, bitpix, physical, null_mask, extname=None, bands=None):
    with fits.open(path(filename)) as hdul:
        hdr = hdul[hdu_index].header
        cards = cards_of(hdr)
        naxes = [hdr["NAXIS%d" % (i + 1)] for i in range(hdr["NAXIS"])]
    check_against_astropy(filename, hdu_index, physical, null_mask)
    return {
        "file": filename, "hdu": hdu_index, "extname": extname, "bitpix": bitpix,
        "naxes": naxes, "bands": bands or [],
        "values": expected_values(physical, null_mask),
        "null_count": int((null_mask | np.isnan(physical)).sum()),
        "cards": cards,
    }


def add_common_cards(hdr, name):
    hdr["OBJECT"] = (name, "fixture name")
    hdr["TELESCOP"] = ("formula", "not a telescope")
    hdr["EXPTIME"] = (30.5, "[s] a float card")
    hdr["NCOMBINE"] = (7, "an integer card")
    hdr["FLATCOR"] = (True, "a logical card")
    hdr["QUOTED"] = ("it's here", "a string with a quote")
    hdr["SMALL"] = (1.25e-7, "a float in exponent notation")
    hdr["COMMENT"] = "A comment card for " + name
    hdr["HISTORY"] = "made by make_fits_fixtures.py"
    hdr["HISTORY"] = "second history line"


entries = []
no_nulls = np.zeros((H, W), dtype=bool)

# --- BITPIX 8 (and the header-card zoo) -----------------------------------
raw8 = ((7 * xx + 13 * yy) % 256).astype(np.uint8)
h = fits.PrimaryHDU(raw8)
add_common_cards(h.header, "bitpix8")
h.header["LONGSTR"] = ("This string is longer than sixty-eight characters, so astropy "
                       "writes it with the CONTINUE long-string convention.", "long")
h.writeto(path("bitpix8.fits"), overwrite=True)
entries.append(entry("bitpix8.fits", 0, 8, raw8, no_nulls))

# --- BITPIX 16 --------------------------------------------------------------
raw16 = (1000 * xx - 3000 * yy).astype(np.int16)
h = fits.PrimaryHDU(raw16)
add_common_cards(h.header, "bitpix16")
h.header["BUNIT"] = ("adu", "pixel unit")
h.writeto(path("bitpix16.fits"), overwrite=True)
entries.append(entry("bitpix16.fits", 0, 16, raw16, no_nulls))

# --- BITPIX 32 --------------------------------------------------------------
raw32 = (123456789 + 100003 * xx - 7 * yy).astype(np.int32)
h = fits.PrimaryHDU(raw32)
add_common_cards(h.header, "bitpix32")
h.writeto(path("bitpix32.fits"), overwrite=True)
entries.append(entry("bitpix32.fits", 0, 32, raw32, no_nulls))

# --- BITPIX 64 (values below 2^53, so float64 holds them exactly) -------------
raw64 = (2 ** 40 + (2 ** 20) * xx.astype(np.int64) - 12345 * yy).astype(np.int64)
h = fits.PrimaryHDU(raw64)
add_common_cards(h.header, "bitpix64")
h.writeto(path("bitpix64.fits"), overwrite=True)
entries.append(entry("bitpix64.fits", 0, 64, raw64, no_nulls))

# --- BITPIX -32 with NaN ------------------------------------------------------
rawm32 = ((xx - 5.5) * 0.25 + yy * 1.5e-3).astype(np.float32)
rawm32[2, 3] = np.nan
rawm32[8, 0] = np.nan
h = fits.PrimaryHDU(rawm32)
add_common_cards(h.header, "bitpix_m32")
h.writeto(path("bitpix_m32.fits"), overwrite=True)
entries.append(entry("bitpix_m32.fits", 0, -32, rawm32, no_nulls))

# --- BITPIX -64 with NaN ------------------------------------------------------
rawm64 = 1e10 + xx * 0.1 + yy * 1e-3
rawm64[4, 11] = np.nan
h = fits.PrimaryHDU(rawm64)
add_common_cards(h.header, "bitpix_m64")
h.writeto(path("bitpix_m64.fits"), overwrite=True)
entries.append(entry("bitpix_m64.fits", 0, -64, rawm64, no_nulls))


def write_raw_then_scale(filename, raw, name, bscale=None, bzero=None, blank=None):
    """Writes raw integers, then adds BSCALE/BZERO/BLANK without touching the data."""
    h = fits.PrimaryHDU(raw)
    add_common_cards(h.header, name)
    h.writeto(path(filename), overwrite=True)
    with fits.open(path(filename), mode="update", do_not_scale_image_data=True) as hdul:
        hd = hdul[0].header
        if bscale is not None:
            hd["BSCALE"] = bscale
        if bzero is not None:
            hd["BZERO"] = bzero
        if blank is not None:
            hd["BLANK"] = blank


# --- int16 with BSCALE / BZERO / BLANK -----------------------------------------
raws = (10 * xx - 100 * yy).astype(np.int16)
nulls_s = np.zeros((H, W), dtype=bool)
for (y, x) in [(1, 2), (8, 11)]:
    raws[y, x] = -32768
    nulls_s[y, x] = True
write_raw_then_scale("scaled16_blank.fits", raws, "scaled16_blank", 0.25, 1000.0, -32768)
phys = raws.astype(np.float64) * 0.25 + 1000.0
entries.append(entry("scaled16_blank.fits", 0, 16, phys, nulls_s))

# --- unsigned 16-bit (astropy writes BZERO = 32768) ------------------------------
rawu = (5000 * xx + 100 * yy).astype(np.uint16)
h = fits.PrimaryHDU(rawu)
add_common_cards(h.header, "uint16")
h.writeto(path("uint16.fits"), overwrite=True)
entries.append(entry("uint16.fits", 0, 16, rawu, no_nulls))

# --- uint8 with BSCALE = 2, BZERO = -100 ---------------------------------------
raw8s = ((3 * xx + 11 * yy) % 256).astype(np.uint8)
write_raw_then_scale("scaled8.fits", raw8s, "scaled8", 2.0, -100.0)
entries.append(entry("scaled8.fits", 0, 8, raw8s.astype(np.float64) * 2.0 - 100.0, no_nulls))

# --- int32 with BLANK (unscaled) --------------------------------------------------
rawb = (1000 * xx + yy).astype(np.int32)
nulls_b = np.zeros((H, W), dtype=bool)
for (y, x) in [(0, 0), (4, 7), (5, 7)]:
    rawb[y, x] = -999
    nulls_b[y, x] = True
write_raw_then_scale("int32_blank.fits", rawb, "int32_blank", blank=-999)
entries.append(entry("int32_blank.fits", 0, 32, rawb, nulls_b))

# --- 3-band cube with WCS -------------------------------------------------------
bands = ["g", "r", "i"]
cube = np.stack([b * 100 + xx + 0.5 * yy for b in range(3)]).astype(np.float32)
h = fits.PrimaryHDU(cube)
add_common_cards(h.header, "cube3")
h.header["BUNIT"] = ("nanomaggy", "flux unit")
for i, b in enumerate(bands):
    h.header["BAND%d" % (i + 1)] = (b, "band of plane %d" % (i + 1))
h.header["CTYPE1"] = "RA---TAN"
h.header["CTYPE2"] = "DEC--TAN"
h.header["CRVAL1"] = 202.4696
h.header["CRVAL2"] = 47.1952
h.header["CRPIX1"] = 6.5
h.header["CRPIX2"] = 5.0
h.header["CD1_1"] = -0.168 / 3600
h.header["CD1_2"] = 0.0
h.header["CD2_1"] = 0.0
h.header["CD2_2"] = 0.168 / 3600
h.writeto(path("cube3.fits"), overwrite=True)
entries.append(entry("cube3.fits", 0, -32, cube, np.zeros(cube.shape, dtype=bool), bands=bands))

# --- named extensions ------------------------------------------------------------
prim = fits.PrimaryHDU()
prim.header["OBJECT"] = ("extensions", "fixture name")
sci = (xx * 0.5 - yy * 2.0).astype(np.float32)
err = (xx + 10 * yy).astype(np.int16)
msk = ((xx + yy) % 2).astype(np.uint8)
hs = fits.ImageHDU(sci, name="SCI")
hs.header["BUNIT"] = "electron/s"
he = fits.ImageHDU(err, name="ERR")
hm = fits.ImageHDU(msk, name="MASK")
tab = fits.BinTableHDU.from_columns([fits.Column(name="ID", format="J", array=np.arange(3))], name="CAT")
fits.HDUList([prim, hs, he, hm, tab]).writeto(path("extensions.fits"), overwrite=True)
entries.append(entry("extensions.fits", 1, -32, sci, no_nulls, extname="SCI"))
entries.append(entry("extensions.fits", 2, 16, err, no_nulls, extname="ERR"))
entries.append(entry("extensions.fits", 3, 8, msk, no_nulls, extname="MASK"))

# --- tile-compressed images --------------------------------------------------------
rice = (xx * 300 - yy * 41 + 7).astype(np.int16)
gz = ((xx - 3.3) * (yy + 0.7) * 0.01).astype(np.float32)
hr = fits.CompImageHDU(rice, name="RICEIMG", compression_type="RICE_1", tile_shape=(3, 4))
hr.header["OBJECT"] = ("rice", "fixture name")
hg = fits.CompImageHDU(gz, name="GZIPIMG", compression_type="GZIP_2", quantize_level=0.0)
hg.header["OBJECT"] = ("gzip", "fixture name")
fits.HDUList([fits.PrimaryHDU(), hr, hg]).writeto(path("compressed.fits"), overwrite=True)
with fits.open(path("compressed.fits")) as hdul:
    assert np.array_equal(hdul[1].data, rice), "RICE_1 int16 must be lossless"
    assert np.array_equal(hdul[2].data, gz), "GZIP_2 float32 with quantize_level 0 must be lossless"
entries.append(entry("compressed.fits", 1, 16, rice, no_nulls, extname="RICEIMG"))
entries.append(entry("compressed.fits", 2, -32, gz, no_nulls, extname="GZIPIMG"))

# --- broken files --------------------------------------------------------------------
e = fits.PrimaryHDU()
e.header["OBJECT"] = ("empty", "no data")
e.writeto(path("empty.fits"), overwrite=True)
with open(path("notfits.fits"), "w") as f:
    f.write("This is a plain text file, not FITS.\n" * 20)
with open(path("bitpix16.fits"), "rb") as f:
    whole = f.read()
data_bytes = W * H * 2
with open(path("truncated.fits"), "wb") as f:
    f.write(whole[:2880 + data_bytes // 2])
with open(path("truncated_header.fits"), "wb") as f:
    f.write(whole[:1000])

with open(path("fits_expected.json"), "w") as f:
    json.dump({"generator": "make_fits_fixtures.py", "astropy": astropy.__version__,
               "numpy": np.__version__, "width": W, "height": H, "images": entries}, f, indent=1)

total = sum(os.path.getsize(path(n)) for n in os.listdir(HERE))
print("fixtures written, %d bytes in total" % total)
