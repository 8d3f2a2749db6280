#!/usr/bin/env python3
"""Summarise dask-timing result files: statistics per configuration, comparisons, plots.

Run ``python analyze_results.py --help`` for the options.
"""

import sys

if __name__ == "__main__":  # spawned workers import this script again: they must load nothing
    from dask_timing.entry import run_script
    sys.exit(run_script("analyze"))
