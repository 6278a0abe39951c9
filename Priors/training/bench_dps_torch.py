"""PyTorch timing of one DPS step on the reference U-Net of DESIGN §7, the yardstick
for `tweedie bench dps --reference` (run both back to back on the same machine and compare).

Same problem as the Swift benchmark: 64×64×1 reference network with random weights,
a Gaussian PSF (FWHM 2 px, 41² stamp) applied by linear (zero-padded) FFT convolution
and its adjoint through autograd, σ = 0.05, cosine schedule respaced to `--steps`
steps, guidance ζ = 0.1 on ∇‖r‖ with per-sample norms (DESIGN §5.1). Reports ms per
step per image at the given batch.

Usage: python3 Priors/training/bench_dps_torch.py [--batch 8] [--threads 2] [--steps 5] [--repeats 3]
"""

import argparse
import math
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_unet_torch import reference_model  # noqa: E402
from diffusion import alphas_cumprod  # noqa: E402


def gaussian_psf(fwhm=2.0, size=41):
    s = fwhm / (2 * math.sqrt(2 * math.log(2)))
    r = torch.arange(size, dtype=torch.float64) - size // 2
    g = torch.exp(-(r[:, None] ** 2 + r[None, :] ** 2) / (2 * s * s))
    return (g / g.sum()).float()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    model = reference_model()
    n, k = 64, 41
    size = n + k - 1
    kernel = torch.zeros(size, size)
    kernel[:k, :k] = gaussian_psf(size=k)
    kf = torch.fft.rfft2(kernel)
    sigma, zeta = 0.05, 0.1

    def A(x):  # linear convolution, 'same' crop
        xf = torch.fft.rfft2(torch.nn.functional.pad(x, (0, k - 1, 0, k - 1)))
        full = torch.fft.irfft2(xf * kf, s=(size, size))
        return full[..., k // 2:k // 2 + n, k // 2:k // 2 + n]

    abar_full = torch.tensor(alphas_cumprod("cosine", 1000), dtype=torch.float64)
    ts = torch.linspace(0, 999, args.steps).round().long()
    abar = abar_full[ts]
    y = torch.randn(1, 1, n, n)
    b = args.batch

    def run():
        x = torch.randn(b, 1, n, n)
        for i in range(args.steps - 1, -1, -1):
            a = float(abar[i]); ap_ = float(abar[i - 1]) if i > 0 else 1.0
            beta = 1 - a / ap_
            xr = x.clone().requires_grad_(True)
            eps = model(xr, torch.full((b,), int(ts[i])))
            x0 = (xr - math.sqrt(1 - a) * eps) / math.sqrt(a)
            r = (y - A(x0)) / sigma
            norms = r.flatten(1).norm(dim=1)
            (g,) = torch.autograd.grad(norms.sum(), xr)
            with torch.no_grad():
                c1 = beta * math.sqrt(ap_) / (1 - a)
                c2 = math.sqrt(1 - beta) * (1 - ap_) / (1 - a)
                var = beta * (1 - ap_) / (1 - a)
                z = torch.randn_like(x) if i > 0 else 0
                x = c1 * x0 + c2 * x + math.sqrt(var) * z - zeta * g
        return x

    run()
    times = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        run()
        times.append((time.perf_counter() - t0) * 1000 / (args.steps * b))
    times.sort()
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, batch {b}, {args.steps} steps")
    print(f"DPS step: {times[0]:7.1f} ms per step per image (best of {args.repeats}), median {times[len(times) // 2]:7.1f}")
    print(f"load: {os.getloadavg()}")


if __name__ == "__main__":
    main()
