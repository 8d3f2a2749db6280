#!/usr/bin/env python3
"""Compare Dask's schedulers (synchronous, threads, processes, distributed) on one graph.

Run ``python compare_schedulers.py --help`` for the options.
"""

import sys

from dask_timing.schedulers import main

if __name__ == "__main__":
    sys.exit(main())
