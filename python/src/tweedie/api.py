"""`sample`, `calibrate` and `study`: one function per CLI command. Keyword arguments become the
command's options (binary.options: `samples=64` → `--samples 64`, `keep_samples=True` →
`--keep-samples`); the command runs in the caller's working directory, so relative paths mean what
they mean there; outputs go to `output` (a new or empty directory; by default a fresh temporary one)."""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from .binary import options, run
from .results import CalibrationResult, SampleResult, StudyResult


def _output(output, prefix: str) -> Path:
    return Path(output) if output is not None else Path(tempfile.mkdtemp(prefix=prefix))


def sample(*, prior, observation, output=None, quiet: bool = True, binary: str | None = None,
           **kwargs) -> SampleResult:
    """`tweedie sample --prior PRIOR --observation OBS [options] -o OUTPUT`; returns the run's maps
    and summary. Options by keyword (spec, sigma, sampler, samples, batch, seed, steps, truth,
    keep_samples, sampler_settings={...}, …: `tweedie sample --help`)."""
    out = _output(output, "tweedie-sample-")
    args = ["sample", "--prior", str(prior), "--observation", str(observation),
            *options(kwargs), *(["--quiet"] if quiet else []), "-o", str(out)]
    try:
        stdout = run(args, binary=binary)
    except Exception:
        if output is None:
            shutil.rmtree(out, ignore_errors=True)   # the empty temporary directory made here
        raise
    return SampleResult.read(out, stdout=stdout)


def calibrate(spec, *, output=None, quiet: bool = True, binary: str | None = None, **kwargs) -> CalibrationResult:
    """`tweedie calibrate SPEC -o OUTPUT [options]` (shard="K/N"); returns its tables."""
    out = _output(output, "tweedie-calibrate-")
    run(["calibrate", str(spec), "--output", str(out), *options(kwargs), *(["--quiet"] if quiet else [])],
        binary=binary)
    return CalibrationResult.read(out)


def study(spec, *, output=None, report: bool = True, by: str | None = None, scores=None, fresh: bool = False,
          quiet: bool = True, binary: str | None = None, **kwargs) -> StudyResult:
    """`tweedie study run SPEC -o OUTPUT [options]` (shard="K/N"), then with `report`
    `tweedie study report OUTPUT [--by BY] [--scores A,B]`; returns the study's tables. An existing
    OUTPUT continues the study (finished cases are kept); `fresh=True` removes it first."""
    out = _output(output, "tweedie-study-")
    if fresh and out.exists():
        shutil.rmtree(out)
    run(["study", "run", str(spec), "--output", str(out), *options(kwargs), *(["--quiet"] if quiet else [])],
        binary=binary)
    if report:
        run(["study", "report", str(out), *options({"by": by, "scores": scores})], binary=binary)
    return StudyResult.read(out)
