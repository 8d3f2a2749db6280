#!/usr/bin/env python3
"""What does ``--import-profile`` cost the startup it times?

PAIRS pairs of runs of a 4-worker LocalCluster, one without and one with
``--import-profile`` (PYTHONPROFILEIMPORTTIME in every worker's interpreter),
interleaved in one run of this script (the order within a pair alternates, so
drift on a shared machine spreads evenly).  Prints the median ratio with /
without of the total time to ready and of the workers' median registration
time, over the pairs, with their spread (goal: at most 3 %, that is a ratio of
at most 1.03).

Usage: python benchmarks/bench_import_profile_cost.py [--pairs 10] [--workers 4]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

from installed import REPOSITORY, compile_package

TOOL = os.path.join(REPOSITORY, "time_local_cluster.py")


def timed(folder: str, name: str, workers: int, profile: bool) -> tuple[float, float]:
    """One run: its total time to ready and its workers' median registration time."""
    output = os.path.join(folder, f"{name}.json")
    subprocess.run([sys.executable, TOOL, "-w", str(workers), "--start-method", "spawn", "-o", output,
                    *(["--import-profile"] if profile else [])], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, timeout=600)
    with open(output) as stream:
        result = json.load(stream)
    if profile:
        assert result["import_profile"].get("top"), "the profiled run recorded no import profile"
    return result["total_time"], statistics.median(result["worker_phases"]["registered"])


def spread(ratios: list[float]) -> str:
    return (f"median {statistics.median(ratios):.3f} (from {min(ratios):.3f} to {max(ratios):.3f}, "
            f"quartiles {statistics.quantiles(ratios, n=4)[0]:.3f} to {statistics.quantiles(ratios, n=4)[2]:.3f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=10)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()
    compile_package()
    totals, registrations = [], []
    with tempfile.TemporaryDirectory(prefix="bench-import-profile-") as folder:
        for index in range(args.pairs):
            order = (False, True) if index % 2 == 0 else (True, False)
            found = {profile: timed(folder, f"{index}-{profile}", args.workers, profile) for profile in order}
            totals.append(found[True][0] / found[False][0])
            registrations.append(found[True][1] / found[False][1])
            print(f"pair {index + 1} of {args.pairs}: total {found[False][0]:.3f} s without, {found[True][0]:.3f} s "
                  f"with; registration {found[False][1]:.3f} s without, {found[True][1]:.3f} s with", flush=True)
    print(f"--import-profile on a LocalCluster of {args.workers} workers, {args.pairs} interleaved pairs "
          "(ratio with / without):")
    print(f"  total time to ready:               {spread(totals)}")
    print(f"  workers' median registration time: {spread(registrations)}")
    print("  goal: at most 1.03 (3 %)")


if __name__ == "__main__":
    main()
