"""Summarise a `tweedie calibrate` table per sampler (issue 8).

Usage: python3 Notebooks/calibration/summarize.py DIR [DIR ...] > summary.md

For each sampler label: number of cases, how many meet the targets
(|coverage − nominal| ≤ 0.03 at 68 % and 95 %, RMS mean error ≤ 0.2 exact std,
mixture mode-weight TV ≤ 0.05), the range and mean of the 68 % / 95 % coverage,
the mean RMS mean error (exact std units), the range of the std ratio, the mean
mode-weight TV over mixture cases, and the median wall time per sample.
Then one line per case and sampler for the split-Gibbs / exact rows that miss.

Last, the acceptance of issue 8 as it is worded ("pooled over ≥ 20 observations × all pixels,
for each operator and SNR"): per sampler, the cases of one operator and SNR pooled over the
priors (each case has the same observations × pixels, so the pooled coverage is the mean of the
cases'), with their mean RMS mean error and the mixture's mode TV; a group meets the targets when
its pooled coverage is within 0.03 of nominal at 68 % and 95 %, its mean error ≤ 0.2 and its
mixture TV ≤ 0.05.
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
    pooled(rs, samplers)


def pooled(rs, samplers):
    print()
    print("Pooled over the priors, per operator and SNR:")
    print()
    print("| sampler | operator × SNR groups | meet targets | pooled coverage 68 % (min–max) | pooled coverage 95 % (min–max) "
          "| mean error (max over groups) | mixture TV (max) | groups missing |")
    print("|---|---|---|---|---|---|---|---|")
    for s in samplers:
        g = [r for r in rs if r["sampler"] == s]
        keys = []
        for r in g:
            if (r["operator"], r["snr"]) not in keys:
                keys.append((r["operator"], r["snr"]))
        c68s, c95s, mes, tvs, missing = [], [], [], [], []
        for op, snr in keys:
            cs = [r for r in g if r["operator"] == op and r["snr"] == snr]
            c68 = statistics.mean(fnum(r, "coverage68") for r in cs)
            c95 = statistics.mean(fnum(r, "coverage95") for r in cs)
            me = statistics.mean(fnum(r, "mean_error_rms") for r in cs)
            tv = [fnum(r, "mode_tv_mean") for r in cs if fnum(r, "mode_tv_mean") is not None]
            tvm = max(tv) if tv else 0.0
            c68s.append(c68), c95s.append(c95), mes.append(me), tvs.append(tvm)
            if not (abs(c68 - 0.68) <= 0.03 and abs(c95 - 0.95) <= 0.03 and me <= 0.2 and tvm <= 0.05):
                missing.append(f"{op} SNR {snr} ({c68:.3f}/{c95:.3f}, {me:.3f}, TV {tvm:.3f})")
        print(f"| {s} | {len(keys)} | {len(keys) - len(missing)} | {min(c68s):.3f}–{max(c68s):.3f} "
              f"| {min(c95s):.3f}–{max(c95s):.3f} | {max(mes):.3f} | {max(tvs):.3f} | {'; '.join(missing) or '–'} |")


if __name__ == "__main__":
    main()
