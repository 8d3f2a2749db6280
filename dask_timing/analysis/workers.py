"""Inside the workers, per configuration: every worker phase pooled over workers and runs.

Each run records each worker phase's seconds over its workers
(``worker_phases``); a configuration's statistics pool them across the
workers and the successful runs, so the median and p95 say what a worker
typically takes and what the slow ones take.  Runs without waterfalls
(older files, the earlier flat format) add nothing: their worker metrics are
absent, not zero.  Also per configuration: when its workers arrived
(``arrivals``), which of them straggled, and its median run.
"""

from __future__ import annotations

import statistics
from typing import Any, NamedTuple

import msgspec

from dask_timing.analysis.groups import Group
from dask_timing.record.import_profile import merge
from dask_timing.phases import REGISTERED_BOUNDARY as REGISTERED_KEY
from dask_timing.phases import REGISTRATION_TIME_LABEL, WORKER_PHASES, WORKER_PHASES_BY_KEY
from dask_timing.record.schema import RunResult, TimedRun

METRIC_PREFIX = "worker_"
# The worker phases in the order tables show them: ``registered`` last, each worker's time from the request
# to its registration.
WORKER_PHASE_ORDER = (*(phase.key for phase in WORKER_PHASES), REGISTERED_KEY)


def worker_metric(key: str) -> str:
    """The metric name of a worker phase in summaries and exports: ``worker_imports_time``."""
    return f"{METRIC_PREFIX}{key}_time"


def worker_label(key: str, short: bool = False) -> str:
    """How tables head a worker phase's column (``short``: one word)."""
    phase = WORKER_PHASES_BY_KEY.get(key)
    if phase is None:
        return REGISTRATION_TIME_LABEL.lower() if short else REGISTRATION_TIME_LABEL
    return phase.column if short else phase.label


def worker_phase_values(group: Group) -> dict[str, list[float]]:
    """Each worker phase's seconds pooled over the workers of the successful runs, in phase order;
    ``registered`` last: each worker's time from the request to its registration."""
    pooled: dict[str, list[float]] = {}
    for run in group.ok_runs:
        for key, values in (run.worker_phases or {}).items():
            pooled.setdefault(key, []).extend(values)
    return {key: pooled[key] for key in WORKER_PHASE_ORDER if key in pooled}


class Arrivals(msgspec.Struct, frozen=True):
    """When one configuration's workers arrived: with k workers registered (0 at the request), the seconds since
    the request in its fastest run, the median over its runs, and in its slowest run."""

    group: Group
    n_runs: int  # the runs that recorded arrivals
    fastest: list[float]  # by k, up to the fewest workers any of the runs registered
    median: list[float]
    slowest: list[float]


def arrival_times(run: RunResult) -> list[float]:
    """Seconds from the request for workers to each registration, in order."""
    if not run.arrivals or run.arrivals.get("requested_at") is None:
        return []
    requested = run.arrivals["requested_at"]
    return sorted(worker["arrival_time"] - requested for worker in run.workers
                  if worker.get("arrival_time") is not None)


def arrivals(group: Group) -> Arrivals | None:
    """The configuration's arrivals over its successful runs (whole runs: ``RunResult``); None when none
    recorded them."""
    per_run = [times for times in map(arrival_times, group.ok_runs) if times]
    if not per_run:
        return None
    count = min(len(times) for times in per_run)
    kth = [[0.0] * len(per_run)] + [[times[k] for times in per_run] for k in range(count)]
    return Arrivals(group, len(per_run), [min(values) for values in kth],
                    [statistics.median(values) for values in kth], [max(values) for values in kth])


def import_profile(group: Group) -> dict[str, Any] | None:
    """The configuration's import profile over its successful runs, seconds per worker."""
    return merge([run.import_profile for run in group.ok_runs if run.import_profile])


class Straggling(NamedTuple):
    """One worker that straggled in some of a configuration's runs."""

    worker: str
    runs: int  # the runs it straggled in
    told: int  # the runs that could tell (3 workers or more)
    excess: float  # median seconds after the median worker, over the runs it straggled in
    phase: str  # the worker phase it lost its time in most often
    phase_excess: float  # median seconds lost there


def stragglers(group: Group) -> list[Straggling]:
    """The workers that straggled in the configuration's successful runs, the most often first."""
    told = [run for run in group.ok_runs if run.stragglers is not None]
    found: dict[str, list[dict[str, Any]]] = {}
    for run in told:
        for straggler in run.stragglers:
            found.setdefault(str(straggler["name"]), []).append(straggler)
    rows = []
    for name, entries in found.items():
        lost = [entry["phase"] for entry in entries]
        phase = max(set(lost), key=lost.count)
        rows.append(Straggling(name, len(entries), len(told), statistics.median(entry["excess"] for entry in entries),
                               phase, statistics.median(entry["phase_excess"] for entry in entries
                                                        if entry["phase"] == phase)))
    return sorted(rows, key=lambda row: (-row.runs, -row.excess))


def median_run(group: Group) -> TimedRun | None:
    """The run whose total time is the median of its configuration's (the lower one of an even count)."""
    runs = sorted((run for run in group.ok_runs if run.total_time is not None), key=lambda run: run.total_time)
    return runs[(len(runs) - 1) // 2] if runs else None
