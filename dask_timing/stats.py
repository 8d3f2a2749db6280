"""Descriptive statistics of repeated measurements (standard library only, so fast to import)."""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass
from typing import Sequence


@dataclass(frozen=True)
class Summary:
    """n, mean, sample standard deviation (None for one value), median, min, max."""

    n: int
    mean: float
    stddev: float | None
    median: float
    min: float
    max: float

    def to_json(self) -> dict:
        return asdict(self)


def summarize(values: Sequence[float]) -> Summary:
    """Summarize a non-empty sequence of numbers."""
    if not values:
        raise ValueError("no values to summarize")
    return Summary(
        n=len(values),
        mean=statistics.fmean(values),
        stddev=statistics.stdev(values) if len(values) > 1 else None,
        median=statistics.median(values),
        min=min(values),
        max=max(values),
    )


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) with linear interpolation, as numpy's default."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    lower = int(position)
    upper = min(lower + 1, len(ordered) - 1)
    return ordered[lower] + (ordered[upper] - ordered[lower]) * (position - lower)
