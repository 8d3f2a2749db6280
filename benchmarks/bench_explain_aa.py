#!/usr/bin/env python3
"""Does "Why B is slower" blame noise?  A/A comparisons counted for causes they should not list.

One interleaved study compares this interpreter with itself (two wrapper
interpreters of it, A and B), RUNS runs a side, every worker's imports
profiled (``--import-profile``); or ``--results DIR --reference NAME`` reads
stored runs of such a study instead.  COMPARISONS A/A comparisons are then
drawn from the stored runs: each takes PER_SIDE runs of each side at random
(without replacement within a side; a fixed seed), judges their total time
and explains the pair (``analysis.explain``).  Prints how many comparisons
list any item at the ``phase``, ``worker_phase`` or ``import`` level as a
cause, and which items they were (goal: at most 1 in 20).

Usage: python benchmarks/bench_explain_aa.py [--comparisons 20] [--runs 10] [--per-side 5] [--workers 2]
       python benchmarks/bench_explain_aa.py --results DIR --reference A
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile

from bench_ab import STUDY, wrapper_interpreter
from installed import REPOSITORY

sys.path.insert(0, REPOSITORY)

from dask_timing.analysis.explain import IMPORT, PHASE, WORKER_PHASE, causes, explain  # noqa: E402
from dask_timing.analysis.groups import group_results  # noqa: E402
from dask_timing.analysis.load import load  # noqa: E402
from dask_timing.analysis.verdicts import judge, pair_environments  # noqa: E402
from dask_timing.phases import TOTAL_KEY  # noqa: E402

SEED = 20261207
COUNTED_LEVELS = (PHASE, WORKER_PHASE, IMPORT)


def study(folder: str, runs: int, workers: int) -> str:
    """An interleaved A/A study with import profiles; the folder of its results."""
    a, b = wrapper_interpreter(os.path.join(folder, "a")), wrapper_interpreter(os.path.join(folder, "b"))
    out = os.path.join(folder, "out")
    subprocess.run([STUDY, "--python", f"A={a}", "--python", f"B={b}", "--runs", str(runs), "--workers",
                    str(workers), "--import-profile", "--output-dir", out], check=True, stdout=subprocess.DEVNULL,
                   timeout=runs * 2 * 180, env={**os.environ, "PYTHON": sys.executable})
    return out


def comparisons(results: str, reference: str, count: int, per_side: int) -> list[list[str]]:
    """The causes each A/A comparison lists at the timed levels, in words."""
    loaded = load([results])
    (pair,) = pair_environments(group_results(loaded.results), reference).pairs
    files = {id(run): path for path, run in loaded.results}
    sides = [pair.baseline.ok_runs, pair.new.ok_runs]
    if min(map(len, sides)) < per_side:
        counts = ", ".join(str(len(side)) for side in sides)
        raise SystemExit(f"each side needs {per_side} successful runs; they have {counts}")
    generator = random.Random(SEED)
    listed = []
    for _ in range(count):
        drawn = [generator.sample(side, per_side) for side in sides]
        (sample,) = pair_environments(group_results([(files[id(run)], run) for side in drawn for run in side]),
                                      reference).pairs
        old, new = ([run.total_time for run in side] for side in drawn)
        total = judge(sample.label, TOTAL_KEY, old, new, sample.baseline_name, sample.new_name)
        listed.append([f"{item.level} {item.name} {item.delta_s:+.3f} s (p = {item.p_value:.2g})"
                       for item in causes(explain(sample, total)) if item.level in COUNTED_LEVELS])
    return listed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--comparisons", type=int, default=20)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--per-side", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--results", help="stored runs of an A/A study (its folder) instead of a new study")
    parser.add_argument("--reference", default="A", help="with --results: the reference environment's name")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-explain-aa-") as folder:
        results = args.results or study(folder, args.runs, args.workers)
        listed = comparisons(results, args.reference, args.comparisons, args.per_side)
    flagged = [items for items in listed if items]
    source = results if args.results else f"one interleaved study of {args.runs} runs a side"
    print(f"A/A: {args.comparisons} comparisons of {args.per_side} runs a side, drawn from {source} "
          f"(LocalCluster, {args.workers} workers, --import-profile)")
    print(f"  comparisons listing a phase, worker_phase or import item as a cause: {len(flagged)} of {len(listed)}")
    for index, items in enumerate(listed, start=1):
        if items:
            print(f"    comparison {index}: {'; '.join(items)}")
    print("  goal: at most 1 in 20")


if __name__ == "__main__":
    main()
