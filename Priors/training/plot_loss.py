"""The training-loss curve of a prior (issue 6 item 5): loss.csv (as written by train.py: step, loss,
loss_t0 … loss_t3 per quarter of the timestep range, grad_norm, lr, seconds) → a PNG with the loss
and its four timestep quarters on a log axis.

Usage: python3 plot_loss.py PRIOR_DIR/loss.csv PRIOR_DIR/loss.png [--title TEXT]
"""
from __future__ import annotations

import argparse
import csv
import sys


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("csv")
    ap.add_argument("png")
    ap.add_argument("--title", default="")
    a = ap.parse_args(argv)
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    with open(a.csv) as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise SystemExit(f"error: {a.csv} has no rows")
    step = [float(r["step"]) for r in rows]
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    ax.plot(step, [float(r["loss"]) for r in rows], color="k", lw=1.5, label="loss (all t)")
    quarters = ["t ∈ [0, 250)", "t ∈ [250, 500)", "t ∈ [500, 750)", "t ∈ [750, 1000)"]
    for q, label in enumerate(quarters):
        key = f"loss_t{q}"
        pts = [(s, float(r[key])) for s, r in zip(step, rows) if r.get(key) not in (None, "", "nan")]
        if pts:
            ax.plot(*zip(*pts), lw=0.8, label=label)
    ax.set_yscale("log")
    ax.set_xlabel("training step (batch 16)")
    ax.set_ylabel("MSE of the network's target")
    ax.set_title(a.title or a.csv, fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(a.png, dpi=110)
    print("wrote", a.png)
    return 0


if __name__ == "__main__":
    sys.exit(main())
