#!/usr/bin/env python3
"""Does the tool cost anything a user would notice, and how fast is teardown?

Prints, measured side by side in one run:

(a) whole-process wall time of ``time_local_cluster.py --workers 4`` against a
    minimal script making the same Dask calls, alternated run by run; the goal
    is a ratio of medians of 1.05 or less;
(b) teardown seconds of 8 separate-process workers (scheduler, nannies and
    workers all gone), as recorded by ``time_scheduler_workers.py``; the goal
    is under 1 s.

Usage: python benchmarks/bench_tool_overhead.py [--repeats N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

from installed import REPOSITORY, compile_package

MINIMAL_SCRIPT = """
import asyncio, operator
from distributed import Client, LocalCluster

async def main():
    cluster = LocalCluster(n_workers=0, threads_per_worker=1, processes=True, host="127.0.0.1",
                           scheduler_port=0, dashboard_address="127.0.0.1:0", asynchronous=True)
    await cluster
    client = await Client(cluster, asynchronous=True)
    cluster.scale(4)
    await client.wait_for_workers(4)
    assert await client.submit(operator.add, 1, 1, pure=False) == 2
    await client.close()
    await cluster.close()

asyncio.run(main())
"""


def wall_time(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=REPOSITORY,
                   timeout=300)
    return time.perf_counter() - started


def overhead(repeats: int) -> None:
    tool = [sys.executable, os.path.join(REPOSITORY, "time_local_cluster.py"), "--workers", "4"]
    minimal = [sys.executable, "-c", MINIMAL_SCRIPT]
    wall_time(minimal)  # warm the file cache for both
    tool_times, minimal_times = [], []
    for _ in range(repeats):  # alternate, so drift on a shared machine hits both alike
        tool_times.append(wall_time(tool))
        minimal_times.append(wall_time(minimal))
    tool_median, minimal_median = statistics.median(tool_times), statistics.median(minimal_times)
    print("(a) whole-process wall time, LocalCluster with 4 workers "
          f"({repeats} runs each, alternated)")
    print(f"    time_local_cluster.py --workers 4 : median {tool_median:.3f} s  "
          f"(min {min(tool_times):.3f}, max {max(tool_times):.3f})")
    print(f"    minimal script, same Dask calls   : median {minimal_median:.3f} s  "
          f"(min {min(minimal_times):.3f}, max {max(minimal_times):.3f})")
    print(f"    ratio of medians: {tool_median / minimal_median:.3f}   (goal: 1.05 or less)")


def teardown(repeats: int, workers: int = 8) -> None:
    seconds = []
    with tempfile.TemporaryDirectory() as folder:
        for index in range(repeats):
            output = os.path.join(folder, f"run{index}.json")
            subprocess.run(
                [sys.executable, os.path.join(REPOSITORY, "time_scheduler_workers.py"), "--workers", str(workers),
                 "--batch", "0", "--timeout", "120", "--output", output],
                check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )
            with open(output) as stream:
                seconds.append(json.load(stream)["teardown_time"])
    print(f"(b) teardown of {workers} separate-process workers ({repeats} runs): "
          f"median {statistics.median(seconds):.3f} s, max {max(seconds):.3f} s   (goal: under 1 s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="runs of each measurement (default: 5)")
    args = parser.parse_args()
    compile_package()
    overhead(args.repeats)
    teardown(max(1, args.repeats // 2))


if __name__ == "__main__":
    main()
