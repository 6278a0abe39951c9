"""DDPM training of Tweedie's bundled priors and export to a Tweedie prior directory.

Trains the improved-diffusion U-Net (`unet.py`, openai parameter names) with the
ε-prediction "simple" loss (Ho et al. 2020; Nichol & Dhariwal 2021) on the seeded
generators `galaxies.py` / `radio_skies.py`, and writes the EMA weights in the format
`tweedie` loads (DESIGN §4.3–4.4): `config.json` + `weights.safetensors` (float32,
names exactly the U-Net's state_dict keys).

Recipe (defaults; all flags below):
  * schedule: cosine, T = 1000 (the seed paper's and improved-diffusion's; T = 1000 also
    makes improved-diffusion's rescale_timesteps the identity, so the Swift engine calls
    the network with the same integer t);
  * loss: MSE(ε̂, ε), t ~ U{0..T−1}, ε ~ N(0, I); AdamW (β = 0.9, 0.999, weight decay 0,
    as improved-diffusion), constant learning rate after a linear warm-up; gradient-norm
    clipping at 1.0;
  * EMA of the weights with rate min(ema_rate, (1 + step)/(10 + step)) — the warm-up lets a
    short run's EMA follow the fast early changes; ema_rate 0.999 (time constant 1000
    steps) suits CPU runs of 10⁴ steps, 0.9999 (improved-diffusion's) GPU runs of ≥ 10⁵;
  * data: the first --dataset-size images of the generator's train split, cached in
    network space under Priors/training/data/, each batch drawn with replacement and
    transformed by a random element of the dihedral group D4 (rotations by 90° and
    flips: both generators' distributions are invariant under it);
  * every random number comes from one torch.Generator seeded by --seed, whose state is
    checkpointed, so a resumed run continues the same stream.

Outputs in --out (relative paths are under Priors/training/, which git ignores for runs/):
  checkpoint.pt (atomic; model, EMA, optimiser, step, RNG states, run settings),
  loss.csv (step, mean loss over the logging window, loss per quarter of t, grad norm,
  lr, seconds), prior/ (config.json, weights.safetensors, loss.csv) after the run.

Usage:
  python Priors/training/train.py --prior galaxy --steps 300 --out runs/smoke   (smoke run)
  python Priors/training/train.py --prior galaxy --steps 20000 --out runs/galaxy ...
  (rerunning the same command resumes from runs/galaxy/checkpoint.pt).
"""

from __future__ import annotations

import argparse
import copy
import csv
import json
import math
import os
import platform
import shutil
import sys
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import datasets  # noqa: E402
import diffusion  # noqa: E402

CSV_FIELDS = ["step", "loss", "loss_t0", "loss_t1", "loss_t2", "loss_t3", "grad_norm", "lr", "seconds"]
# Settings that must not change when a run is resumed.
FROZEN = ["prior", "seed", "dataset_size", "batch_size", "num_channels", "num_res_blocks", "channel_mult",
          "attention_resolutions", "num_heads", "num_head_channels", "dropout", "use_scale_shift_norm",
          "resblock_updown", "use_new_attention_order", "diffusion_steps", "noise_schedule", "lr",
          "warmup", "weight_decay", "ema_rate", "grad_clip", "prediction"]
# Settings added after runs had started, with the value those runs used.
FROZEN_DEFAULTS = {"prediction": "epsilon"}


