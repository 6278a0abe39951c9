#!/usr/bin/env python3
"""Parity fixtures for the Swift U-Net (Tests/TweediePriorsTests/UNetParityTests.swift).

Builds two random-weight networks with Priors/training/unet.py (the
improved-/guided-diffusion UNetModel architecture and parameter names):

- ``improved``: improved-diffusion, 32 px, 3 channels, 32 channels, 2 res
  blocks, channel_mult 1,1, attention at 16 px (ds 2, T = 256 tokens), 4
  heads, scale-shift norm, legacy attention order;
- ``guided``: guided-diffusion, 16 px, 3 channels, 32 channels, 1 res block,
  channel_mult 1,1,1, attention at 8 and 4 px, num_head_channels 8,
  resblock_updown, new attention order, learn_sigma, additive embedding.

(Narrower than the seed paper's shape so that all fixtures stay under 5 MB:
every extra 64-channel level costs ~1 MB per file.)

The zero-initialised layers (out_layers.3, proj_out, out.2) are re-randomised
and the GroupNorm affines perturbed, so nothing is trivially zero. All weights
are rounded to float16-representable values, so the float16 files hold exactly
the network that produced the outputs. Each network is saved twice:
``<name>.pt`` (torch.save of the state dict; improved in float32, guided in
float16) and ``<name>.safetensors`` (float16). ``<name>_io.safetensors`` holds
float32 inputs ``x`` [B, C, H, W], ``timesteps`` (int64), the network output
``out``, a random cotangent ``cotangent`` and the input VJP ``vjp`` =
(d out / d x)^T cotangent — output and VJP computed by PyTorch in float64 from
the same weights (autograd), then stored as float32. ``<name>.json`` holds the
config (UNetConfig flag names) and the provenance.

Run (torch CPU; torch 2.13 and safetensors were used):
    python3 Tests/TweediePriorsTests/Fixtures/make_unet_fixtures.py
Deterministic (fixed seeds); .pt archives embed a random serialization id, so
their bytes, not their contents, change between runs.
"""

import json
import os
import sys

import torch
from safetensors.torch import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "Priors", "training"))
from unet import UNetModel, parameter_count  # noqa: E402

OUT = os.path.join(HERE, "unet")

CONFIGS = {
    "improved": {
        "architecture": "improved-diffusion", "image_size": 32, "in_channels": 3, "num_channels": 32,
        "num_res_blocks": 2, "channel_mult": "1,1", "attention_resolutions": "16", "num_heads": 4,
        "use_scale_shift_norm": True, "learn_sigma": False, "diffusion_steps": 1000, "noise_schedule": "cosine",
    },
    "guided": {
        "architecture": "guided-diffusion", "image_size": 16, "in_channels": 3, "num_channels": 32,
        "num_res_blocks": 1, "channel_mult": "1,1,1", "attention_resolutions": "8,4", "num_heads": 4,
        "num_head_channels": 8, "use_scale_shift_norm": False, "resblock_updown": True,
        "use_new_attention_order": True, "learn_sigma": True, "diffusion_steps": 1000, "noise_schedule": "cosine",
    },
}
TIMESTEPS = {"improved": [17, 999], "guided": [1, 640]}
PT_DTYPE = {"improved": torch.float32, "guided": torch.float16}


def build(name: str, seed: int) -> UNetModel:
    torch.manual_seed(seed)
    model = UNetModel.from_config(CONFIGS[name]).eval()
    with torch.no_grad():
        for pname, p in model.named_parameters():
            if pname.endswith(("out_layers.3.weight", "proj_out.weight", "out.2.weight")):
                fan_in = p[0].numel()
                p.normal_(0, 1 / fan_in ** 0.5)
            elif pname.endswith(("out_layers.3.bias", "proj_out.bias", "out.2.bias")):
                p.normal_(0, 0.05)
            elif ".norm." in pname or pname.endswith(("in_layers.0.weight", "out_layers.0.weight", "out.0.weight",
                                                      "in_layers.0.bias", "out_layers.0.bias", "out.0.bias")):
                p.add_(0.1 * torch.randn_like(p))
            p.copy_(p.half().float())  # float16-exact: both files hold the same values
    return model


def main():
    os.makedirs(OUT, exist_ok=True)
    for i, name in enumerate(CONFIGS):
        model = build(name, seed=1000 + i)
        cfg = CONFIGS[name]
        b, c, s = 2, cfg["in_channels"], cfg["image_size"]
        g = torch.Generator().manual_seed(2000 + i)
        x = torch.randn(b, c, s, s, generator=g)
        t = torch.tensor(TIMESTEPS[name], dtype=torch.int64)
        model64 = build(name, seed=1000 + i).double()
        x64 = x.double().requires_grad_(True)
        out = model64(x64, t)
        v = torch.randn(out.shape, generator=g)
        (vjp,) = torch.autograd.grad(out, x64, v.double())
        # The float32 network agrees with the float64 one (a sanity check of the oracle itself).
        with torch.no_grad():
            out32 = model(x, t)
        rel = ((out32.double() - out).abs().max() / out.abs().max()).item()
        assert rel < 1e-4, rel

        sd = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
        torch.save({k: v.to(PT_DTYPE[name]) for k, v in sd.items()}, os.path.join(OUT, f"{name}.pt"))
        save_file({k: v.half() for k, v in sd.items()}, os.path.join(OUT, f"{name}.safetensors"))
        save_file({"x": x.contiguous(), "timesteps": t, "out": out.detach().float().contiguous(),
                   "cotangent": v.contiguous(), "vjp": vjp.detach().float().contiguous()},
                  os.path.join(OUT, f"{name}_io.safetensors"))
        meta = {"config": cfg, "parameters": parameter_count(model), "batch": b,
                "pt_dtype": str(PT_DTYPE[name]).replace("torch.", ""), "safetensors_dtype": "float16",
                "float32_vs_float64_output_relative_error": rel,
                "generator": "Tests/TweediePriorsTests/Fixtures/make_unet_fixtures.py",
                "torch": torch.__version__}
        with open(os.path.join(OUT, f"{name}.json"), "w") as f:
            json.dump(meta, f, indent=1)
        print(f"{name}: {meta['parameters']:,} parameters, out {tuple(out.shape)}, "
              f"float32/float64 output rel. diff {rel:.2e}")


if __name__ == "__main__":
    main()
