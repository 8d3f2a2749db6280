"""Scheduler overhead probes: what each task costs once the cluster is ready.

Four probes, run one after the other on a ready cluster:

1. latency: K sequential submit-then-result round trips;
2. throughput: N no-op tasks through ``Client.map``;
3. per-task overhead: N tasks sleeping d ms, for each d; with T worker threads,
   overhead per task = (wall x T - N x d) / N, the time a thread spends on a
   task beyond the task itself;
4. inter-task gaps: from the task stream of probes 2 and 3, the idle time
   between one task's end and the next task's start on the same worker thread
   (the "worker lag" of many small tasks).

Every task function is from the standard library, so workers that cannot
import this package (a remote cluster) run the probes too.
"""

from __future__ import annotations

import operator
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from dask_timing.record.statistics import percentile

# Dask's documentation: about 200 us (threaded scheduler) to 1 ms (distributed)
# of overhead per task, and a scheduler handling about 4,000 tasks per second.
REFERENCE_OVERHEAD_SECONDS = (200e-6, 1e-3)
REFERENCE_THROUGHPUT = 4000.0


@dataclass(frozen=True)
class ProbeSettings:
    """How much work each probe does (recorded with its results)."""

    latency_rounds: int = 100
    throughput_tasks: int = 1000
    # task duration in milliseconds -> number of tasks
    overhead_tasks: dict[float, int] = field(default_factory=lambda: {0.0: 1000, 1.0: 400, 10.0: 100})


def inter_task_gaps(task_stream: list[dict[str, Any]]) -> list[float]:
    """Idle seconds between consecutive tasks on each worker thread.

    Overlapping intervals (clock skew between workers cannot cause them, as
    gaps are taken per thread) are ignored.
    """
    by_thread: dict[tuple[Any, Any], list[tuple[float, float]]] = {}
    for record in task_stream:
        for span in record.get("startstops", ()):
            if span.get("action") == "compute":
                by_thread.setdefault((record.get("worker"), record.get("thread")), []).append(
                    (span["start"], span["stop"])
                )
    gaps = []
    for spans in by_thread.values():
        spans.sort()
        for (_, previous_stop), (next_start, _) in zip(spans, spans[1:]):
            if next_start >= previous_stop:
                gaps.append(next_start - previous_stop)
    return gaps


async def _timed_map(client: Any, function: Any, arguments: list[Any]) -> float:
    """Seconds to submit tasks with ``Client.map`` and gather all their results."""
    started = time.perf_counter()
    futures = client.map(function, arguments, pure=False)
    await client.gather(futures)
    return time.perf_counter() - started


async def run_probes(client: Any, total_threads: int, settings: ProbeSettings) -> tuple[dict[str, Any], list[dict]]:
    """Run the four probes; return their results (JSON-ready) and the raw task stream."""
    from distributed import get_task_stream

    round_trips = []
    for index in range(settings.latency_rounds):
        started = time.perf_counter()
        await client.submit(operator.neg, index, pure=False)
        round_trips.append(time.perf_counter() - started)

    async with get_task_stream(client=client) as throughput_stream:
        throughput_wall = await _timed_map(client, operator.neg, list(range(settings.throughput_tasks)))
    stream = list(throughput_stream.data)
    gaps = inter_task_gaps(stream)

    overheads = []
    for task_ms, n_tasks in settings.overhead_tasks.items():
        async with get_task_stream(client=client) as sleep_stream:
            wall = await _timed_map(client, time.sleep, [task_ms / 1000] * n_tasks)
        stream.extend(sleep_stream.data)
        gaps.extend(inter_task_gaps(sleep_stream.data))
        overheads.append(
            {
                "task_ms": task_ms,
                "n_tasks": n_tasks,
                "wall_seconds": wall,
                "overhead_per_task_seconds": (wall * total_threads - n_tasks * task_ms / 1000) / n_tasks,
            }
        )

    results = {
        "settings": {**asdict(settings), "overhead_tasks": [
            {"task_ms": task_ms, "n_tasks": n} for task_ms, n in settings.overhead_tasks.items()
        ]},
        "total_threads": total_threads,
        "latency": {
            "rounds": settings.latency_rounds,
            "median_seconds": percentile(round_trips, 50),
            "p95_seconds": percentile(round_trips, 95),
        },
        "throughput": {
            "n_tasks": settings.throughput_tasks,
            "wall_seconds": throughput_wall,
            "tasks_per_second": settings.throughput_tasks / throughput_wall,
        },
        "overhead": overheads,
        "inter_task_gaps": {
            "n_gaps": len(gaps),
            "median_seconds": percentile(gaps, 50) if gaps else None,
            "p95_seconds": percentile(gaps, 95) if gaps else None,
        },
        "reference": {
            "overhead_per_task_seconds": list(REFERENCE_OVERHEAD_SECONDS),
            "tasks_per_second": REFERENCE_THROUGHPUT,
        },
    }
    return results, stream
