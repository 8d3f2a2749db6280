#!/usr/bin/env python3
"""The side-by-side reference of ``bench_analyzer_speed.py``: a text summary done plainly.

What the earlier public analyzer does for its text output, and nothing more:
``json.load`` of every file, then, per (workers, threads), the mean, standard
deviation, median, min and max of every numeric key with the ``statistics``
module.  No validation, no outliers, no warnings, no scaling fit.

Usage: python benchmarks/plain_summary.py PATTERN
"""

import glob
import json
import statistics
import sys
from collections import defaultdict


def main() -> None:
    runs = []
    for path in glob.glob(sys.argv[1]):
        with open(path) as stream:
            runs.append(json.load(stream))
    print(f"ANALYSIS OF {len(runs)} TIMING RESULT(S)")
    groups = defaultdict(list)
    for run in runs:
        groups[(run.get("n_workers"), run.get("threads_per_worker"))].append(run)
    for (workers, threads), members in sorted(groups.items()):
        print(f"Configuration: {workers} workers, {threads} thread(s) per worker")
        columns = defaultdict(list)
        for run in members:
            for key, value in run.items():
                if isinstance(value, (int, float)):
                    columns[key].append(value)
        for key, values in sorted(columns.items()):
            print(f"  {key}: mean {statistics.mean(values):.4f} stddev {statistics.stdev(values):.4f} "
                  f"median {statistics.median(values):.4f} min {min(values):.4f} max {max(values):.4f}")


if __name__ == "__main__":
    main()
