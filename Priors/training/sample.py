"""Unconditional samples from an exported prior directory with PyTorch — a reference to look at
a training run and to cross-check Tweedie's own `prior sample` (which is what the model card's
evaluation uses).

Ancestral DDPM sampling (Ho et al. 2020, Eq. 11) on a respaced schedule (improved-diffusion's
`space_timesteps(T, [K])`: K original steps at stride (T − 1)/(K − 1), rounded; β recomputed
from consecutive kept ᾱ; the network called with the original index), with the posterior
variance β̃_t = β_t (1 − ᾱ_{t−1})/(1 − ᾱ_t) ("fixed small"), ε- or v-prediction (config prediction_type),
no clipping.

Writes <out>.npy ([N][C][64][64] in the prior's physical unit, through its pixel transform)
and <out>.png (a grid in network space).
Usage: python sample.py runs/galaxy/prior --count 64 --steps 250 --out runs/galaxy/samples
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import diffusion  # noqa: E402
import previews  # noqa: E402


def respaced_timesteps(T: int, K: int) -> list[int]:
    if K >= T:
        return list(range(T))
    if K == 1:
        return [T - 1]
    stride = (T - 1) / (K - 1)
    return [int(round(i * stride)) for i in range(K)]


def to_physical(u: np.ndarray, transform: dict) -> np.ndarray:
    u = np.asarray(u, dtype=np.float64)
    if transform["type"] == "asinh":
        return transform["softening"] * np.sinh((u - transform["offset"]) / transform["gain"])
    if transform["type"] == "gamma-root":
        v = (u + 1) / 2
        return transform.get("max", transform.get("max_value")) * np.sign(v) * np.abs(v) ** transform["gamma"]
    if transform["type"] == "affine":
        return transform["scale"] * u + transform["offset"]
    raise ValueError(f"unknown pixel transform {transform['type']}")


@torch.no_grad()
def sample(model, config: dict, count: int, steps: int, seed: int, batch: int, device) -> np.ndarray:
    ab_full = diffusion.alphas_cumprod(config["noise_schedule"], config["diffusion_steps"])
    ts = respaced_timesteps(config["diffusion_steps"], steps)
    ab = ab_full[ts]
    ab_prev = np.concatenate([[1.0], ab[:-1]])
    beta = 1 - ab / ab_prev
    var = beta * (1 - ab_prev) / (1 - ab)
    gen = torch.Generator(device=device).manual_seed(seed)
    c, n = config["in_channels"], config["image_size"]
    out = []
    for start in range(0, count, batch):
        b = min(batch, count - start)
        x = torch.randn((b, c, n, n), generator=gen, device=device)
        for i in reversed(range(len(ts))):
            t = torch.full((b,), ts[i], dtype=torch.long, device=device)
            out_t = model(x, t)
            if config.get("prediction_type", "epsilon") == "v":      # x̂0 = √ᾱ x_t − √(1−ᾱ) v̂
                x0 = np.sqrt(ab[i]) * x - np.sqrt(1 - ab[i]) * out_t
            else:                                                    # x̂0 = (x_t − √(1−ᾱ) ε̂)/√ᾱ
                x0 = (x - np.sqrt(1 - ab[i]) * out_t) / np.sqrt(ab[i])
            mean = (np.sqrt(ab_prev[i]) * beta[i] / (1 - ab[i])) * x0 \
                + (np.sqrt(1 - beta[i]) * (1 - ab_prev[i]) / (1 - ab[i])) * x
            x = mean + (np.sqrt(var[i]) * torch.randn(x.shape, generator=gen, device=device) if i > 0 else 0)
        out.append(x.cpu().numpy())
    return np.concatenate(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Unconditional DDPM samples from a prior directory (PyTorch).")
    ap.add_argument("prior", help="folder with config.json and weights.safetensors")
    ap.add_argument("--count", type=int, default=64)
    ap.add_argument("--steps", type=int, default=250, help="respaced sampling steps")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--out", required=True, help="output stem (.npy and .png are added)")
    a = ap.parse_args(argv)
    from safetensors.torch import load_file
    from train import build_unet
    config = json.load(open(os.path.join(a.prior, "config.json")))
    model = build_unet(config).to(a.device).eval()
    model.load_state_dict(load_file(os.path.join(a.prior, "weights.safetensors")), strict=True)
    u = sample(model, config, a.count, a.steps, a.seed, a.batch, torch.device(a.device))
    x = to_physical(u, config["prior"]["pixel_transform"]).astype(np.float32)
    np.save(a.out + ".npy", x)
    previews.write_png(a.out + ".png", previews.grid(u, columns=8))
    print(f"wrote {a.out}.npy ({len(x)} samples, physical units) and {a.out}.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
