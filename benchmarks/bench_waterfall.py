#!/usr/bin/env python3
"""What the waterfall costs, whether it tiles, and what it says about spawn and fork.

Prints, measured side by side in one run:

(a) instrumentation cost: the median total time to ready of the same
    LocalCluster (4 workers) and separate-process (4 workers) runs with and
    without the waterfall (``--no-waterfall``), in interleaved pairs (the
    order inside a pair alternates); goal: a ratio of medians of 1.02 or less;
(b) tiling: for every worker of every run above, how far its phases' sum is
    from its registration time (goal: within 5 ms), and how far its
    registration time is from the scheduler's stamp minus the request; and
    the clock offsets: applied (0 on one machine) and as the round trips
    estimate them (goal: within 5 ms of the driver's clock);
(c) the median worker's phases of a 4-worker LocalCluster started with spawn
    and with fork, side by side (medians over workers and runs).

Usage: python benchmarks/bench_waterfall.py [--pairs N] [--workers N]
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

TOOLS = {
    "LocalCluster": ["time_local_cluster.py"],
    "separate processes": ["time_scheduler_workers.py", "--batch", "0"],
}
TILING_GOAL = 0.005  # seconds


def run(folder: str, name: str, arguments: list[str]) -> dict:
    """One run of a tool in a fresh process; its result."""
    output = os.path.join(folder, f"{name}.json")
    subprocess.run([sys.executable, os.path.join(REPOSITORY, arguments[0]), *arguments[1:], "--output", output],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=300)
    with open(output) as stream:
        return json.load(stream)


def cost(folder: str, pairs: int, workers: int) -> list[dict]:
    """(a): interleaved pairs with and without the waterfall; returns the instrumented results."""
    instrumented = []
    print(f"(a) instrumentation cost: median total time to ready, {workers} workers, {pairs} interleaved pairs")
    for kind, arguments in TOOLS.items():
        times: dict[bool, list[float]] = {True: [], False: []}
        for pair in range(pairs):
            for waterfall in ((True, False) if pair % 2 == 0 else (False, True)):
                result = run(folder, f"{kind}-{pair}-{waterfall}",
                             [*arguments, "--workers", str(workers), *([] if waterfall else ["--no-waterfall"])])
                times[waterfall].append(result["total_time"])
                if waterfall:
                    instrumented.append(result)
        with_it, without = statistics.median(times[True]), statistics.median(times[False])
        print(f"    {kind:<20} with {with_it:.3f} s (min {min(times[True]):.3f}), without {without:.3f} s "
              f"(min {min(times[False]):.3f}): ratio of medians {with_it / without:.3f}   (goal: 1.02 or less)")
    return instrumented


def tiling(results: list[dict]) -> None:
    """(b): every worker's phases against its registration time."""
    gaps, stamps, applied, estimates = [], [], [], []
    for result in results:
        requested = result["arrivals"]["requested_at"]
        for worker in result["workers"]:
            record = worker["waterfall"]
            gaps.append(abs(sum(record["phases"].values()) - record["registration_time"]))
            stamps.append(abs(record["registration_time"] - (worker["arrival_time"] - requested)))
            applied.append(abs(record["clock_offset"]))
            estimates.append(abs(record["clock_offset_estimate"]))
    within = sum(gap <= TILING_GOAL for gap in gaps)
    print(f"(b) tiling: {within} of {len(gaps)} workers' phases add up to their registration time within "
          f"{TILING_GOAL * 1e3:.0f} ms (largest difference {max(gaps) * 1e3:.6f} ms); registration time against the "
          f"scheduler's stamp: largest difference {max(stamps) * 1e3:.6f} ms")
    print(f"    clock offsets: largest applied {max(applied) * 1e3:.3f} ms (one machine, one clock); estimated by "
          f"round trips: median {statistics.median(estimates) * 1e3:.3f} ms, largest {max(estimates) * 1e3:.3f} ms "
          "(goal: within 5 ms)")


def phase_medians(results: list[dict]) -> dict[str, float]:
    pooled: dict[str, list[float]] = {}
    for result in results:
        for key, values in result["worker_phases"].items():
            pooled.setdefault(key, []).extend(values)
    return {key: statistics.median(values) for key, values in pooled.items()}


def start_methods(folder: str, runs: int, workers: int) -> None:
    """(c): spawn and fork side by side."""
    from dask_timing.phases import REGISTRATION_TIME_LABEL, WORKER_PHASES

    results: dict[str, list[dict]] = {"spawn": [], "fork": []}
    for index in range(runs):
        for method in results:
            results[method].append(run(folder, f"{method}-{index}", ["time_local_cluster.py", "--workers",
                                                                     str(workers), "--start-method", method]))
    medians = {method: phase_medians(found) for method, found in results.items()}
    print(f"(c) the median worker's phases, LocalCluster with {workers} workers, {runs} runs each (seconds)")
    print(f"    {'phase':<28}{'spawn':>10}{'fork':>10}")
    labels = {phase.key: phase.label for phase in WORKER_PHASES}
    for key in [*labels, "registered"]:
        if any(key in found for found in medians.values()):
            cells = "".join(f"{found[key]:>10.4f}" if key in found else f"{'-':>10}" for found in medians.values())
            print(f"    {labels.get(key, REGISTRATION_TIME_LABEL):<28}{cells}")
    totals = {method: statistics.median(result["total_time"] for result in found) for method, found in results.items()}
    print(f"    {'total time to ready (median)':<28}" + "".join(f"{total:>10.4f}" for total in totals.values()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", type=int, default=7, help="pairs with and without the waterfall (default: 7)")
    parser.add_argument("--workers", type=int, default=4, help="workers of each run (default: 4)")
    args = parser.parse_args()
    compile_package()
    sys.path.insert(0, REPOSITORY)
    with tempfile.TemporaryDirectory() as folder:
        tiling(cost(folder, args.pairs, args.workers))
        start_methods(folder, args.pairs, args.workers)


if __name__ == "__main__":
    main()
