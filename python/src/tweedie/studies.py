"""Helpers of the study notebooks: a scaled-down copy of a study spec, running it (`tweedie.study`),
its results table as rows of numbers, grouping a score by a parameter, and one case's maps drawn
as a row of panels. Everything shown comes from files the CLI wrote; nothing here computes a score.
"""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import yaml
from astropy.io import fits

from .api import study

# Values of a spec's psf: key that name a profile rather than a file.
_PSF_PROFILES = ("gaussian", "moffat", "none")


def scaled_spec(spec: str | Path, out_dir: str | Path, *, grid: dict | None = None, cases: list | None = None,
                fixed: dict | None = None, name_suffix: str = "-small", prior: str | None = None) -> Path:
    """A copy of study spec `spec` in `out_dir` with grid / fixed entries replaced (a smaller run).
    `grid` or `cases` replaces the spec's grid: or cases: (whichever it has). Relative paths (prior,
    truths, catalogue, PSF and antenna files) are made absolute so the copy runs from anywhere.
    `prior` replaces the spec's prior (e.g. an analytic stand-in)."""
    if grid and cases:
        raise ValueError("give grid or cases, not both")
    spec = Path(spec).resolve()
    doc = yaml.safe_load(spec.read_text())
    base = spec.parent

    def absolute(v):
        return str((base / v).resolve()) if isinstance(v, str) and not v.startswith(("/", "gaussian:", "mixture:")) else v

    doc["prior"] = absolute(prior if prior is not None else doc["prior"])
    for key in ("truths", "catalogue"):
        if key in doc:
            doc[key] = absolute(doc[key])
    for section in ("fixed", "grid"):
        for key in ("psf", "uv"):
            if key in doc.get(section, {}):
                val = doc[section][key]
                if isinstance(val, list):
                    doc[section][key] = [v if v in _PSF_PROFILES else absolute(v) for v in val]
                elif val not in _PSF_PROFILES:
                    doc[section][key] = absolute(val)
    if grid:
        doc.pop("cases", None)
        doc["grid"] = grid
    if cases:
        doc.pop("grid", None)
        doc["cases"] = cases
    if fixed:
        doc.setdefault("fixed", {}).update(fixed)
    doc["name"] = doc["name"] + name_suffix
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / (spec.stem + name_suffix + ".yaml")
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def result_rows(study_dir: str | Path) -> list[dict]:
    """results.csv as a list of dicts, numbers as floats (empty cells NaN), text as text."""
    rows = []
    with open(Path(study_dir) / "results.csv", newline="") as f:
        for r in csv.DictReader(f):
            row = {}
            for k, v in r.items():
                try:
                    row[k] = float(v) if v != "" else float("nan")
                except ValueError:
                    row[k] = v
            rows.append(row)
    return rows


def run_study(spec: str | Path, out: str | Path, fresh: bool = False) -> list[dict]:
    """`tweedie.study(spec, output=out)` (report included); returns results.csv's rows."""
    study(spec, output=out, fresh=fresh)
    return result_rows(out)


def group(rows: list[dict], by: str, value: str):
    """(x values, mean, std, n) of `value` over the rows sharing each value of `by`, x sorted."""
    keys = sorted({r[by] for r in rows})
    mean, std, n = [], [], []
    for k in keys:
        v = np.array([r[value] for r in rows if r[by] == k and np.isfinite(r[value])], dtype=float)
        mean.append(v.mean() if v.size else np.nan)
        std.append(v.std(ddof=1) if v.size > 1 else 0.0)
        n.append(v.size)
    return np.array(keys), np.array(mean), np.array(std), np.array(n)


def case_maps(study_dir: str | Path, case: int) -> dict:
    """The FITS maps of one case: observation, truth, mean, std, variance ratio (arrays, bands first)."""
    d = Path(study_dir) / "cases" / f"case-{case:04d}"
    maps = {"observation": d / "observation.fits", "truth": d / "truth.fits",
            "mean": d / "run" / "mean.fits", "std": d / "run" / "std.fits",
            "variance ratio": d / "run" / "variance_ratio.fits"}
    return {k: fits.getdata(p).astype(float) for k, p in maps.items() if p.exists()}


def show_case(ax_row, maps: dict, band: int, title_prefix: str = "") -> None:
    """Draws observation | truth | mean | std | variance ratio of one band into a row of axes."""
    from astropy.visualization import AsinhStretch, ImageNormalize, PercentileInterval

    def plane(key):
        img = maps[key]
        return img[band] if img.ndim == 3 else img

    # Truth and mean share one asinh stretch (so they compare); observation and std get their own.
    shared = ImageNormalize(plane("truth") if "truth" in maps else plane("mean"),
                            interval=PercentileInterval(99.8), stretch=AsinhStretch(0.05))
    for ax, key in zip(ax_row, ["observation", "truth", "mean", "std", "variance ratio"]):
        ax.axis("off")
        if key not in maps:
            continue
        img = plane(key)
        if key == "variance ratio":
            norm = ImageNormalize(vmin=0, vmax=max(1e-6, float(np.percentile(img, 99))))
        elif key in ("truth", "mean"):
            norm = shared
        else:
            norm = ImageNormalize(img, interval=PercentileInterval(99.8), stretch=AsinhStretch(0.05))
        ax.imshow(img, cmap="magma", origin="lower", norm=norm)
        ax.set_title(f"{title_prefix}{key}", fontsize=8)
