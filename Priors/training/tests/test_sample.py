# The PyTorch reference sampler (sample.py) against a closed form: for Gaussian data
# x0 ~ N(μ, s²) per pixel the exact ε-predictor is E[ε | x_t] = √(1−ᾱ)(x_t − √ᾱ μ)/(ᾱ s² + 1 − ᾱ);
# ancestral sampling with it must return N(μ, s²). Plus respacing against improved-diffusion's rule.

import numpy as np
import torch

import diffusion
import sample


class ExactGaussianEps(torch.nn.Module):
    def __init__(self, mu, s, ab):
        super().__init__()
        self.mu, self.s, self.ab = mu, s, torch.tensor(ab, dtype=torch.float64)

    def forward(self, x, t):
        a = self.ab[t].view(-1, 1, 1, 1).float()
        return torch.sqrt(1 - a) * (x - torch.sqrt(a) * self.mu) / (a * self.s ** 2 + 1 - a)


def test_respaced_timesteps_match_improved_diffusion_rule():
    assert sample.respaced_timesteps(1000, 1000) == list(range(1000))
    ts = sample.respaced_timesteps(1000, 4)
    assert ts == [0, 333, 666, 999]


def test_ancestral_sampling_with_the_exact_denoiser_returns_the_data_distribution():
    cfg = {"noise_schedule": "cosine", "diffusion_steps": 1000, "in_channels": 1, "image_size": 16}
    mu, s = 0.3, 0.2
    model = ExactGaussianEps(mu, s, diffusion.alphas_cumprod("cosine", 1000))
    x = sample.sample(model, cfg, 16, 200, seed=1, batch=16, device=torch.device("cpu"))
    assert abs(x.mean() - mu) < 0.01
    assert abs(x.std() / s - 1) < 0.05


def test_to_physical_inverts_the_generators_transforms():
    import galaxies, radio_skies
    x = np.array([0.0, 1e-3, 0.3])
    np.testing.assert_allclose(sample.to_physical(galaxies.to_network(x), galaxies.pixel_transform_config()), x,
                               atol=1e-12)
    y = np.array([0.0, 1e-6, 2e-5])
    np.testing.assert_allclose(sample.to_physical(radio_skies.to_network(y), radio_skies.pixel_transform_config()),
                               y, atol=1e-18)
