"""The scheduler overhead probes (``measure.probes``) as the console shows them, beside Dask's own figures."""

from __future__ import annotations

from typing import Any


def _microseconds(seconds: float | None) -> str:
    return "n/a" if seconds is None else f"{seconds * 1e6:,.0f} µs"


def describe_probes(probes: dict[str, Any]) -> list[str]:
    """Console lines for the probes, each beside Dask's reference figure."""
    low, high = (value * 1e6 for value in probes["reference"]["overhead_per_task_seconds"])
    latency, throughput, gaps = probes["latency"], probes["throughput"], probes["inter_task_gaps"]
    lines = [
        f"  Latency ({latency['rounds']} round trips):".ljust(40)
        + f"median {latency['median_seconds'] * 1e3:.2f} ms, p95 {latency['p95_seconds'] * 1e3:.2f} ms",
        f"  Throughput ({throughput['n_tasks']} no-op tasks):".ljust(40)
        + f"{throughput['tasks_per_second']:,.0f} tasks/s".ljust(24)
        + f"(Dask docs: about {probes['reference']['tasks_per_second']:,.0f} tasks/s)",
    ]
    for entry in probes["overhead"]:
        lines.append(
            f"  Overhead per task, {entry['task_ms']:g} ms tasks:".ljust(40)
            + f"{_microseconds(entry['overhead_per_task_seconds'])}/task".ljust(24)
            + f"(Dask docs: about {low:.0f} µs to {high:,.0f} µs)"
        )
    lines.append(
        "  Inter-task gaps (per thread):".ljust(40)
        + f"median {_microseconds(gaps['median_seconds'])}, p95 {_microseconds(gaps['p95_seconds'])}"
    )
    return lines
