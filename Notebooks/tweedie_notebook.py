"""The study notebooks' helpers now live in the `tweedie` Python package (python/src/tweedie:
`tweedie.study`, `tweedie.studies`); this module only makes this checkout's package importable
and re-exports them for scripts written against the old helper."""
from __future__ import annotations

import sys
from pathlib import Path

NOTEBOOKS = Path(__file__).resolve().parent
ROOT = NOTEBOOKS.parent
RESULTS = NOTEBOOKS / "results"
if str(ROOT / "python" / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "python" / "src"))

from tweedie import find_binary as tweedie_binary  # noqa: E402
from tweedie.studies import case_maps, group, result_rows as read_table, run_study, scaled_spec, show_case  # noqa: E402,F401
