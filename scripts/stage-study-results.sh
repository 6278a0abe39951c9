#!/usr/bin/env bash
# Stages a full study run under Notebooks/results/<study>/ for a commit, so that a fresh clone
# resumes it: the study's tables, spec copy and figures, and the small files of every *finished*
# case (Notebooks/results/.gitignore leaves out their FITS maps, samples and checkpoints).
# A case counts as finished when run/summary.json exists and, in a radio study (a `uv:` key in the
# spec), its source_metrics.json too. Unfinished cases are left out whole: their run/run.json
# without the (ignored) checkpoint would make `tweedie study run` refuse the directory.
# Usage: scripts/stage-study-results.sh Notebooks/results/STUDY [...]; then git commit.
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: $0 Notebooks/results/STUDY [...]" >&2; exit 2; }
for dir in "$@"; do
  [ -f "$dir/spec.yaml" ] || { echo "error: $dir has no spec.yaml; is it a study directory (tweedie study run -o DIR)?" >&2; exit 1; }
  radio=0; grep -qE '^[[:space:]]*uv:' "$dir/spec.yaml" && radio=1
  staged=0; skipped=0
  for c in "$dir"/cases/case-*/; do
    [ -d "$c" ] || continue
    if [ -f "$c/run/summary.json" ] && { [ $radio = 0 ] || [ -f "$c/source_metrics.json" ]; }; then
      git add "$c"; staged=$((staged + 1))
    else
      skipped=$((skipped + 1))
    fi
  done
  for f in spec.yaml spec-origin.txt results.csv results.json sources.csv detections.csv summary.md summary.png figure.png RUN.md; do
    [ -f "$dir/$f" ] && git add "$dir/$f"
  done
  echo "$dir: $staged finished cases staged, $skipped unfinished left out"
done
