#!/usr/bin/env python3
"""The scheduler's share of a worker's registration, measured with many lightweight workers.

A scheduler runs in a process of its own; N thread workers (no nanny, no
dashboard, one thread each) start together in this process and register
with it.  The scheduler's CPU time (user + system, from the kernel) is read
before the first worker starts and once all N have registered; its add-worker
events give the registration times.  After that the cluster idles for a few
seconds, which measures what the heartbeats of N workers cost it.

Prints, for each N: add-worker events per second as measured (from the first
to the last; the one process that starts all the workers shares the machine's
two cores with the scheduler), the scheduler's CPU per registration (all it
does for a joining worker: accepting its connection, the handshake,
add-worker, its stream, over the whole window), its inverse, and the
scheduler's CPU per heartbeat; then the scheduler-side projection for 1,000
and 10,000 workers from a straight line fitted to the CPU per registration
against N.

Usage: python benchmarks/bench_scheduler_share.py [--workers 100,200,400] [--idle SECONDS]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time

import psutil

HEARTBEATS_CAP = 200  # distributed's heartbeat_interval: no more than 200 heartbeats a second, whatever N


def heartbeat_interval(workers: int) -> float:
    """distributed.scheduler.heartbeat_interval, as documented there."""
    from distributed.scheduler import heartbeat_interval as dask_interval

    return dask_interval(workers)


def start_scheduler(folder: str) -> tuple[subprocess.Popen, str]:
    scheduler_file = os.path.join(folder, "scheduler.json")
    process = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                                "--port", "0", "--no-dashboard", "--scheduler-file", scheduler_file],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with open(scheduler_file) as stream:
                return process, json.load(stream)["address"]
        except (OSError, ValueError, KeyError):
            time.sleep(0.01)
    process.kill()
    raise SystemExit("the scheduler did not start")


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


async def register(workers: int, address: str, scheduler: psutil.Process, folder: str, idle: float) -> dict:
    """Start the workers together; the scheduler's CPU over their registrations, then over ``idle`` seconds."""
    from distributed import Client, Worker

    started_cpu = cpu_seconds(scheduler)
    started = time.time()
    thread_workers = [Worker(address, nthreads=1, dashboard=False, memory_limit=0,
                             local_directory=os.path.join(folder, str(index))) for index in range(workers)]
    await asyncio.gather(*thread_workers)
    registered_cpu, registered = cpu_seconds(scheduler), time.time()
    await asyncio.sleep(idle)
    idle_cpu = cpu_seconds(scheduler) - registered_cpu
    async with Client(address, asynchronous=True) as client:
        stamps = sorted(stamp for stamp, message in await client.get_events("all")
                        if isinstance(message, dict) and message.get("action") == "add-worker")
    await asyncio.gather(*(worker.close() for worker in thread_workers))
    assert len(stamps) == workers, f"{len(stamps)} of {workers} workers registered"
    return {"workers": workers, "cpu": registered_cpu - started_cpu, "wall": registered - started,
            "first": stamps[0] - started, "span": stamps[-1] - stamps[0], "idle_cpu": idle_cpu, "idle": idle}


def measure(workers: int, idle: float) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        process, address = start_scheduler(folder)
        try:
            time.sleep(1.0)  # the scheduler's own start settles
            return asyncio.run(register(workers, address, psutil.Process(process.pid), folder, idle))
        finally:
            process.terminate()
            process.wait(10)


def fit_line(points: list[tuple[float, float]]) -> tuple[float, float]:
    """Least squares y = a + b x."""
    mean_x = statistics.fmean(x for x, _ in points)
    mean_y = statistics.fmean(y for _, y in points)
    spread = sum((x - mean_x) ** 2 for x, _ in points)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in points) / spread if spread else 0.0
    return mean_y - slope * mean_x, slope


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", default="100,200,400,800", help="worker counts, comma-separated")
    parser.add_argument("--idle", type=float, default=6.0, help="seconds of idling to time the heartbeats")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each worker count (medians are shown)")
    args = parser.parse_args()
    logging.disable(logging.ERROR)  # hundreds of workers' log lines (and their teardown's) otherwise
    counts = [int(text) for text in args.workers.split(",")]
    points, heartbeat_costs = [], []
    print("thread workers registering with a scheduler process (the workers share one process; "
          f"{args.repeats} runs each, medians)")
    print(f"{'workers':>8} {'registered/s':>13} {'CPU/registration':>17} {'1 / CPU':>11} "
          f"{'heartbeats/s':>13} {'CPU/heartbeat':>14}")
    for workers in counts:
        runs = [measure(workers, args.idle) for _ in range(args.repeats)]
        points += [(workers, run["cpu"] / workers) for run in runs]
        per_registration = statistics.median(run["cpu"] / workers for run in runs)
        rate = statistics.median((workers - 1) / run["span"] for run in runs)
        beats = workers / heartbeat_interval(workers)
        per_heartbeat = statistics.median(run["idle_cpu"] / run["idle"] / beats for run in runs)
        heartbeat_costs.append(per_heartbeat)
        print(f"{workers:>8} {rate:>13.0f} {per_registration * 1e3:>14.2f} ms {1 / per_registration:>8.0f} /s "
              f"{beats:>13.0f} {per_heartbeat * 1e3:>11.3f} ms")
    fixed, growth = fit_line(points)
    per_heartbeat = statistics.median(heartbeat_costs)
    print()
    print(f"CPU per registration, averaged over N workers, fitted: {fixed * 1e3:.3f} ms + {growth * 1e6:.3f} us x N "
          f"(least squares over {len(points)} runs)")
    print(f"CPU per heartbeat: {per_heartbeat * 1e3:.3f} ms (median); the scheduler asks for at most "
          f"{HEARTBEATS_CAP} heartbeats a second")
    print("projection, the scheduler's own CPU (one core) when N workers ask at once:")
    for workers in (1_000, 10_000):
        serial = workers * (fixed + growth * workers)
        beats = workers / heartbeat_interval(workers)
        print(f"  {workers:>6} workers: {serial:7.1f} s to register them all; then {beats:.0f} heartbeats/s take "
              f"{beats * per_heartbeat:.0%} of its core")


if __name__ == "__main__":
    main()
