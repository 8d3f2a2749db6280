"""The descriptive statistics of repeated measurements that results and summaries record.

Apart from the analysis (``analysis.stats``: outliers, warnings, intervals) so
that what measures (``measure``) and what analyses may both summarise values
the same way.  Plain Python (no numpy or scipy, whose imports alone outlast a
text summary of thousands of runs), but for long series: those are sorted and
subtracted by numpy, to the same figures bit for bit.
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import msgspec


class Summary(msgspec.Struct, frozen=True):
    """Statistics of one metric over runs; stddev is None for a single value."""

    n: int
    mean: float
    stddev: float | None
    median: float
    mad: float
    min: float
    max: float
    p5: float
    p95: float

    def to_json(self) -> dict:
        return msgspec.structs.asdict(self)


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) with linear interpolation, as numpy's default."""
    if not values:
        raise ValueError("no values")
    return percentile_of_sorted(sorted(values), q)


def percentile_of_sorted(ordered: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) of sorted values, with linear interpolation as numpy's default."""
    position = (len(ordered) - 1) * q / 100
    lower = int(position)
    upper = min(lower + 1, len(ordered) - 1)
    return ordered[lower] + (ordered[upper] - ordered[lower]) * (position - lower)


def median_of_sorted(ordered: Sequence[float]) -> float:
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def mean(values: Sequence[float]) -> float:
    return math.fsum(values) / len(values)


def _stdev_around(values: Sequence[float], center: float) -> float:
    """Sample standard deviation (n - 1) around the mean, in floating point.

    ``statistics.stdev`` computes with exact fractions: correct, but slow enough
    to dominate a summary of thousands of runs.
    """
    return math.sqrt(math.fsum([(value - center) * (value - center) for value in values]) / (len(values) - 1))


def _mad_around(values: Sequence[float], center: float) -> float:
    return median_of_sorted(sorted([abs(value - center) for value in values]))


# From this many values a series' sorts and element-wise steps go through numpy: a tenth of the time of
# Python's, and its import is paid back by a few such series (a study of 100,000 runs has dozens).
LONG_SERIES = 2000


def summarize(values: Sequence[float]) -> Summary:
    """Summarize a non-empty sequence of numbers (one sort for the order statistics)."""
    if not values:
        raise ValueError("no values to summarize")
    if len(values) >= LONG_SERIES:
        found = _summarize_long(values)
        if found is not None:
            return found
    ordered = sorted(values)
    return _summary(ordered, lambda average: _stdev_around(ordered, average) if len(ordered) > 1 else None,
                    lambda center: _mad_around(ordered, center))


def _summarize_long(values: Sequence[float]) -> Summary | None:
    """``summarize``'s figures, bit for bit, through numpy: a stable sort orders floats as ``sorted`` does,
    each difference, square and absolute value is the same IEEE operation, and every sum is still
    ``math.fsum`` (exact) of the same numbers.  None for values that are not floats (whole numbers keep
    their type the plain way)."""
    import numpy

    array = numpy.asarray(values)
    if array.dtype != numpy.float64 or type(values[0]) is not float:
        return None
    array.sort(kind="stable")

    def stddev(average: float) -> float:
        deviations = array - average
        return math.sqrt(math.fsum((deviations * deviations).tolist()) / (len(array) - 1))

    return _summary(array.tolist(), stddev,
                    lambda center: median_of_sorted(numpy.sort(numpy.abs(array - center), kind="stable").tolist()))


def _summary(ordered: list[float], stddev: Callable[[float], float | None], mad: Callable[[float], float]) -> Summary:
    """The summary of sorted values, given how to take their spread around the mean (``stddev``) and around
    the median (``mad``)."""
    center = median_of_sorted(ordered)
    average = mean(ordered)
    return Summary(
        n=len(ordered),
        mean=average,
        stddev=stddev(average),
        median=center,
        mad=mad(center),
        min=ordered[0],
        max=ordered[-1],
        p5=percentile_of_sorted(ordered, 5),
        p95=percentile_of_sorted(ordered, 95),
    )