def int_list(s: str) -> list[int]:
    try:
        return [int(v) for v in s.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{s}' is not a comma-separated list of integers")


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description="Train a Tweedie diffusion prior (DDPM, ε-prediction).",
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--prior", choices=["galaxy", "radio"], required=True)
    ap.add_argument("--steps", type=int, required=True, help="total optimiser steps of the run")
    ap.add_argument("--out", required=True, help="run folder (relative: under Priors/training/)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--dataset-size", type=int, default=512, help="training images (train-split indices 0..N-1)")
    ap.add_argument("--data-dir", default=datasets.DEFAULT_DATA_DIR)
    ap.add_argument("--processes", type=int, default=1, help="processes generating the galaxy set")
    ap.add_argument("--batch-size", type=int, default=8)
    # U-Net (improved-diffusion flag names)
    ap.add_argument("--num-channels", type=int, default=32)
    ap.add_argument("--num-res-blocks", type=int, default=1)
    ap.add_argument("--channel-mult", type=int_list, default=[1, 2, 2])
    ap.add_argument("--attention-resolutions", type=int_list, default=[16],
                    help="image sizes (px) at which attention blocks sit")
    ap.add_argument("--num-heads", type=int, default=2)
    ap.add_argument("--num-head-channels", type=int, default=-1)
    ap.add_argument("--dropout", type=float, default=0.0)
    ap.add_argument("--use-scale-shift-norm", type=int, choices=[0, 1], default=1)
    ap.add_argument("--resblock-updown", type=int, choices=[0, 1], default=0)
    ap.add_argument("--use-new-attention-order", type=int, choices=[0, 1], default=0)
    # diffusion + optimiser
    ap.add_argument("--diffusion-steps", type=int, default=1000)
    ap.add_argument("--noise-schedule", choices=["cosine", "linear"], default="cosine")
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--warmup", type=int, default=100, help="linear learning-rate warm-up steps")
    ap.add_argument("--weight-decay", type=float, default=0.0)
    ap.add_argument("--ema-rate", type=float, default=0.999)
    ap.add_argument("--grad-clip", type=float, default=1.0)
    # bookkeeping
    ap.add_argument("--log-every", type=int, default=25)
    ap.add_argument("--checkpoint-every", type=int, default=500)
    ap.add_argument("--device", default="cpu", help="cpu or cuda")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    ap.add_argument("--stop-after", type=int, default=0,
                    help="leave after this many steps of this invocation (checkpointed; rerun to resume)")
    ap.add_argument("--time-limit", type=float, default=0,
                    help="leave after this many seconds of training in this invocation (checkpointed)")
    ap.add_argument("--amp", choices=["none", "bf16"], default="none",
                    help="bf16 autocast of the network on CUDA or on a CPU with AMX / AVX512-BF16 (weights, optimiser and EMA stay float32)")
    ap.add_argument("--export-only", action="store_true", help="export the checkpoint's EMA weights and exit")
    ap.add_argument("--prediction", choices=["epsilon", "v"], default="epsilon",
                    help="network output: ε or v = √ᾱ ε − √(1−ᾱ) x0 (exported as config prediction_type)")
    ap.add_argument("--init-from", default="",
                    help="start a new run from another run's checkpoint.pt weights (model and EMA; "
                         "optimiser, step and RNG start fresh); ignored when --out already has a checkpoint")
    return ap


def unet_config(a, in_channels: int, image_size: int) -> dict:
    """config.json's network and diffusion keys: UNetConfig's (improved-diffusion) flag names."""
    return {
        "architecture": "improved-diffusion",
        "image_size": image_size,
        "in_channels": in_channels,
        "num_channels": a.num_channels,
        "num_res_blocks": a.num_res_blocks,
        "channel_mult": list(a.channel_mult),
        "attention_resolutions": list(a.attention_resolutions),
        "num_heads": a.num_heads,
        "num_head_channels": a.num_head_channels,
        "num_heads_upsample": -1,
        "use_scale_shift_norm": bool(a.use_scale_shift_norm),
        "resblock_updown": bool(a.resblock_updown),
        "use_new_attention_order": bool(a.use_new_attention_order),
        "learn_sigma": False,
        "dropout": a.dropout,
        "diffusion_steps": a.diffusion_steps,
        "noise_schedule": a.noise_schedule,
        "predict_xstart": False,
        "prediction_type": getattr(a, "prediction", "epsilon"),
    }


def build_unet(config: dict) -> torch.nn.Module:
    """unet.py's network for a config.json dict (module-level from_config or UNetModel.from_config)."""
    import unet
    factory = getattr(unet, "from_config", None) or unet.UNetModel.from_config
    return factory(config)


def resolve_out(path: str) -> str:
    return path if os.path.isabs(path) else os.path.join(HERE, path)


def atomic_torch_save(obj, path: str) -> None:
    tmp = path + ".tmp"
    torch.save(obj, tmp)
    os.replace(tmp, path)


def dihedral(x: torch.Tensor, ops: torch.Tensor) -> torch.Tensor:
    """Applies element ops[k] ∈ 0..7 of D4 to image k: rot90^(op % 4), then a flip in x if op ≥ 4."""
    out = x.clone()
    for op in range(8):
        m = ops == op
        if not bool(m.any()) or op == 0:
            continue
        y = torch.rot90(x[m], op % 4, dims=(2, 3))
        if op >= 4:
            y = torch.flip(y, dims=(3,))
        out[m] = y
    return out


def ema_update(ema: torch.nn.Module, model: torch.nn.Module, rate: float) -> None:
    with torch.no_grad():
        for pe, p in zip(ema.parameters(), model.parameters()):
            pe.mul_(rate).add_(p.detach(), alpha=1 - rate)
        for be, b in zip(ema.buffers(), model.buffers()):
            be.copy_(b)


def export_prior(ema: torch.nn.Module, config: dict, meta: dict, training: dict, out_dir: str,
                 loss_csv: str | None) -> None:
    """Writes config.json and weights.safetensors (float32, state_dict names) atomically."""
    from safetensors.torch import save_file
    os.makedirs(out_dir, exist_ok=True)
    tensors = {k: v.detach().to("cpu", torch.float32).contiguous() for k, v in ema.state_dict().items()}
    tmp = os.path.join(out_dir, "weights.safetensors.tmp")
    save_file(tensors, tmp, metadata={"format": "pt", "source": "Tweedie Priors/training/train.py (EMA)"})
    os.replace(tmp, os.path.join(out_dir, "weights.safetensors"))
    import hashlib
    with open(os.path.join(out_dir, "weights.safetensors"), "rb") as f:
        sha = hashlib.sha256(f.read()).hexdigest()
    doc = dict(config)
    doc["prediction_type"] = config.get("prediction_type", "epsilon")
    doc["prior"] = {**meta, "weights": "weights.safetensors", "weights_sha256": sha}
    doc["training"] = training
    tmp = os.path.join(out_dir, "config.json.tmp")
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=2, ensure_ascii=False)
        f.write("\n")
    os.replace(tmp, os.path.join(out_dir, "config.json"))
    if loss_csv and os.path.exists(loss_csv):
        shutil.copyfile(loss_csv, os.path.join(out_dir, "loss.csv.tmp"))
        os.replace(os.path.join(out_dir, "loss.csv.tmp"), os.path.join(out_dir, "loss.csv"))


