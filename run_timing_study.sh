#!/usr/bin/env bash
# Run a Dask timing study: the same timing run repeated, each in a fresh process,
# then statistics saved beside the results. Works from any directory.
#
#   ./run_timing_study.sh --type local --workers 4 --runs 5 --output-dir results_dir
#   ./run_timing_study.sh --help
#
# The same as `dask-timing study`; set PYTHON to choose the interpreter
# (default: python3).
set -u
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python="${PYTHON:-python3}"
if ! command -v "$python" >/dev/null 2>&1; then
    echo "run_timing_study.sh: error: '$python' not found; install Python 3 or set PYTHON=/path/to/python" >&2
    exit 2
fi
export PYTHONPATH="$here${PYTHONPATH:+:$PYTHONPATH}"
# how this script was called, for the commands the study prints to be pasted (the resume hint)
export DASK_TIMING_STUDY_SCRIPT="$0"
exec "$python" -c 'import sys; from dask_timing.entry import run_script; sys.exit(run_script("study"))' "$@"
