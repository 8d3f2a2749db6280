#!/usr/bin/env bash
# Run a Dask timing study: the same timing run repeated, each in a fresh process,
# then statistics saved beside the results. Works from any directory.
#
#   ./run_timing_study.sh --type local --workers 4 --runs 5 --output-dir results_dir
#   ./run_timing_study.sh --help
#
# Options are checked, runs are launched and statistics computed by the
# dask_timing.study module next to this script; set PYTHON to choose the
# interpreter (default: python3).
set -u
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python="${PYTHON:-python3}"
if ! command -v "$python" >/dev/null 2>&1; then
    echo "run_timing_study.sh: error: '$python' not found; install Python 3 or set PYTHON=/path/to/python" >&2
    exit 2
fi
export PYTHONPATH="$here${PYTHONPATH:+:$PYTHONPATH}"
exec "$python" -m dask_timing.study "$@"
