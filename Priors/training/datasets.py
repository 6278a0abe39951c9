"""The two training sets (galaxy, radio) as seeded, cached arrays in network space, and each
prior's metadata for config.json (DESIGN §4.4).

A training set is the first `count` indices of a generator's train split, mapped to the
network space u by the prior's pixel transform, stored as float32 [N][C][64][64] in
`Priors/training/data/` (ignored by git) as `<prior>-v<generator version>-train-<count>.npy`
with a JSON sidecar. The file is written atomically (temp + rename) and reused when its
sidecar matches; the images depend only on their indices, so the file is the same
whoever makes it (any process count).
"""

from __future__ import annotations

import json
import os
import time

import numpy as np

import galaxies
import radio_skies

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_DATA_DIR = os.path.join(HERE, "data")

GENERATORS = {"galaxy": galaxies, "radio": radio_skies}


def prior_metadata(prior: str) -> dict:
    """What a Tweedie prior directory declares about the data space (DESIGN §4.4)."""
    if prior == "galaxy":
        g = galaxies
        return {
            "name": "galaxy-gri-64",
            "bands": list(g.BANDS),
            "image_size": g.IMAGE_SIZE,
            "pixel_scale": g.PIXEL_SCALE_KPC,
            "pixel_scale_unit": "kpc/px",
            "flux_unit": "normalised: the r-band stamp sums to 1 (per-image normalisation)",
            # A safety bound around the data's range in network space (u ≥ −1 as x ≥ 0; the
            # brightest training pixel has u ≈ 0.97), applied to x̂0 by DPS and unconditional
            # sampling as improved-diffusion's clip_denoised. The lower bound sits below −1 on
            # purpose: clipping at exactly the empty sky's value cuts only negative errors, which
            # biased the background upwards and made DPS diverge on the demo (reduced
            # χ² 623 with the step-1,250 weights).
            "x0_clip": [-1.2, 1.2],
            "pixel_transform": g.pixel_transform_config(),
            "image_centre": "pixel (32, 32), 0-based; galaxies shifted by U(-3, 3) px per axis",
            "generator": {"module": "galaxies.py", "version": g.GENERATOR_VERSION,
                          "namespace": g.NAMESPACE, "splits": g.SPLITS},
        }
    if prior == "radio":
        r = radio_skies
        return {
            "name": "radio-sky-64",
            "bands": list(r.BANDS),
            "image_size": r.IMAGE_SIZE,
            "pixel_scale": r.PIXEL_SCALE_ARCSEC,
            "pixel_scale_unit": "arcsec/px",
            "flux_unit": "Jy/pixel",
            "x0_clip": [-1.2, 1.2],  # as the galaxy prior's: a bound around [−1, 0.92]
            "pixel_transform": r.pixel_transform_config(),
            "generator": {"module": "radio_skies.py", "version": r.GENERATOR_VERSION,
                          "namespace": r.NAMESPACE, "splits": r.SPLITS},
        }
    raise ValueError(f"unknown prior '{prior}' (choose galaxy or radio)")


def channels(prior: str) -> int:
    return len(GENERATORS[prior].BANDS)


def _generate(prior: str, indices, processes: int) -> np.ndarray:
    gen = GENERATORS[prior]
    x = gen.generate(indices, processes) if prior == "galaxy" else gen.generate(indices)
    return gen.to_network(x).astype(np.float32)


def training_set(prior: str, count: int, data_dir: str = DEFAULT_DATA_DIR, processes: int = 1,
                 log=print) -> np.ndarray:
    """Network-space training images [count][C][64][64] (memory-mapped from the cache)."""
    gen = GENERATORS[prior]
    lo, hi = gen.SPLITS["train"]
    if not 0 < count <= hi - lo:
        raise ValueError(f"--dataset-size must be in 1..{hi - lo}, got {count}")
    os.makedirs(data_dir, exist_ok=True)
    stem = os.path.join(data_dir, f"{prior}-v{gen.GENERATOR_VERSION}-train-{count}")
    meta = {"prior": prior, "generator_version": gen.GENERATOR_VERSION, "namespace": gen.NAMESPACE,
            "split": "train", "indices": [lo, lo + count], "space": "network",
            "pixel_transform": gen.pixel_transform_config()}
    path, side = stem + ".npy", stem + ".json"
    if os.path.exists(path) and os.path.exists(side):
        with open(side) as f:
            if json.load(f).get("meta") == json.loads(json.dumps(meta)):
                return np.load(path, mmap_mode="r")
        log(f"cache {path} was made with other settings; regenerating")
    t0 = time.time()
    log(f"generating {count} {prior} training images (indices {lo}..{lo + count - 1}, {processes} processes)")
    data = _generate(prior, range(lo, lo + count), processes)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        np.save(f, data)
    os.replace(tmp, path)
    with open(side + ".tmp", "w") as f:
        json.dump({"meta": meta, "seconds": time.time() - t0}, f, indent=1)
    os.replace(side + ".tmp", side)
    log(f"cached {path} ({data.nbytes / 2**20:.1f} MiB, {time.time() - t0:.1f} s)")
    return np.load(path, mmap_mode="r")
