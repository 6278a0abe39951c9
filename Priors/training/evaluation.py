"""Shared pieces of the prior evaluations (evaluate_galaxy.py, evaluate_radio.py): loading two
image sets and comparing per-object statistics with the two-sample Kolmogorov–Smirnov test.

Image sets are [N][C][H][W] arrays, read from
  * .npy files (as written by galaxies.py / radio_skies.py --out),
  * FITS files: a 4-D cube [N][C][H][W] (NAXIS1 = x fastest), a 3-D cube read as one image
    [C][H][W] when C matches the expected band count and as [N][H][W] otherwise, or
  * a directory or a glob of FITS files, one image (or cube) per file, concatenated in
    sorted file-name order.
Images are in physical units (the prior's flux unit), or in network space with
--space network (then the prior's pixel transform maps them back).
"""

from __future__ import annotations

import glob
import hashlib
import json
import os

import numpy as np


def _fits_arrays(path: str, channels: int) -> np.ndarray:
    from astropy.io import fits
    with fits.open(path, memmap=False) as hdul:
        data = next((h.data for h in hdul if getattr(h, "data", None) is not None and h.data.ndim >= 2), None)
        if data is None:
            raise ValueError(f"{path}: no image HDU")
        a = np.asarray(data, dtype=np.float64)
    if a.ndim == 2:
        return a[None, None]
    if a.ndim == 3:
        return a[None] if a.shape[0] == channels else a[:, None]
    if a.ndim == 4:
        return a
    raise ValueError(f"{path}: {a.ndim}-D data; expected 2–4 dimensions")


def load_images(path: str, channels: int) -> np.ndarray:
    """[N][C][H][W] float64 from a .npy / FITS file, a directory of FITS files or a glob."""
    if os.path.isdir(path):
        files = sorted(glob.glob(os.path.join(path, "*.fits")) + glob.glob(os.path.join(path, "*.fit")))
    elif any(ch in path for ch in "*?["):
        files = sorted(glob.glob(path))
    else:
        files = [path]
    if not files:
        raise ValueError(f"{path}: no files")
    parts = []
    for f in files:
        if f.endswith(".npy"):
            a = np.load(f).astype(np.float64)
            parts.append(a[:, None] if a.ndim == 3 else a)
        else:
            parts.append(_fits_arrays(f, channels))
    x = np.concatenate(parts)
    if x.shape[1] != channels:
        raise ValueError(f"{path}: images have {x.shape[1]} channels, expected {channels}")
    return x


def ks_table(a: dict, b: dict, names: list[str]) -> list[dict]:
    """Two-sample KS statistic D (and p-value) of each named statistic; NaNs are dropped."""
    from scipy.stats import ks_2samp
    rows = []
    for k in names:
        x = np.asarray(a[k], dtype=np.float64)
        y = np.asarray(b[k], dtype=np.float64)
        x, y = x[np.isfinite(x)], y[np.isfinite(y)]
        r = ks_2samp(x, y)
        rows.append({"statistic": k, "D": float(r.statistic), "p": float(r.pvalue), "n_a": int(len(x)),
                     "n_b": int(len(y)), "median_a": float(np.median(x)) if len(x) else float("nan"),
                     "median_b": float(np.median(y)) if len(y) else float("nan")})
    return rows


def print_table(rows: list[dict], label_a: str, label_b: str, limit: float | None = 0.15) -> None:
    print(f"| statistic | KS D | p | n ({label_a}) | n ({label_b}) | median ({label_a}) | median ({label_b}) |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        flag = " ✗" if limit is not None and r["D"] > limit else ""
        print(f"| {r['statistic']} | {r['D']:.3f}{flag} | {r['p']:.3g} | {r['n_a']} | {r['n_b']} "
              f"| {r['median_a']:.4g} | {r['median_b']:.4g} |")


def write_json(path: str, doc: dict) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=1)
    os.replace(tmp, path)


def parallel_map(fn, items, processes: int):
    if processes <= 1:
        return [fn(x) for x in items]
    import multiprocessing as mp
    with mp.get_context("spawn").Pool(processes) as pool:
        return pool.map(fn, items, chunksize=max(1, len(items) // (4 * processes)))


def file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def measured_statistics(path: str, images_of, measure, settings: dict, cache: bool = False) -> dict:
    """measure(images_of(path)) — a dict of per-object statistics — optionally cached beside the
    file as <path>.stats.json. The cache is keyed by the file's SHA-256 and `settings` (the
    evaluator with its script's SHA-256, the generator version and the options): if either
    differs, the set is measured again and the cache rewritten. Array statistics come back as
    float64 arrays; other entries as JSON gives them."""
    if not cache or not os.path.isfile(path):
        return measure(images_of(path))
    key = {"sha256": file_sha256(path), "settings": settings}
    store = path + ".stats.json"
    if os.path.exists(store):
        with open(store) as f:
            doc = json.load(f)
        if doc.get("key") == key:
            return {k: np.asarray(v, dtype=np.float64) if doc["arrays"].get(k) else v
                    for k, v in doc["statistics"].items()}
    stats = measure(images_of(path))
    arrays = {k: isinstance(v, np.ndarray) for k, v in stats.items()}
    write_json(store, {"key": key, "arrays": arrays,
                       "statistics": {k: v.tolist() if arrays[k] else v for k, v in stats.items()}})
    return stats
