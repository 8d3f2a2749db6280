#!/usr/bin/env python3
"""How fast does the analyzer summarise a big study, and in how much memory?

Times one real run of ``time_local_cluster.py`` and uses its result file as
the template of 10,000 result files (four worker counts, realistic phases,
worker records, arrival milestones, versions and the full environment, written
as the timing tools write them), then 10,000 flat files of the earlier format,
and prints the wall time and peak memory of ``analyze_results.py`` printing
its text summary of each set.  Side by side, in the same run and interleaved
with it, ``plain_summary.py`` summarises the same files the way the earlier
public analyzer does (``json.load`` and the ``statistics`` module), so the
ratio says which tool is faster on this machine.
Goal for the current format: 0.5 s or less and 200 MB or less, and never
slower than the plain summary.

Usage: python benchmarks/bench_analyzer_speed.py [--files N] [--repeats R]
"""

from __future__ import annotations

import argparse
import copy
import os
import random
import statistics
import subprocess
import sys
import tempfile

from installed import REPOSITORY, compile_package, run_measured

sys.path.insert(0, REPOSITORY)

from dask_timing.record.schema import RunResult  # noqa: E402
from dask_timing.record.load import load_result
from dask_timing.record.files import write_json

WORKER_COUNTS = (1, 2, 4, 8)


def real_result(folder: str) -> RunResult:
    """The result of one real LocalCluster run: the template of every generated file."""
    path = os.path.join(folder, "template.json")
    subprocess.run([sys.executable, os.path.join(REPOSITORY, "time_local_cluster.py"), "--workers", "2",
                    "--output", path], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   timeout=300)
    result = load_result(path)
    os.unlink(path)
    return result


def current_document(index: int, template: RunResult, generator: random.Random) -> dict:
    """The template with this run's worker count, phases, workers and arrivals."""
    workers = WORKER_COUNTS[index % len(WORKER_COUNTS)]
    result = copy.deepcopy(template)
    result.config["n_workers"] = workers
    result.run_id = f"{index:032x}"
    result.phases = {
        "cluster_init": generator.uniform(0.8, 0.9),
        "client_connect": generator.uniform(0.01, 0.02),
        "wait_for_workers": 0.4 * workers * generator.uniform(0.9, 1.1),
        "first_task": generator.uniform(0.01, 0.02),
    }
    result.total_time = sum(result.phases.values())
    result.teardown_time = generator.uniform(0.1, 0.2)
    result.before_start = {"interpreter_and_imports": generator.uniform(0.7, 0.9)}
    requested = result.phases["cluster_init"] + result.phases["client_connect"]
    arrivals = sorted(generator.uniform(0.2, 1.0) * result.phases["wait_for_workers"] for _ in range(workers))
    record = template.workers[0]
    result.workers = [dict(record, name=str(k), address=f"tcp://127.0.0.1:{40000 + k}",
                           arrival_time=requested + arrival) for k, arrival in enumerate(arrivals)]
    result.arrivals = {"requested_at": requested, "first_worker": arrivals[0],
                       "half_workers": arrivals[(workers + 1) // 2 - 1], "all_workers": arrivals[-1]}
    return result.to_json()


def legacy_document(index: int, generator: random.Random) -> dict:
    workers = WORKER_COUNTS[index % len(WORKER_COUNTS)]
    parts = [generator.uniform(0.8, 0.9), generator.uniform(0.01, 0.02), 0.003, generator.uniform(0.01, 0.02)]
    return {"timestamp": "2025-01-01T00:00:00", "n_workers": workers, "threads_per_worker": 1,
            "cluster_init_time": parts[0], "client_connect_time": parts[1], "wait_for_workers_time": parts[2],
            "first_task_time": parts[3], "total_time": sum(parts)}


ANALYZER = os.path.join(REPOSITORY, "analyze_results.py")
PLAIN_SUMMARY = os.path.join(REPOSITORY, "benchmarks", "plain_summary.py")
MEASURE_TIMEOUT = 120  # seconds; a summary that takes longer has failed the goal anyway


def measure(script: str, pattern: str) -> tuple[float, float]:
    """Wall seconds and peak resident MB of a script's text summary of the files."""
    return run_measured([sys.executable, script, pattern], MEASURE_TIMEOUT)


def interpreter_start() -> float:
    return run_measured([sys.executable, "-c", "pass"], MEASURE_TIMEOUT)[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    compile_package()
    generator = random.Random(7)
    with tempfile.TemporaryDirectory() as folder:
        template = real_result(folder)
        for name, make in (("current", lambda i: current_document(i, template, generator)),
                           ("flat", lambda i: legacy_document(i, generator))):
            os.makedirs(os.path.join(folder, name))
            for index in range(args.files):
                write_json(os.path.join(folder, name, f"r{index:05d}.json"), make(index))
        for name, label in (("current", "current result files"), ("flat", "flat files of the earlier format")):
            pattern = os.path.join(folder, name, "*.json")
            size = sum(entry.stat().st_size for entry in os.scandir(os.path.dirname(pattern))) / args.files
            print(f"{args.files} {label} ({size / 1024:.1f} KB each), median of {args.repeats}, interleaved:")
            measure(ANALYZER, pattern)  # warm the page cache
            times: dict[str, list[tuple[float, float]]] = {ANALYZER: [], PLAIN_SUMMARY: []}
            for _ in range(args.repeats):
                for script, samples in times.items():
                    samples.append(measure(script, pattern))
            medians = {script: statistics.median(seconds for seconds, _ in samples) for script, samples in times.items()}
            for script, samples in times.items():
                print(f"  {os.path.basename(script):<20} {medians[script]:6.2f} s (fastest "
                      f"{min(seconds for seconds, _ in samples):.2f} s), peak {max(mb for _, mb in samples):.0f} MB")
            print(f"  analyzer / plain summary: {medians[ANALYZER] / medians[PLAIN_SUMMARY]:.2f}")
    start = statistics.median(interpreter_start() for _ in range(args.repeats))
    print(f"starting the Python interpreter alone: {start:.2f} s")
    print("goal: current result files in 0.5 s or less and 200 MB or less; "
          "never slower than the plain summary (ratio 1.00 or less)")


if __name__ == "__main__":
    main()
