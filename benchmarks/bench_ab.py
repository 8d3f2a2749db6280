#!/usr/bin/env python3
"""Can the one-command A/B comparison be trusted?  False alarms, power, and a cached environment's cost.

1. False alarms: COMPARISONS studies comparing this interpreter with itself
   (two wrapper interpreters of it: ``python -m venv`` and a .pth file pointing
   at its packages), RUNS runs a side, interleaved, ``--fail-if-slower 10``.
   Prints how many failed the gate (goal: at most 1 of 20), how many were
   inconclusive, and the spread of the ratios.
2. Power: as many studies against an interpreter whose every process starts
   0.25 s late (a .pth line sleeps; the LocalCluster's worker processes pay it
   too, so the total time to ready grows by about that much).  Prints how many
   the gate caught (goal: at least 19 of 20).
   The two kinds of study alternate, so both meet the same machine.
3. A cached environment: builds the environment of the installed Dask version
   (``--dask-versions``) in a temporary cache folder, then times preparing it
   again REPEATS times: the marker and the interpreter are checked, nothing is
   built (goal: under 2 s).  pip's own download cache is used.

Usage: python benchmarks/bench_ab.py [--comparisons 20] [--runs 10] [--workers 1] [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time

from installed import REPOSITORY

sys.path.insert(0, REPOSITORY)

from dask_timing.measure.environments import RUN_MODULES, environments_of, prepare  # noqa: E402
from dask_timing.record.environment import package_version  # noqa: E402

STUDY = os.path.join(REPOSITORY, "run_timing_study.sh")
THRESHOLD = 10  # --fail-if-slower, percent
DELAY = 0.25  # seconds added to the start of every process of the slow interpreter


def wrapper_interpreter(folder: str, *lines: str) -> str:
    """An interpreter running this one's packages, plus ``lines`` at every start."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", folder], check=True)
    python = os.path.join(folder, "bin", "python")
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    with open(os.path.join(site, "bench_ab.pth"), "w") as stream:
        stream.write("\n".join([sysconfig.get_paths()["purelib"], *lines]) + "\n")
    return python


def compare(folder: str, reference: str, other: str, runs: int, workers: int) -> tuple[int, float | None]:
    """One interleaved A/B study with the gate: its exit code and the ratio of total times."""
    verdict = os.path.join(folder, "verdict.json")
    completed = subprocess.run(
        [STUDY, "--python", f"A={reference}", "--python", f"B={other}", "--runs", str(runs), "--workers", str(workers),
         "--fail-if-slower", str(THRESHOLD), "--verdict-json", verdict, "--output-dir", os.path.join(folder, "out")],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=runs * 2 * 120,
        env={**os.environ, "PYTHON": sys.executable})
    if not os.path.exists(verdict):
        print(f"  a study ended without a verdict (exit {completed.returncode}): {completed.stderr.strip()[-300:]}")
        return completed.returncode, None
    with open(verdict) as stream:
        rows = [row for row in json.load(stream)["verdicts"] if row["metric"] == "total_time"]
    return completed.returncode, rows[0]["ratio"] if rows else None


def report(title: str, outcomes: list[tuple[int, float | None]], goal: str) -> None:
    codes = [code for code, _ in outcomes]
    ratios = [ratio for _, ratio in outcomes if ratio is not None]
    print(title)
    print(f"  failed the gate (exit 1): {codes.count(1)} of {len(codes)}; inconclusive (exit 3): {codes.count(3)}; "
          f"passed (exit 0): {codes.count(0)}; other: {len(codes) - sum(map(codes.count, (0, 1, 3)))}")
    if ratios:
        print(f"  ratio of total times B / A: median {statistics.median(ratios):.3f}, "
              f"from {min(ratios):.3f} to {max(ratios):.3f}")
    print(f"  goal: {goal}")


def cached_environment(repeats: int) -> None:
    version = package_version("dask")
    with tempfile.TemporaryDirectory(prefix="bench-ab-cache-") as cache:
        os.environ["XDG_CACHE_HOME"] = cache  # pip keeps its own cache (PIP_CACHE_DIR or its default)
        os.environ.setdefault("PIP_CACHE_DIR", subprocess.run([sys.executable, "-m", "pip", "cache", "dir"],
                                                              capture_output=True, text=True).stdout.strip())
        environments = environments_of([], [version])
        started = time.perf_counter()
        prepare(environments, RUN_MODULES, write=lambda _line: None)
        first = time.perf_counter() - started
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            prepare(environments, RUN_MODULES, write=lambda _line: None)
            times.append(time.perf_counter() - started)
    print(f"Environment of dask {version}: first build {first:.1f} s; prepared again (cached), median of "
          f"{repeats}: {statistics.median(times):.2f} s (from {min(times):.2f} to {max(times):.2f} s)")
    print("  goal: under 2 s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--comparisons", type=int, default=20)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-ab-") as folder:
        a = wrapper_interpreter(os.path.join(folder, "a"))
        b = wrapper_interpreter(os.path.join(folder, "b"))
        slow = wrapper_interpreter(os.path.join(folder, "slow"), f"import time; time.sleep({DELAY})")
        same, slower = [], []
        for index in range(args.comparisons):  # alternating: both kinds meet the same machine
            same.append(compare(os.path.join(folder, f"same{index}"), a, b, args.runs, args.workers))
            slower.append(compare(os.path.join(folder, f"slow{index}"), a, slow, args.runs, args.workers))
            print(f"comparison {index + 1} of {args.comparisons}: A/A {same[-1]}, delayed {slower[-1]}", flush=True)
    setting = f"n = {args.runs} a side, LocalCluster with {args.workers} worker(s), --fail-if-slower {THRESHOLD}"
    report(f"A/A: {args.comparisons} interleaved comparisons of this interpreter with itself ({setting}):",
           same, "at most 1 of 20 fails")
    report(f"Power: {args.comparisons} interleaved comparisons against it with every process {DELAY} s late "
           f"({setting}):", slower, "at least 19 of 20 fail (caught)")
    cached_environment(args.repeats)


if __name__ == "__main__":
    main()
