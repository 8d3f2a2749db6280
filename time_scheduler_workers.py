#!/usr/bin/env python3
"""Time the startup of a Dask scheduler and workers run as separate processes.

Run ``python time_scheduler_workers.py --help`` for the options.
"""

import sys

from dask_timing.timing_tool import main_distributed

if __name__ == "__main__":
    sys.exit(main_distributed())
