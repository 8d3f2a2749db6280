#!/usr/bin/env python3
"""Time the startup of a Dask LocalCluster, phase by phase.

Run ``python time_local_cluster.py --help`` for the options.
"""

import sys

if __name__ == "__main__":
    # Not at the top: spawned worker processes import this script again, and must
    # not pay for the tool's modules while they are being timed.
    from dask_timing.timing_tool import main_local

    sys.exit(main_local())
