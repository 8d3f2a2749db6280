#!/usr/bin/env python3
"""Compare Dask's schedulers (synchronous, threads, processes, distributed) on one graph.

Run ``python compare_schedulers.py --help`` for the options.
"""

import sys

if __name__ == "__main__":  # spawned workers import this script again: they must load nothing
    from dask_timing.entry import run_script
    sys.exit(run_script("schedulers"))
