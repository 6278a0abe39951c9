"""What a run wrote, read back: FITS maps as astropy HDULists (read into memory, so the directory
may go), CSV tables as astropy Tables, JSON files as dicts (summary.json is laid out by
docs/summary.schema.json)."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from astropy.io import fits
from astropy.table import Table


def read_hdul(path: Path) -> fits.HDUList | None:
    """The HDUs of `path` copied into memory (None when the file does not exist)."""
    if not path.is_file():
        return None
    with fits.open(path, memmap=False) as h:
        return fits.HDUList([hdu.copy() for hdu in h])


def read_table(path: Path) -> Table | None:
    """A CSV table (None when the file does not exist); empty cells are masked."""
    return Table.read(path, format="ascii.csv") if path.is_file() else None


def read_json(path: Path):
    return json.loads(path.read_text()) if path.is_file() else None


@dataclass
class SampleResult:
    """A posterior run directory (`tweedie sample`, or a study case's run/): the maps on the prior
    grid (mean, std, variance_ratio; samples with keep_samples), residual.fits on the observation
    grid, and summary.json."""
    directory: Path
    summary: dict
    mean: fits.HDUList
    std: fits.HDUList
    variance_ratio: fits.HDUList | None
    residual: fits.HDUList
    samples: fits.HDUList | None = None
    stdout: str = ""

    @classmethod
    def read(cls, directory: str | Path, stdout: str = "") -> "SampleResult":
        d = Path(directory)
        summary = read_json(d / "summary.json")
        if summary is None:
            raise FileNotFoundError(f"{d} holds no summary.json: the run has not finished")
        return cls(directory=d, summary=summary, mean=read_hdul(d / "mean.fits"), std=read_hdul(d / "std.fits"),
                   variance_ratio=read_hdul(d / "variance_ratio.fits"), residual=read_hdul(d / "residual.fits"),
                   samples=read_hdul(d / "samples.fits"), stdout=stdout)

    @property
    def scores(self) -> dict:
        return self.summary["scores"]


@dataclass
class StudyResult:
    """A study directory: results.csv as a Table (one row per finished case), the concatenated
    sources.csv / detections.csv of radio studies, and summary.md of `study report`."""
    directory: Path
    results: Table | None
    sources: Table | None = None
    detections: Table | None = None
    report: str = ""

    @classmethod
    def read(cls, directory: str | Path) -> "StudyResult":
        d = Path(directory)
        md = d / "summary.md"
        return cls(directory=d, results=read_table(d / "results.csv"), sources=read_table(d / "sources.csv"),
                   detections=read_table(d / "detections.csv"), report=md.read_text() if md.is_file() else "")

    def case_directory(self, case: int) -> Path:
        return self.directory / "cases" / f"case-{case:04d}"

    def case(self, case: int) -> SampleResult:
        """Case `case`'s posterior run (its run/ directory)."""
        return SampleResult.read(self.case_directory(case) / "run")


@dataclass
class CalibrationResult:
    """A `tweedie calibrate` directory: calibration.csv as a Table and each case's JSON; for a
    simulation-based calibration spec, sbc.json and sbc_ranks.csv."""
    directory: Path
    table: Table | None
    cases: dict = field(default_factory=dict)
    sbc: dict | None = None
    sbc_ranks: Table | None = None

    @classmethod
    def read(cls, directory: str | Path) -> "CalibrationResult":
        d = Path(directory)
        cases = {p.stem: read_json(p) for p in sorted((d / "cases").glob("*.json"))}
        return cls(directory=d, table=read_table(d / "calibration.csv"), cases=cases,
                   sbc=read_json(d / "sbc.json"), sbc_ranks=read_table(d / "sbc_ranks.csv"))
