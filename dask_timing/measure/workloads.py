"""Workloads timed after ready, for scaling studies.

``weak-array`` is a weak-scaling workload (seed: Dask weak-scaling studies on
Slurm and Kubernetes): a Dask array with one fixed-size chunk per worker,
transformed element-wise and reduced to one number.  The work per worker stays
constant as workers are added, so on an ideal cluster its time would too;
efficiency E(n) = T(1) / T(n) says how far from that a deployment is.
"""

from __future__ import annotations

import time
from typing import Any

WEAK_ARRAY = "weak-array"
WORKLOADS = (WEAK_ARRAY,)
DEFAULT_CHUNK = 1000  # a 1000 x 1000 float64 chunk: 8 MB per worker


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
