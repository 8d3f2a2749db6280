#!/usr/bin/env python3
"""Time the startup of a Dask LocalCluster, phase by phase.

Run ``python time_local_cluster.py --help`` for the options.
"""

import sys

from dask_timing.timing_tool import main_local

if __name__ == "__main__":
    sys.exit(main_local())
