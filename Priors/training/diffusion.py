"""Discrete DDPM noise schedules and the ε-prediction training loss, as in openai
improved-diffusion (Nichol & Dhariwal 2021; DESIGN §4.2) — the schedule Tweedie's
`NoiseSchedule` computes, so the network is trained on exactly the ᾱ_t it is sampled with.

Index convention: t ∈ 0..T−1, ᾱ_t = Π_{j ≤ t}(1 − β_j), x_t = √ᾱ_t x0 + √(1 − ᾱ_t) ε.
cosine: f(s) = cos²(((s/T) + 0.008)/1.008 · π/2), β_t = min(1 − f(t+1)/f(t), 0.999);
linear: β from 1e-4·1000/T to 0.02·1000/T, evenly spaced. Float64 throughout.
The network is called with the integer index t (improved-diffusion's rescale_timesteps
maps t ↦ t·1000/T, the identity for T = 1000).
"""

from __future__ import annotations

import math

import numpy as np
import torch


def betas(kind: str, T: int) -> np.ndarray:
    if T < 2:
        raise ValueError(f"diffusion_steps must be ≥ 2, got {T}")
    if kind == "linear":
        scale = 1000.0 / T
        return np.linspace(scale * 1e-4, scale * 0.02, T, dtype=np.float64)
    if kind == "cosine":
        def f(s):
            return math.cos((s / T + 0.008) / 1.008 * math.pi / 2) ** 2
        return np.array([min(1 - f(i + 1) / f(i), 0.999) for i in range(T)], dtype=np.float64)
    raise ValueError(f"unknown noise_schedule '{kind}' (linear or cosine)")


def alphas_cumprod(kind: str, T: int) -> np.ndarray:
    return np.cumprod(1.0 - betas(kind, T))


class EpsilonLoss:
    """MSE between the network's output and its target for x_t = √ᾱ x0 + √(1−ᾱ) ε: ε itself
    (the "simple" loss, target "epsilon") or v = √ᾱ ε − √(1−ᾱ) x0 (Salimans & Ho 2022, target "v").
    With ε-prediction x̂0 = (x_t − √(1−ᾱ) ε̂)/√ᾱ amplifies the output's error by 1/√ᾱ, which is
    ≈ 600 at the cosine schedule's last step: the first sampling steps then set each image's mean
    level from noise. v-prediction gives x̂0 = √ᾱ x_t − √(1−ᾱ) v̂, well posed at every t."""

    def __init__(self, kind: str, T: int, device, target: str = "epsilon"):
        if target not in ("epsilon", "v"):
            raise ValueError(f"unknown prediction target '{target}' (epsilon or v)")
        self.target = target
        ab = alphas_cumprod(kind, T)
        self.T = T
        self.sqrt_ab = torch.tensor(np.sqrt(ab), dtype=torch.float32, device=device)
        self.sqrt_1mab = torch.tensor(np.sqrt(1 - ab), dtype=torch.float32, device=device)

    def __call__(self, model, x0: torch.Tensor, generator: torch.Generator):
        """Returns (mean loss, per-image loss, t)."""
        n = x0.shape[0]
        t = torch.randint(0, self.T, (n,), generator=generator, device=x0.device)
        eps = torch.randn(x0.shape, generator=generator, device=x0.device)
        a = self.sqrt_ab[t].view(n, 1, 1, 1)
        b = self.sqrt_1mab[t].view(n, 1, 1, 1)
        out = model(a * x0 + b * eps, t).float()
        target = eps if self.target == "epsilon" else a * eps - b * x0
        per = ((out - target) ** 2).mean(dim=(1, 2, 3))
        return per.mean(), per.detach(), t
