"""Summarise a `tweedie calibrate` table per sampler (issue 8).

Usage: python3 Notebooks/calibration/summarize.py DIR [DIR ...] > summary.md

For each sampler label: number of cases, how many meet the targets
(|coverage − nominal| ≤ 0.03 at 68 % and 95 %, RMS mean error ≤ 0.2 exact std,
mixture mode-weight TV ≤ 0.05), the range and mean of the 68 % / 95 % coverage,
the mean RMS mean error (exact std units), the range of the std ratio, the mean
mode-weight TV over mixture cases, and the median wall time per sample.
Then one line per case and sampler for the split-Gibbs / exact rows that miss.
"""
import csv
import statistics
import sys


def rows(dirs):
    out = []
    for d in dirs:
        with open(f"{d}/calibration.csv") as f:
            out += list(csv.DictReader(f))
    return out


def fnum(r, k):
    v = r.get(k, "")
    return float(v) if v not in ("", "nan") else None


def main():
    rs = rows(sys.argv[1:])
    samplers = []
    for r in rs:
        if r["sampler"] not in samplers:
            samplers.append(r["sampler"])
    print("| sampler | cases | meet targets | coverage 68 % (min–max, mean) | coverage 95 % (min–max, mean) "
          "| RMS mean error / exact std (mean, max) | std ratio (min–max) | mixture mode TV (mean, max) | ms / sample (median) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for s in samplers:
        g = [r for r in rs if r["sampler"] == s]
        c68 = [fnum(r, "coverage68") for r in g]
        c95 = [fnum(r, "coverage95") for r in g]
        me = [fnum(r, "mean_error_rms") for r in g]
        sr = [fnum(r, "std_ratio") for r in g]
        tv = [fnum(r, "mode_tv_mean") for r in g if fnum(r, "mode_tv_mean") is not None]
        ms = [1000 * fnum(r, "seconds_per_sample") for r in g]
        met = sum(r["meets_targets"] == "true" for r in g)
        tvs = f"{statistics.mean(tv):.3f}, {max(tv):.3f}" if tv else "–"
        print(f"| {s} | {len(g)} | {met} | {min(c68):.3f}–{max(c68):.3f}, {statistics.mean(c68):.3f} "
              f"| {min(c95):.3f}–{max(c95):.3f}, {statistics.mean(c95):.3f} | {statistics.mean(me):.3f}, {max(me):.3f} "
              f"| {min(sr):.3f}–{max(sr):.3f} | {tvs} | {statistics.median(ms):.2f} |")
    print()
    print("Rows of exact / split-gibbs samplers that miss a target:")
    print()
    for r in rs:
        if r["sampler_kind"] in ("exact", "split-gibbs") and r["meets_targets"] != "true":
            print(f"- {r['id']}: coverage68 {float(r['coverage68']):.3f} ± {float(r['coverage68_se']):.3f}, "
                  f"coverage95 {float(r['coverage95']):.3f} ± {float(r['coverage95_se']):.3f}, "
                  f"mean error {float(r['mean_error_rms']):.3f}, std ratio {float(r['std_ratio']):.3f}, "
                  f"mode TV {r['mode_tv_mean'] or '–'}")


if __name__ == "__main__":
    main()
