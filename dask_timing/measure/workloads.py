"""Running a workload after ready, for scaling studies (the workloads and their names: ``record.workloads``)."""

from __future__ import annotations

import time
from typing import Any

from dask_timing.record.workloads import WEAK_ARRAY


async def run_workload(name: str, client: Any, n_workers: int, chunk: int) -> float:
    """Run workload ``name`` on the cluster; return the seconds its compute took."""
    if name != WEAK_ARRAY:
        raise ValueError(f"unknown workload {name!r}")
    import dask.array as da

    array = da.random.random((n_workers * chunk, chunk), chunks=(chunk, chunk))
    reduced = (array * 2 + 1).sum()
    started = time.perf_counter()
    value = await client.compute(reduced)
    elapsed = time.perf_counter() - started
    expected = 2 * 0.5 * array.size + array.size  # the mean of uniform [0, 1) is 0.5
    if abs(value - expected) > 0.01 * expected:
        raise RuntimeError(f"the {name} workload returned {value!r}, far from the expected {expected:.0f}")
    return elapsed
