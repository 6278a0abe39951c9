"""Plot the exact mode weights of split-Gibbs's ρ-smoothed targets along the annealing path.

Reads the `cases/<prior>__<operator>__<noise>__exact.weight_path.csv` files that `tweedie calibrate`
writes for a Gaussian-mixture prior's exact rows (CalibrationOracle.smoothedComponentWeights: the
posterior weights of the mixture whose component variances are D_k + ρ²), and draws the weight of
component 0 against ρ, one line per observation, one panel per file.

Usage: python3 plot_weight_path.py OUT.png FILE.weight_path.csv [...]
"""
import csv
import sys
from collections import defaultdict

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt


def main(out, files):
    fig, axes = plt.subplots(1, len(files), figsize=(4.2 * len(files), 3.6), squeeze=False)
    for ax, path in zip(axes[0], files):
        paths = defaultdict(list)
        for row in csv.DictReader(open(path)):
            paths[int(row["observation"])].append((float(row["rho"]), float(row["weight0"])))
        for obs, pts in sorted(paths.items()):
            at0 = [w for r, w in pts if r == 0][0]
            curve = sorted((r, w) for r, w in pts if r > 0)
            ax.plot([r for r, _ in curve], [w for _, w in curve], lw=1, alpha=0.8)
            ax.plot([curve[0][0]], [at0], "k.", ms=3)
        ax.set_xscale("log")
        ax.invert_xaxis()
        ax.set_xlabel("coupling ρ (annealing runs left to right)")
        ax.set_ylabel("exact weight of the broad component")
        name = path.split("/")[-1].replace(".weight_path.csv", "").replace("__exact", "")
        ax.set_title(name, fontsize=9)
        ax.set_ylim(0, 1)
        ax.axvspan(0.1, 0.6, color="0.9", zorder=0)
    fig.suptitle("ρ-smoothed posterior mode weights (dots: ρ = 0, the posterior; grey: where they settle)", fontsize=9)
    fig.tight_layout()
    fig.savefig(out, dpi=110)


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit("usage: plot_weight_path.py OUT.png FILE.weight_path.csv [...]")
    main(sys.argv[1], sys.argv[2:])
