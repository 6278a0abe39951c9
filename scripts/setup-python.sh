#!/usr/bin/env bash
# Installs the Python packages of the study notebooks and of the `tweedie` package's tests
# (Notebooks/requirements.txt) when any is missing: `make notebooks` and `make test` run it. The
# `tweedie` package itself (python/) needs no installation here: the notebooks put python/src on
# sys.path and pytest reads it from there (python/pyproject.toml); elsewhere `pip install ./python`. The training pipeline has its own pinned list
# (Priors/training/requirements.txt), installed by hand: nothing at sampling time needs it.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v python3 >/dev/null 2>&1; then
  echo "setup-python: python3 not found; install it (apt-get install python3 python3-pip)" >&2
  exit 1
fi
if python3 - <<'PY' 2>/dev/null
import importlib.metadata as md, re, sys
for line in open("Notebooks/requirements.txt"):
    line = line.split("#")[0].strip()
    if not line:
        continue
    name, version = line.split("==")
    if md.version(name) != version:
        sys.exit(1)
PY
then
  echo "setup-python: notebook packages present" >&2
else
  echo "setup-python: installing Notebooks/requirements.txt" >&2
  python3 -m pip install -q --disable-pip-version-check -r Notebooks/requirements.txt
fi
python3 -m ipykernel install --user --name python3 >/dev/null 2>&1 || true
