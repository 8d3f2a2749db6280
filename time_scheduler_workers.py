#!/usr/bin/env python3
"""Time the startup of a Dask scheduler and workers run as separate processes.

Run ``python time_scheduler_workers.py --help`` for the options.
"""

import sys

if __name__ == "__main__":
    # Not at the top: spawned worker processes import this script again, and must
    # not pay for the tool's modules while they are being timed.
    from dask_timing.timing_tool import main_distributed

    sys.exit(main_distributed())
