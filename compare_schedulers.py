#!/usr/bin/env python3
"""Compare Dask's schedulers (synchronous, threads, processes, distributed) on one graph.

Run ``python compare_schedulers.py --help`` for the options.
"""

import sys

if __name__ == "__main__":
    # Not at the top: spawned worker processes import this script again, and must
    # not pay for the tool's modules while they are being timed.
    from dask_timing.schedulers import main

    sys.exit(main())
