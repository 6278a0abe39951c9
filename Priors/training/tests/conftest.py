# Shared helpers for the training-pipeline tests (pytest, CPU only, seconds each).
# `TinyEpsNet` is a throwaway ε-network with the U-Net's call signature model(x, t); it stands in
# for unet.UNetModel where a test checks the training loop itself, not the architecture.

import math
import os
import sys

import pytest
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))


class TinyEpsNet(torch.nn.Module):
    def __init__(self, channels: int, width: int = 16):
        super().__init__()
        self.width = width
        self.inp = torch.nn.Conv2d(channels, width, 3, padding=1)
        self.emb = torch.nn.Linear(width, width)
        self.mid = torch.nn.Conv2d(width, width, 3, padding=1)
        self.out = torch.nn.Conv2d(width, channels, 3, padding=1)

    def forward(self, x, t):
        half = self.width // 2
        f = torch.exp(-math.log(10000) * torch.arange(half, dtype=torch.float32, device=x.device) / half)
        a = t.float()[:, None] * f[None]
        e = self.emb(torch.cat([torch.cos(a), torch.sin(a)], dim=1))
        h = torch.nn.functional.silu(self.inp(x)) + e[:, :, None, None]
        h = torch.nn.functional.silu(self.mid(h))
        return self.out(h)


@pytest.fixture
def tiny_factory():
    return lambda config: TinyEpsNet(config["in_channels"])
