"""PNG grids of training images or samples, for looking at them (no matplotlib / PIL needed).

Writes 8-bit RGB (3 bands: i, r, g → R, G, B, the usual astronomical colour order) or
grey (1 band) PNGs with zlib, following the PNG specification (signature, IHDR, IDAT
with filter byte 0 per row, IEND, CRC-32 per chunk). Input images are in network space
u ∈ [−1, 1] ([N][C][H][W]), mapped linearly to 0..255 and clipped.
"""

from __future__ import annotations

import os
import struct
import zlib

import numpy as np


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def write_png(path: str, pixels: np.ndarray) -> None:
    """pixels: uint8 [H][W][3] or [H][W]. Atomic write (temp + rename)."""
    if pixels.ndim == 2:
        colour_type, rows = 0, pixels
    else:
        colour_type, rows = 2, pixels.reshape(pixels.shape[0], -1)
    h, w = pixels.shape[:2]
    raw = b"".join(b"\x00" + rows[y].astype(np.uint8).tobytes() for y in range(h))
    data = (b"\x89PNG\r\n\x1a\n"
            + _chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, colour_type, 0, 0, 0))
            + _chunk(b"IDAT", zlib.compress(raw, 9)) + _chunk(b"IEND", b""))
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def grid(u: np.ndarray, columns: int = 8, zoom: int = 2, gap: int = 2) -> np.ndarray:
    """Tiles [N][C][H][W] network-space images into one uint8 picture (C = 1 or 3)."""
    n, c, h, w = u.shape
    rows = (n + columns - 1) // columns
    v = np.clip((np.asarray(u, dtype=np.float64) + 1) / 2, 0, 1)
    v = v[:, ::-1] if c == 3 else v[:, :1]           # bands g, r, i → (i, r, g) as RGB
    v = np.kron(v, np.ones((1, 1, zoom, zoom)))
    hh, ww = h * zoom, w * zoom
    out = np.full((rows * (hh + gap) + gap, columns * (ww + gap) + gap, v.shape[1]), 1.0)
    for k in range(n):
        y0 = gap + (k // columns) * (hh + gap)
        x0 = gap + (k % columns) * (ww + gap)
        out[y0:y0 + hh, x0:x0 + ww] = v[k].transpose(1, 2, 0)
    out = (out * 255 + 0.5).astype(np.uint8)
    # images are stored with y up (row 0 = bottom, FITS order); PNG rows go top-down.
    out = out[::-1]
    return out[..., 0] if out.shape[2] == 1 else out
