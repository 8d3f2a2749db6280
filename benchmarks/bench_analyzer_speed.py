#!/usr/bin/env python3
"""How fast does the analyzer summarise a big study, and in how much memory?

Generates 10,000 result files (four configurations, realistic phases and a full
environment block, as the timing tools write them) and 10,000 flat files of the
earlier format, then prints the wall time and peak memory of
``analyze_results.py`` printing its text summary of each set.
Goal for the current format: 0.5 s or less and 200 MB or less.

Usage: python benchmarks/bench_analyzer_speed.py [--files N]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile

REPOSITORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPOSITORY)

from dask_timing.environment import collect_environment, utc_timestamp  # noqa: E402
from dask_timing.result import RunResult  # noqa: E402


def current_document(index: int, environment: dict, generator: random.Random) -> dict:
    workers = (1, 2, 4, 8)[index % 4]
    phases = {
        "cluster_init": generator.uniform(0.8, 0.9),
        "client_connect": generator.uniform(0.01, 0.02),
        "wait_for_workers": 0.4 * workers * generator.uniform(0.9, 1.1),
        "first_task": generator.uniform(0.01, 0.02),
    }
    return RunResult(
        kind="local",
        config={"n_workers": workers, "wait_for_workers": True, "batch_size": 0, "threads_per_worker": 1,
                "host": "127.0.0.1", "dashboard": True, "start_method": "spawn", "processes": True},
        options={"timeout": 60.0, "output": f"r{index}.json", "warmup": False},
        command_line=[sys.executable, "time_local_cluster.py", "--workers", str(workers)],
        environment=environment, run_id=f"{index:032x}", timestamp=utc_timestamp(),
        phases=phases, total_time=sum(phases.values()), teardown_time=generator.uniform(0.1, 0.2),
        before_start={"interpreter_and_imports": generator.uniform(0.7, 0.9)},
        workers=[{"name": str(k), "address": f"tcp://127.0.0.1:{40000 + k}", "nthreads": 1,
                  "memory_limit": 2**33, "arrival_time": 1.0 + 0.1 * k, "seen_time": 1.001 + 0.1 * k}
                 for k in range(workers)],
    ).to_json()


def legacy_document(index: int, generator: random.Random) -> dict:
    workers = (1, 2, 4, 8)[index % 4]
    parts = [generator.uniform(0.8, 0.9), generator.uniform(0.01, 0.02), 0.003, generator.uniform(0.01, 0.02)]
    return {"timestamp": "2025-01-01T00:00:00", "n_workers": workers, "threads_per_worker": 1,
            "cluster_init_time": parts[0], "client_connect_time": parts[1], "wait_for_workers_time": parts[2],
            "first_task_time": parts[3], "total_time": sum(parts)}


def measure(pattern: str) -> tuple[float, float]:
    """Wall seconds and peak resident MB of the analyzer's text summary."""
    import time

    started = time.perf_counter()
    child = subprocess.Popen([sys.executable, os.path.join(REPOSITORY, "analyze_results.py"), pattern],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit("the analyzer failed")
    return seconds, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=10_000)
    args = parser.parse_args()
    generator = random.Random(7)
    environment = collect_environment()
    with tempfile.TemporaryDirectory() as folder:
        for name, make in (("current", lambda i: current_document(i, environment, generator)),
                           ("flat", lambda i: legacy_document(i, generator))):
            os.makedirs(os.path.join(folder, name))
            for index in range(args.files):
                with open(os.path.join(folder, name, f"r{index:05d}.json"), "w") as stream:
                    json.dump(make(index), stream)
        for name, label in (("current", "current result files"), ("flat", "flat files of the earlier format")):
            measure(os.path.join(folder, name, "*.json"))  # warm the page cache
            runs = [measure(os.path.join(folder, name, "*.json")) for _ in range(3)]
            seconds = sorted(run[0] for run in runs)[1]
            memory = max(run[1] for run in runs)
            print(f"{args.files} {label:<34}: text summary in {seconds:.2f} s (median of 3), "
                  f"peak {memory:.0f} MB")
    print("goal for current result files: 0.5 s or less, 200 MB or less")


if __name__ == "__main__":
    main()
