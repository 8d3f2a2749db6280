#!/usr/bin/env python3
"""Does the tool cost anything a user would notice, and how fast is teardown?

Prints, measured side by side in one run:

(a) whole-process wall time of ``time_local_cluster.py --workers 4`` against a
    minimal script making the same Dask calls, alternated run by run; the goal
    is a ratio of medians of 1.02 or less over 9 or more pairs; and against the
    same script ending as the tool does (garbage collector frozen at the end),
    which leaves what the tool's own work costs; and, as the largest part of
    that work, the tool's own imports: an interpreter importing Dask's
    modules against one importing the tool's too, alternated;
(b) teardown seconds of 8 separate-process workers (scheduler, nannies,
    worker processes and resource trackers all gone), as recorded by
    ``time_scheduler_workers.py`` over N runs, and the processes of those runs
    still alive after each (must be none); the goal is a median of 0.3 s or less;
(c) the same teardown timed in this process, alternated run by run with the
    graceful one it replaced (SIGTERM to every process group, then waiting for
    Dask's own shutdown), with the processes left after each (must be none).

Usage: python benchmarks/bench_tool_overhead.py [--repeats N] [--teardown-only]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import psutil
from installed import REPOSITORY, compile_package, run_measured

sys.path.insert(0, REPOSITORY)

from dask_timing.deploy.managed import families, terminate  # noqa: E402
from dask_timing.deploy.base import LaunchSettings
from dask_timing.deploy.processes import SeparateProcessDeployment  # noqa: E402
from dask_timing.deploy.reaper_process import MARKER  # noqa: E402

TEARDOWN_WORKERS = 8
# The teardown before: SIGTERM to every process group, SIGKILL after this many seconds.
GRACEFUL_GRACE = 3.0

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
    return run_measured(command, 300, cwd=REPOSITORY)[0]


def overhead(repeats: int) -> None:
    tool = [sys.executable, os.path.join(REPOSITORY, "time_local_cluster.py"), "--workers", "4"]
    commands = {
        "time_local_cluster.py --workers 4": tool,
        "minimal script, same Dask calls": [sys.executable, "-c", MINIMAL_SCRIPT],
        # The tool freezes the garbage collector once its work is done (the interpreter's last
        # collections of Dask's and bokeh's objects take ~0.3 s): the same exit for the minimal script
        # leaves the tool's own work as the difference.
        "minimal script, the tool's exit": [sys.executable, "-c", MINIMAL_SCRIPT + "import gc; gc.freeze()\n"],
    }
    wall_time(commands["minimal script, same Dask calls"])  # warm the file cache
    seconds: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(repeats):  # alternate, so drift on a shared machine hits all alike
        for name, command in commands.items():
            seconds[name].append(wall_time(command))
    medians = {name: statistics.median(values) for name, values in seconds.items()}
    print(f"(a) whole-process wall time, LocalCluster with 4 workers ({repeats} runs each, alternated)")
    for name, values in seconds.items():
        print(f"    {name:<36}: median {medians[name]:.3f} s  (min {min(values):.3f}, max {max(values):.3f})")
    names = list(commands)
    for other, meaning in ((names[1], "goal: 1.02 or less"), (names[2], "what the tool's own work costs")):
        pairs = sorted(tool_time / other_time for tool_time, other_time in zip(seconds[names[0]], seconds[other]))
        quartiles = statistics.quantiles(pairs, n=4)
        print(f"    tool / {other}: ratio of medians {medians[names[0]] / medians[other]:.3f} ({meaning}); "
              f"{len(pairs)} pairs, ratio per pair: median {statistics.median(pairs):.3f}, quartiles "
              f"{quartiles[0]:.3f}-{quartiles[2]:.3f}, range {pairs[0]:.3f}-{pairs[-1]:.3f}")


# Both end as the tool ends (garbage collector frozen), so the exit does not collect the imported modules.
IMPORT_DASK = "import distributed, distributed.deploy.local; import gc; gc.freeze()"
IMPORT_TOOL = "import distributed, distributed.deploy.local, dask_timing.cli.timing; import gc; gc.freeze()"


def own_imports(repeats: int) -> None:
    """What importing the tool adds to an interpreter that imports Dask (the tool's share of its start)."""
    seconds: dict[str, list[float]] = {IMPORT_DASK: [], IMPORT_TOOL: []}
    for _ in range(3 * repeats):  # short runs: more of them, alternated
        for code in seconds:
            seconds[code].append(wall_time([sys.executable, "-c", code]))
    added = sorted((tool - dask) * 1000 for dask, tool in zip(seconds[IMPORT_DASK], seconds[IMPORT_TOOL]))
    quartiles = statistics.quantiles(added, n=4)
    print(f"    the tool's own imports, after Dask's: {statistics.median(added):.0f} ms added per pair "
          f"(quartiles {quartiles[0]:.0f}-{quartiles[2]:.0f}, {len(added)} pairs; Dask's alone: median "
          f"{statistics.median(seconds[IMPORT_DASK]):.3f} s)")


def spread(seconds: list[float]) -> str:
    return (f"median {statistics.median(seconds):.3f} s (min {min(seconds):.3f}, max {max(seconds):.3f}, "
            f"{len(seconds)} runs)")


def carrying(token: str) -> list[int]:
    """Living processes whose environment carries ``token`` in the runs' marker."""
    found = []
    for process in psutil.process_iter():
        try:
            if token in process.environ().get(MARKER, "").split() and process.status() != psutil.STATUS_ZOMBIE:
                found.append(process.pid)
        except psutil.Error:
            continue
    return found


def teardown(repeats: int) -> None:
    token = f"bench-{os.getpid()}"  # the tool adds its own token: everything it starts carries both
    seconds, left = [], []
    with tempfile.TemporaryDirectory() as folder:
        for index in range(repeats):
            output = os.path.join(folder, f"run{index}.json")
            subprocess.run(
                [sys.executable, os.path.join(REPOSITORY, "time_scheduler_workers.py"),
                 "--workers", str(TEARDOWN_WORKERS), "--batch", "0", "--timeout", "120", "--output", output],
                check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, MARKER: token},
            )
            left += carrying(token)
            with open(output) as stream:
                seconds.append(json.load(stream)["teardown_time"])
    print(f"(b) teardown of {TEARDOWN_WORKERS} separate-process workers, as time_scheduler_workers.py records it")
    print(f"    {spread(seconds)}   (goal: median 0.3 s or less)")
    print(f"    processes of the runs alive after they ended: {len(left)} {left or ''}")


