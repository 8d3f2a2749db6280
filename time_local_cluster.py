#!/usr/bin/env python3
"""Time the startup of a Dask LocalCluster, phase by phase.

Run ``python time_local_cluster.py --help`` for the options.
"""

import sys

if __name__ == "__main__":  # spawned workers import this script again: they must load nothing
    from dask_timing.entry import run_script
    sys.exit(run_script("local"))
