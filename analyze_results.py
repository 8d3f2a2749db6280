#!/usr/bin/env python3
"""Summarise dask-timing result files: statistics per configuration, comparisons, plots.

Run ``python analyze_results.py --help`` for the options.
"""

import sys

from dask_timing.analyze_tool import main

if __name__ == "__main__":
    sys.exit(main())