async def timed_close(workdir: str, graceful: bool) -> tuple[float, int, int]:
    """Start a scheduler and 8 workers, close them; return the seconds, the processes, the ones left."""
    from distributed import Client

    launch = LaunchSettings(threads_per_worker=1, workdir=workdir, host="127.0.0.1")
    deployment = SeparateProcessDeployment(launch, death_timeout=120)
    await deployment.start_scheduler()
    async with Client(deployment.address, asynchronous=True) as client:
        await deployment.request_workers(TEARDOWN_WORKERS)
        await client.wait_for_workers(TEARDOWN_WORKERS)
    family = families([deployment.scheduler, *deployment.workers])
    started = time.perf_counter()
    if graceful:
        await asyncio.to_thread(terminate, [*deployment.workers, deployment.scheduler], GRACEFUL_GRACE)
    else:
        await deployment.close()
    seconds = time.perf_counter() - started
    left = [process for process in family if process.is_running() and process.status() != psutil.STATUS_ZOMBIE]
    return seconds, len(family), len(left)


def teardown_pairs(repeats: int) -> None:
    seconds: dict[bool, list[float]] = {False: [], True: []}
    sizes, left = set(), 0
    for _ in range(repeats):  # alternate, so drift on a shared machine hits both alike
        for graceful in (False, True):
            with tempfile.TemporaryDirectory() as workdir:
                elapsed, processes, alive = asyncio.run(timed_close(workdir, graceful))
            seconds[graceful].append(elapsed)
            sizes.add(processes)
            left += alive
    print(f"(c) close() of {TEARDOWN_WORKERS} separate-process workers ({'/'.join(map(str, sorted(sizes)))} "
          "processes), timed here, alternated")
    print(f"    now: SIGKILL at once, trackers clean up : {spread(seconds[False])}")
    print(f"    before: SIGTERM, Dask's own shutdown    : {spread(seconds[True])}")
    print(f"    processes alive after close(): {left}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=11, help="runs of each measurement (default: 11)")
    parser.add_argument("--teardown-only", action="store_true", help="measure (b) and (c) only")
    args = parser.parse_args()
    compile_package()
    if not args.teardown_only:
        overhead(args.repeats)
        own_imports(args.repeats)
    teardown(args.repeats)
    teardown_pairs(args.repeats)


if __name__ == "__main__":
    main()
