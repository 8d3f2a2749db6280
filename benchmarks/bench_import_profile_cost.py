#!/usr/bin/env python3
"""What does ``--import-profile`` cost the startup it times?

PAIRS pairs of runs of a 4-worker LocalCluster, one without and one with
``--import-profile`` (PYTHONPROFILEIMPORTTIME in every worker's interpreter),
interleaved in one run of this script (the order within a pair alternates, so
drift on a shared machine spreads evenly).  For each figure it prints the
ratio with / without over the pairs: its median, the 95 % bootstrap interval of
that median (pairs resampled), the quartiles and the range; then the goal (at
most 3 %: a ratio of at most 1.03) beside the total time's figure and beside the
CPU figure, each met only when its interval's upper end is under it.

The figures, from the noisiest to the one that says what the profile itself costs:

* the total time to ready (the goal's figure);
* the workers' median registration time (from the request to registration);
* the workers' median CPU seconds until their Worker starts (their interpreter's
  start and imports, where the profile does its work: the time each line of the
  profile costs, counted by the kernel, and untouched by how busy the machine is).

The machine's load average over the last minute is sampled before each run and
printed, with the CPU count: on a shared machine, say how busy it was.

Usage: python benchmarks/bench_import_profile_cost.py [--pairs 30] [--workers 4]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

import numpy
from installed import REPOSITORY, compile_package

TOOL = os.path.join(REPOSITORY, "time_local_cluster.py")
GOAL = 1.03
FIGURES = ("total time to ready", "workers' median registration time", "workers' median CPU seconds to start")
RESAMPLES = 10_000


def timed(folder: str, name: str, workers: int, profile: bool) -> tuple[float, ...]:
    """One run: each of ``FIGURES``."""
    output = os.path.join(folder, f"{name}.json")
    subprocess.run([sys.executable, TOOL, "-w", str(workers), "--start-method", "spawn", "-o", output,
                    *(["--import-profile"] if profile else [])], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, timeout=600)
    with open(output) as stream:
        result = json.load(stream)
    if profile:
        assert result["import_profile"].get("top"), "the profiled run recorded no import profile"
    cpu = [worker["waterfall"]["cpu_seconds"] for worker in result["workers"]]
    return result["total_time"], statistics.median(result["worker_phases"]["registered"]), statistics.median(cpu)


def spread(ratios: list[float]) -> tuple[str, float, float]:
    """The ratios' median, its 95 % bootstrap interval, quartiles and range; and the interval's ends."""
    values = numpy.array(ratios)
    medians = numpy.median(numpy.random.default_rng(0).choice(values, (RESAMPLES, len(values))), axis=1)
    low, high = numpy.percentile(medians, [2.5, 97.5])
    quartiles = statistics.quantiles(ratios, n=4)
    said = (f"median {statistics.median(ratios):.3f}, 95% CI [{low:.3f}, {high:.3f}]; quartiles "
            f"{quartiles[0]:.3f}-{quartiles[2]:.3f}, range {min(ratios):.3f}-{max(ratios):.3f}")
    return said, float(low), float(high)


def _verdict(low: float, high: float) -> str:
    """Whether the median ratio's interval shows the goal met, missed, or cannot tell."""
    if high <= GOAL:
        return f"met (the interval's upper end, {high:.3f}, is under it)"
    if low > GOAL:
        return f"missed (the interval's lower end, {low:.3f}, is over it)"
    return "not told apart: the interval spans it (more pairs, or a quieter machine)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=30)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()
    compile_package()
    ratios: list[list[float]] = [[] for _ in FIGURES]
    loads = []
    with tempfile.TemporaryDirectory(prefix="bench-import-profile-") as folder:
        timed(folder, "warm", args.workers, False)  # the file cache warm for both sides
        for index in range(args.pairs):
            order = (False, True) if index % 2 == 0 else (True, False)
            found = {}
            for profile in order:
                loads.append(os.getloadavg()[0])
                found[profile] = timed(folder, f"{index}-{profile}", args.workers, profile)
            for figure, (without, with_profile) in enumerate(zip(found[False], found[True])):
                ratios[figure].append(with_profile / without)
            print(f"pair {index + 1} of {args.pairs}: " + "; ".join(
                f"{name} {found[False][figure]:.3f} without, {found[True][figure]:.3f} with"
                for figure, name in enumerate(FIGURES)) + f"; load {loads[-1]:.1f}", flush=True)
    print(f"--import-profile on a LocalCluster of {args.workers} workers, {args.pairs} interleaved pairs "
          f"(ratio with / without, per pair):")
    for name, figure in zip(FIGURES, ratios):
        said = spread(figure)[0]
        print(f"  {name + ':':<38}{said}")
    for name, figure in ((FIGURES[0], ratios[0]), (f"{FIGURES[2]} (the profile's own work, whatever the load)",
                                                      ratios[2])):
        print(f"  goal, {name}: at most {GOAL} (3 %): {_verdict(*spread(figure)[1:])}")
    print(f"  machine load (1-minute average before each run, {os.cpu_count()} CPUs): median "
          f"{statistics.median(loads):.1f}, from {min(loads):.1f} to {max(loads):.1f}")


if __name__ == "__main__":
    main()
