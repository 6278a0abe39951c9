# Tests of the training loop (train.py, diffusion.py) with a throwaway tiny ε-network: the
# schedule against DESIGN §4.2's closed-form values, D4 augmentation against numpy, bit-exact
# resumption, and the exported prior directory read back with safetensors.

import csv
import json
import os

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

import diffusion
import train


def test_cosine_schedule_matches_design_values():
    b = diffusion.betas("cosine", 1000)
    ab = diffusion.alphas_cumprod("cosine", 1000)
    assert abs(b[0] - 4.128e-5) < 1e-8 and b[999] == 0.999 and abs(ab[499] - 0.4938) < 1e-4
    lin = diffusion.betas("linear", 1000)
    assert lin[0] == pytest.approx(1e-4) and lin[-1] == pytest.approx(0.02)


def test_dihedral_matches_numpy_and_gives_eight_distinct_images():
    x = torch.randn(8, 3, 6, 6)
    x[:] = x[0]
    y = train.dihedral(x, torch.arange(8))
    for op in range(8):
        ref = np.rot90(x[0].numpy(), op % 4, axes=(1, 2))
        if op >= 4:
            ref = ref[:, :, ::-1]
        np.testing.assert_array_equal(y[op].numpy(), ref)
    flat = {tuple(v.flatten().tolist()) for v in y}
    assert len(flat) == 8


def _args(tmp_path, steps, **kw):
    argv = ["--prior", kw.pop("prior", "radio"), "--steps", str(steps), "--out", str(tmp_path / "run"),
            "--data-dir", str(tmp_path / "data"), "--dataset-size", "64", "--batch-size", "4",
            "--log-every", "5", "--checkpoint-every", "1000", "--threads", "1", "--warmup", "3"]
    for k, v in kw.items():
        argv += [f"--{k.replace('_', '-')}", str(v)]
    return train.parser().parse_args(argv)


def test_resumed_run_equals_an_uninterrupted_run(tmp_path, tiny_factory):
    quiet = lambda *a: None  # noqa: E731
    train.train(_args(tmp_path / "a", 12), tiny_factory, log=quiet)
    train.train(_args(tmp_path / "b", 12, stop_after=5), tiny_factory, log=quiet)
    ck = torch.load(tmp_path / "b" / "run" / "checkpoint.pt", weights_only=False)
    assert ck["step"] == 5
    assert not (tmp_path / "b" / "run" / "prior").exists()
    train.train(_args(tmp_path / "b", 12), tiny_factory, log=quiet)
    wa = load_file(str(tmp_path / "a" / "run" / "prior" / "weights.safetensors"))
    wb = load_file(str(tmp_path / "b" / "run" / "prior" / "weights.safetensors"))
    assert wa.keys() == wb.keys()
    for k in wa:
        assert torch.equal(wa[k], wb[k]), k
    rows_a = list(csv.DictReader(open(tmp_path / "a" / "run" / "loss.csv")))
    rows_b = list(csv.DictReader(open(tmp_path / "b" / "run" / "loss.csv")))
    assert [r["step"] for r in rows_a] == [r["step"] for r in rows_b] == ["5", "10", "12"]
    # rows after the resume point are recomputed identically; the row at step 5 was logged before it.
    assert [r["loss"] for r in rows_a] == [r["loss"] for r in rows_b]


def test_resume_with_other_settings_is_refused(tmp_path, tiny_factory):
    quiet = lambda *a: None  # noqa: E731
    train.train(_args(tmp_path, 3), tiny_factory, log=quiet)
    with pytest.raises(SystemExit, match="other settings"):
        train.train(_args(tmp_path, 6, lr=1e-3), tiny_factory, log=quiet)


