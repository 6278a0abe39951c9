"""PyTorch timing of the reference U-Net of DESIGN §7, the yardstick for the
Swift U-Net (`tweedie bench unet --reference`).

Reference network: improved-diffusion UNetModel, 64x64x1, num_channels 64,
channel_mult 1,2,2, 2 res blocks, attention at 16 px (ds 4), 4 heads,
scale-shift norm, random weights (the zero-initialised output convs are
re-randomised so nothing is trivially zero). Measures ms per image at a given
batch for the forward pass and for forward + input VJP (autograd.grad of the
output with respect to the input for a random cotangent; parameters do not
require grad, so no weight gradients are computed — what DPS needs).

Usage: python3 Priors/training/bench_unet_torch.py [--batch 8] [--threads 2] [--repeats 5]
"""

import argparse
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from unet import UNetModel, parameter_count  # noqa: E402

REFERENCE = {"architecture": "improved-diffusion", "image_size": 64, "in_channels": 1, "num_channels": 64,
             "num_res_blocks": 2, "channel_mult": "1,2,2", "attention_resolutions": "16", "num_heads": 4,
             "use_scale_shift_norm": True, "learn_sigma": False}


def reference_model(seed: int = 0) -> "UNetModel":
    """The reference network with random weights (zero-initialised output convs re-randomised so
    nothing is trivially zero), frozen: no weight gradients, only input VJPs."""
    torch.manual_seed(seed)
    model = UNetModel.from_config(REFERENCE).eval()
    with torch.no_grad():
        for p in model.parameters():
            if p.abs().max() == 0:
                p.normal_(0, 0.02)
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    model = reference_model()
    b = args.batch
    x = torch.randn(b, 1, 64, 64)
    t = torch.randint(0, 1000, (b,))
    v = torch.randn(b, 1, 64, 64)

    def forward():
        with torch.no_grad():
            model(x, t)

    def forward_vjp():
        xr = x.clone().requires_grad_(True)
        out = model(xr, t)
        (g,) = torch.autograd.grad(out, xr, v)
        return g

    def best_ms(fn):
        fn()  # warm-up
        times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return min(times) * 1000 / b, sorted(times)[len(times) // 2] * 1000 / b

    f_best, f_med = best_ms(forward)
    fv_best, fv_med = best_ms(forward_vjp)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, batch {b}, "
          f"parameters {parameter_count(model):,}")
    print(f"forward:       {f_best:7.1f} ms/image (best of {args.repeats}), median {f_med:7.1f}")
    print(f"forward + VJP: {fv_best:7.1f} ms/image (best of {args.repeats}), median {fv_med:7.1f}")
    print(f"load: {os.getloadavg()}")


if __name__ == "__main__":
    main()
