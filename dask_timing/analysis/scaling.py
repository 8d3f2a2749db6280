"""How startup and work scale with the number of workers.

A *family* is a set of configurations that differ only in their worker count.
For each family with at least two worker counts:

* the scaling law: total time = a + b x workers, fitted by least squares over
  every run, with R^2 and 95 % confidence intervals: a is the fixed cost of a
  cluster, b the cost of each worker.  Only with ``MIN_FIT_WORKER_COUNTS``
  worker counts or more: a line through two counts passes through both their
  means whatever the law, so its R^2 would say nothing (``NO_FIT`` says so
  instead);
* weak-scaling efficiency, when the runs timed the weak-array workload:
  E(n) = T(n0) / T(n) with medians, n0 the smallest worker count (1 when
  present, the textbook T(1) / T(n)); an ideal deployment keeps E(n) = 1.
"""

from __future__ import annotations

import math
import statistics

import msgspec

from dask_timing.analysis.groups import Group, configuration_key
from dask_timing.phases import TOTAL_KEY, workload_key
from dask_timing.analysis.stats import t_quantile_975
from dask_timing.record.workloads import WEAK_ARRAY

WEAK_METRIC = workload_key(WEAK_ARRAY) + "_time"
MIN_FIT_WORKER_COUNTS = 3  # fewer: the line fits the counts' means exactly, whatever the law
NO_FIT = f"no fit: a line a + b x workers needs {MIN_FIT_WORKER_COUNTS} or more worker counts"


class Fit(msgspec.Struct, frozen=True):
    """total = intercept + slope x workers, with 95 % intervals."""

    intercept: float
    slope: float
    r_squared: float
    intercept_interval: tuple[float, float]
    slope_interval: tuple[float, float]
    n_points: int


def family_key(group: Group) -> tuple:
    return configuration_key(group.runs[0], leave_out=("n_workers",))


def families(groups: list[Group]) -> list[list[Group]]:
    """Groups differing only in worker count, each family sorted by workers; two counts or more."""
    found: dict[tuple, list[Group]] = {}
    for group in groups:
        if group.ok_runs and isinstance(group.config.get("n_workers"), int):
            found.setdefault(family_key(group), []).append(group)
    return [
        sorted(members, key=lambda group: group.config["n_workers"])
        for members in found.values()
        if len({group.config["n_workers"] for group in members}) >= 2
    ]


def family_label(family: list[Group]) -> str:
    """The shared label of a family: its first member's, with the worker count as 'N'."""
    first = family[0]
    return first.label.replace(f"{first.config['n_workers']} workers", "N workers", 1)


def fit_scaling(family: list[Group], metric: str = TOTAL_KEY) -> Fit | None:
    """Least-squares line of ``metric`` against workers over every run of the family; None with fewer than
    ``MIN_FIT_WORKER_COUNTS`` worker counts (``NO_FIT``)."""
    xs: list[float] = []  # a point per run: its configuration's workers, its value
    ys: list[float] = []
    for group in family:
        values = group.values_by_metric().get(metric, [])
        xs += [float(group.config["n_workers"])] * len(values)
        ys += values
    if len(set(xs)) < MIN_FIT_WORKER_COUNTS:
        return None
    n = len(xs)
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mean_x) ** 2 for x in xs)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys)) / sxx
    intercept = mean_y - slope * mean_x
    residual = sum((y - intercept - slope * x) ** 2 for x, y in zip(xs, ys))
    total = sum((y - mean_y) ** 2 for y in ys)
    r_squared = 1 - residual / total if total > 0 else 1.0
    sigma = math.sqrt(residual / (n - 2))
    quantile = t_quantile_975(n - 2)
    slope_error = sigma / math.sqrt(sxx)
    intercept_error = sigma * math.sqrt(1 / n + mean_x**2 / sxx)
    return Fit(
        intercept, slope, r_squared,
        (intercept - quantile * intercept_error, intercept + quantile * intercept_error),
        (slope - quantile * slope_error, slope + quantile * slope_error),
        n,
    )


def weak_efficiency(family: list[Group]) -> list[tuple[int, float, float]]:
    """(workers, median workload seconds, efficiency) for each worker count that ran the workload."""
    medians = [
        (group.config["n_workers"], statistics.median(values))
        for group in family
        if (values := group.values_by_metric().get(WEAK_METRIC))
    ]
    if len(medians) < 2:
        return []
    reference = medians[0][1]
    return [(workers, seconds, reference / seconds) for workers, seconds in medians]