def test_export_is_the_ema_state_dict_with_the_declared_config(tmp_path, tiny_factory):
    quiet = lambda *a: None  # noqa: E731
    train.train(_args(tmp_path, 10, prior="galaxy", ema_rate=0.9), tiny_factory, log=quiet)
    prior = tmp_path / "run" / "prior"
    w = load_file(str(prior / "weights.safetensors"))
    ck = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=False)
    assert w.keys() == ck["ema"].keys()
    for k, v in w.items():
        assert v.dtype == torch.float32 and torch.equal(v, ck["ema"][k])
    # EMA differs from the raw weights after training (rate < 1), so the EMA, not the model, was exported.
    assert any(not torch.equal(w[k], ck["model"][k]) for k in w)
    cfg = json.load(open(prior / "config.json"))
    assert cfg["architecture"] == "improved-diffusion" and cfg["in_channels"] == 3 and cfg["image_size"] == 64
    assert cfg["noise_schedule"] == "cosine" and cfg["diffusion_steps"] == 1000 and cfg["predict_xstart"] is False
    assert cfg["prediction_type"] == "epsilon"
    p = cfg["prior"]
    assert p["bands"] == ["g", "r", "i"] and p["pixel_scale"] == 0.6 and p["pixel_scale_unit"] == "kpc/px"
    assert p["pixel_transform"] == {"type": "asinh", "softening": 1e-3, "gain": 0.29, "offset": -1.0}
    assert cfg["training"]["steps"] == 10
    import hashlib
    assert p["weights_sha256"] == hashlib.sha256((prior / "weights.safetensors").read_bytes()).hexdigest()
    assert (prior / "loss.csv").exists()
    assert not [f for f in os.listdir(prior) if f.endswith(".tmp")]


def test_ema_with_warmup_follows_the_closed_form():
    m = torch.nn.Linear(1, 1, bias=False)
    e = torch.nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        m.weight.fill_(1.0); e.weight.fill_(0.0)
    train.ema_update(e, m, 0.75)
    assert float(e.weight.detach()) == pytest.approx(0.25)


def test_training_set_cache_is_reused_and_equals_direct_generation(tmp_path):
    import datasets, radio_skies
    a = datasets.training_set("radio", 20, str(tmp_path), log=lambda *x: None)
    mtime = os.path.getmtime(tmp_path / "radio-v1-train-20.npy")
    b = datasets.training_set("radio", 20, str(tmp_path), log=lambda *x: None)
    assert os.path.getmtime(tmp_path / "radio-v1-train-20.npy") == mtime
    ref = radio_skies.to_network(radio_skies.generate(range(20))).astype(np.float32)
    assert np.array_equal(np.asarray(a), ref) and np.array_equal(np.asarray(b), ref)


def test_time_limit_checkpoints_and_leaves_without_export(tmp_path, tiny_factory):
    train.train(_args(tmp_path, 50, time_limit=1e-9), tiny_factory, log=lambda *a: None)
    ck = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=False)
    assert ck["step"] == 1 and not (tmp_path / "run" / "prior").exists()


def test_v_target_is_exact_for_a_model_that_knows_it():
    # x0 = 0: x_t = √(1−ᾱ) ε, so ε = x_t/√(1−ᾱ) and v = √ᾱ ε − √(1−ᾱ)·0 = √ᾱ/√(1−ᾱ) x_t;
    # a "network" computing that has zero loss for its target and a clearly non-zero one for the other.
    import diffusion
    ab = torch.tensor(diffusion.alphas_cumprod("cosine", 1000), dtype=torch.float32)

    def oracle(target):
        def model(x, t):
            a, b = ab[t].sqrt().view(-1, 1, 1, 1), (1 - ab[t]).sqrt().view(-1, 1, 1, 1)
            return x / b if target == "epsilon" else a / b * x
        return model

    x0 = torch.zeros(64, 1, 8, 8)
    for target, other in [("epsilon", "v"), ("v", "epsilon")]:
        loss_fn = diffusion.EpsilonLoss("cosine", 1000, "cpu", target=target)
        loss, _, _ = loss_fn(oracle(target), x0, torch.Generator().manual_seed(1))
        wrong, _, _ = loss_fn(oracle(other), x0, torch.Generator().manual_seed(1))
        assert loss.item() < 1e-8
        assert wrong.item() > 1e-2