def _truncate_csv(path: str, step: int) -> None:
    """Keeps the header and the rows with step ≤ `step` (a resumed run rewrites the rest)."""
    if not os.path.exists(path):
        return
    with open(path) as f:
        rows = list(csv.DictReader(f))
    tmp = path + ".tmp"
    with open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=CSV_FIELDS)
        w.writeheader()
        for r in rows:
            if int(r["step"]) <= step:
                w.writerow(r)
    os.replace(tmp, path)


def train(a, model_factory=build_unet, log=print) -> dict:
    """Runs (or resumes) a training run; returns a summary dict."""
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    device = torch.device(a.device)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    out = resolve_out(a.out)
    os.makedirs(out, exist_ok=True)
    ckpt_path = os.path.join(out, "checkpoint.pt")
    csv_path = os.path.join(out, "loss.csv")

    channels = datasets.channels(a.prior)
    meta = datasets.prior_metadata(a.prior)
    config = unet_config(a, channels, meta["image_size"])
    torch.manual_seed(a.seed)
    model = model_factory(config).to(device)
    ema = copy.deepcopy(model).requires_grad_(False)
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, betas=(0.9, 0.999), weight_decay=a.weight_decay)
    gen = torch.Generator(device=device).manual_seed(a.seed)
    step, elapsed = 0, 0.0
    settings = {k: getattr(a, k) for k in FROZEN}

    if os.path.exists(ckpt_path):
        ck = torch.load(ckpt_path, map_location=device, weights_only=False)
        diff = {k: (ck["settings"].get(k, FROZEN_DEFAULTS.get(k)), v) for k, v in settings.items()
                if ck["settings"].get(k, FROZEN_DEFAULTS.get(k)) != v}
        if diff:
            raise SystemExit(f"error: {ckpt_path} was made with other settings {diff}; "
                             f"use another --out or the same settings")
        model.load_state_dict(ck["model"])
        ema.load_state_dict(ck["ema"])
        opt.load_state_dict(ck["optimizer"])
        step, elapsed = ck["step"], ck["seconds"]
        torch.set_rng_state(ck["torch_rng"].cpu())
        if ck.get("device", "cpu") == device.type:
            gen.set_state(ck["generator"].cpu())
            if device.type == "cuda" and ck.get("cuda_rng") is not None:
                torch.cuda.set_rng_state(ck["cuda_rng"].cpu())
        else:   # a generator's state does not carry across device types: a new, seeded stream
            gen.manual_seed(a.seed * 1_000_003 + step)
            log(f"checkpoint from {ck.get('device', 'cpu')}, running on {device.type}: "
                f"random stream reseeded with seed·1000003 + step")
        log(f"resumed {ckpt_path} at step {step}")
    elif a.init_from:
        src = resolve_out(a.init_from)
        ck = torch.load(src, map_location=device, weights_only=False)
        model.load_state_dict(ck["model"])
        ema.load_state_dict(ck["ema"])
        init_note = f"weights of {a.init_from} (step {ck['step']}, {ck['settings'].get('prediction', 'epsilon')}-prediction)"
        log(f"initialised from the {init_note}")
    if not a.export_only:   # an export beside a running training must not touch its loss curve
        _truncate_csv(csv_path, step)

    n_params = sum(p.numel() for p in model.parameters())
    training = lambda: {  # noqa: E731
        "steps": step, "batch_size": a.batch_size, "seed": a.seed, "dataset_size": a.dataset_size,
        "dataset_indices": list(meta["generator"]["splits"]["train"][:1]) + [a.dataset_size],
        "augmentation": "random D4 (rotations by 90°, flips)", "loss": f"MSE on {a.prediction}, t ~ U{{0..T-1}}",
        "initialised_from": a.init_from or None,
        "optimizer": "AdamW", "lr": a.lr, "warmup": a.warmup, "weight_decay": a.weight_decay,
        "grad_clip": a.grad_clip, "ema_rate": a.ema_rate, "ema_warmup": "min(rate, (1+step)/(10+step))",
        "parameters": n_params, "seconds": round(elapsed, 1), "device": str(device), "amp": a.amp,
        "torch": torch.__version__, "python": platform.python_version(),
    }
    if a.export_only:
        if step == 0:
            raise SystemExit(f"error: no checkpoint in {out} to export")
        export_prior(ema, config, meta, training(), os.path.join(out, "prior"), csv_path)
        log(f"exported {os.path.join(out, 'prior')} (step {step})")
        return {"step": step, "out": out}

    data_np = datasets.training_set(a.prior, a.dataset_size, a.data_dir, a.processes, log=log)
    data = torch.from_numpy(np.array(data_np, dtype=np.float32, copy=True)).to(device)
    loss_fn = diffusion.EpsilonLoss(a.noise_schedule, a.diffusion_steps, device, target=a.prediction)
    log(f"{a.prior}: {n_params:,} parameters, {len(data)} images, batch {a.batch_size}, "
        f"steps {step}→{a.steps}, device {device}, threads {torch.get_num_threads()}")

    new_file = not os.path.exists(csv_path)
    csv_file = open(csv_path, "a", newline="")
    writer = csv.DictWriter(csv_file, fieldnames=CSV_FIELDS)
    if new_file:
        writer.writeheader()
    win_loss, win_gn, win_n = 0.0, 0.0, 0
    qsum, qcnt = np.zeros(4), np.zeros(4)
    start_step, t_start = step, time.time()

    def save():
        atomic_torch_save({
            "step": step, "seconds": elapsed + (time.time() - t_start), "settings": settings, "config": config,
            "device": device.type,
            "model": model.state_dict(), "ema": ema.state_dict(), "optimizer": opt.state_dict(),
            "generator": gen.get_state(), "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state() if device.type == "cuda" else None,
        }, ckpt_path)

    import contextlib
    if a.amp == "bf16":
        # bf16 autocast of the forward pass; weights, gradients, optimiser and EMA stay float32.
        # On CPUs with AMX (this machine) a step is ≈ 1.8× faster than float32.
        autocast = lambda: torch.autocast(device.type, dtype=torch.bfloat16)  # noqa: E731
    else:
        autocast = contextlib.nullcontext
    model.train()
    while step < a.steps:
        lr = a.lr * min(1.0, (step + 1) / a.warmup) if a.warmup > 0 else a.lr
        for g in opt.param_groups:
            g["lr"] = lr
        idx = torch.randint(0, len(data), (a.batch_size,), generator=gen, device=device)
        ops = torch.randint(0, 8, (a.batch_size,), generator=gen, device=device)
        x0 = dihedral(data[idx], ops)
        with autocast():
            loss, per, t = loss_fn(model, x0, gen)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        gn = torch.nn.utils.clip_grad_norm_(model.parameters(), a.grad_clip)
        opt.step()
        step += 1
        ema_update(ema, model, min(a.ema_rate, (1 + step) / (10 + step)))
        win_loss += float(loss.detach()); win_gn += float(gn); win_n += 1
        q = (t * 4 // a.diffusion_steps).cpu().numpy()
        per_np = per.cpu().numpy()
        for k in range(4):
            qsum[k] += per_np[q == k].sum(); qcnt[k] += (q == k).sum()
        if step % a.log_every == 0 or step == a.steps:
            qm = [qsum[k] / qcnt[k] if qcnt[k] else float("nan") for k in range(4)]
            writer.writerow({"step": step, "loss": f"{win_loss / win_n:.6f}",
                             **{f"loss_t{k}": f"{qm[k]:.6f}" for k in range(4)},
                             "grad_norm": f"{win_gn / win_n:.4f}", "lr": f"{lr:.3g}",
                             "seconds": f"{elapsed + time.time() - t_start:.1f}"})
            csv_file.flush()
            log(f"step {step:6d}  loss {win_loss / win_n:.4f}  grad {win_gn / win_n:.3f}  "
                f"{(time.time() - t_start) / (step - start_step):.3f} s/step")
            win_loss, win_gn, win_n = 0.0, 0.0, 0
            qsum[:], qcnt[:] = 0, 0
        if step % a.checkpoint_every == 0 or step == a.steps:
            save()
        if (a.stop_after and step - start_step >= a.stop_after) or \
                (a.time_limit and time.time() - t_start >= a.time_limit):
            save()
            log(f"stopped at step {step} (--stop-after / --time-limit); rerun the command to resume")
            break
    csv_file.close()
    elapsed += time.time() - t_start
    if step >= a.steps:
        export_prior(ema, config, meta, training(), os.path.join(out, "prior"), csv_path)
        log(f"exported {os.path.join(out, 'prior')} (step {step}, {elapsed:.0f} s of training)")
    return {"step": step, "out": out, "seconds": elapsed}


def main(argv=None) -> int:
    a = parser().parse_args(argv)
    if a.steps < 1:
        parser().error("--steps must be ≥ 1")
    train(a)
    return 0


if __name__ == "__main__":
    sys.exit(main())
