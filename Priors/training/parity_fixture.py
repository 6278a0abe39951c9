"""Writes the PyTorch reference for a shipped prior: the network output on a fixed input
(issue 6: "Tweedie's network output on the shipped weights matches PyTorch's to 1e-4 relative
on a fixed input (fixture + script committed)").

The input is seeded and independent of the weights: x ~ N(0, 1) from torch.Generator seed 20261121
(shape [4][C][64][64]), timesteps (0, 250, 500, 999). The reference output is computed in float64
(the float32 weights cast up), so it is the exact output of the stored weights up to float64
rounding; Tweedie's float32 engine must match it to 1e-4 relative (‖Δ‖/‖ref‖).

Writes <prior>/parity.safetensors with tensors `input` (float32), `timesteps` (int64) and
`output` (float64), metadata naming this script and the SHA-256 of the weights file it was made
from (`weights_sha256`): the Swift test (Tests/TweediePriorsTests/ShippedPriorParityTests.swift)
refuses a fixture made from other weights, so rerun this script whenever the weights change
(finalize_prior.sh does).
Usage: python parity_fixture.py Priors/Models/galaxy-gri-64
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

SEED = 20261121
TIMESTEPS = (0, 250, 500, 999)


def reference(prior_dir: str):
    from safetensors.torch import load_file
    from train import build_unet
    config = json.load(open(os.path.join(prior_dir, "config.json")))
    model = build_unet(config)
    model.load_state_dict(load_file(os.path.join(prior_dir, "weights.safetensors")), strict=True)
    model = model.double().eval()
    gen = torch.Generator().manual_seed(SEED)
    x = torch.randn((len(TIMESTEPS), config["in_channels"], config["image_size"], config["image_size"]),
                    generator=gen, dtype=torch.float32)
    t = torch.tensor(TIMESTEPS, dtype=torch.int64)
    with torch.no_grad():
        out = model(x.double(), t)
    return x, t, out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="PyTorch parity fixture for a prior directory.")
    ap.add_argument("prior")
    a = ap.parse_args(argv)
    import hashlib
    from safetensors.torch import save_file
    x, t, out = reference(a.prior)
    weights = os.path.join(a.prior, json.load(open(os.path.join(a.prior, "config.json"))).get("weights", "weights.safetensors"))
    with open(weights, "rb") as f:
        sha = hashlib.sha256(f.read()).hexdigest()
    path = os.path.join(a.prior, "parity.safetensors")
    save_file({"input": x.contiguous(), "timesteps": t.contiguous(), "output": out.contiguous()}, path + ".tmp",
              metadata={"source": "Priors/training/parity_fixture.py", "seed": str(SEED),
                        "note": "output in float64 from the float32 weights", "weights_sha256": sha})
    os.replace(path + ".tmp", path)
    print(f"wrote {path}: input {tuple(x.shape)}, timesteps {TIMESTEPS}, |output| rms {out.pow(2).mean().sqrt():.4g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
