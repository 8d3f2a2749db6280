#!/usr/bin/env python3
"""Does the tool's "all workers ready" agree with the scheduler's own clock?

For each run, prints the difference between the end of the workers phase (the
moment the tool learned the last worker had registered, on its monotonic
clock) and the last worker's registration stamped by the scheduler (its wall
clock, placed on the run's timeline). Goal: within 20 ms.

Usage: python benchmarks/bench_arrival_agreement.py [--repeats N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

from installed import REPOSITORY

TOOLS = {
    "local (time_local_cluster.py -w 4)": ["time_local_cluster.py", "--workers", "4"],
    "distributed (time_scheduler_workers.py -w 2)": ["time_scheduler_workers.py", "--workers", "2", "--batch", "0"],
}


def differences_ms(arguments: list[str], repeats: int) -> list[float]:
    found = []
    with tempfile.TemporaryDirectory() as folder:
        for index in range(repeats):
            output = os.path.join(folder, f"run{index}.json")
            subprocess.run([sys.executable, os.path.join(REPOSITORY, arguments[0]), *arguments[1:], "--output", output],
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            with open(output) as stream:
                result = json.load(stream)
            phases = list(result["phases"].values())
            all_ready = sum(phases[:3])  # scheduler, client, workers phases
            last_arrival = max(worker["arrival_time"] for worker in result["workers"])
            found.append((all_ready - last_arrival) * 1000)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print("tool 'all workers ready' minus scheduler's last registration, in ms (goal: |difference| <= 20)")
    for name, arguments in TOOLS.items():
        values = differences_ms(arguments, args.repeats)
        print(f"  {name:<46} median {statistics.median(values):6.2f}  "
              f"min {min(values):6.2f}  max {max(values):6.2f}  max |d| {max(map(abs, values)):6.2f}")


if __name__ == "__main__":
    main()
