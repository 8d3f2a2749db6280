"""Descriptive statistics of repeated measurements, outliers and warnings.

Plain Python (no numpy or scipy, whose imports alone outlast a text summary
of thousands of runs).  Outliers are flagged, never dropped: a slow run is
information.
"""

from __future__ import annotations

import math
import statistics
from typing import NamedTuple, Sequence

import msgspec

from dask_timing.record.statistics import Summary, median_of_sorted, percentile_of_sorted, summarize

# Iglewicz and Hoaglin: |modified Z| above 3.5 marks a likely outlier.
OUTLIER_Z = 3.5
# With MAD 0 (most values equal), a value this close to the median (share of it) is no outlier.
MIN_OUTLIER_SHARE = 0.01
# Warn when the standard deviation exceeds this share of the mean (as pyperf does).
UNSTABLE_CV = 0.10
# Warn when the first run is this much slower than the median of the others.
SLOW_FIRST_RATIO = 1.25
# Tukey's fences: a box plot's whiskers reach the most extreme values within this many IQRs of the box.
WHISKER_IQR = 1.5
# Default precision the number of runs is judged against: +-1 % at 95 % confidence.
DEFAULT_PRECISION = 0.01
Z_95 = statistics.NormalDist().inv_cdf(0.975)
# Student's t 0.975 quantiles for 1 to 30 degrees of freedom (standard tables, 4 decimals).
# Kept here rather than importing scipy.stats, whose import alone takes seconds and would
# dominate the analyzer's text summary.
_T_975 = (12.7062, 4.3027, 3.1824, 2.7764, 2.5706, 2.4469, 2.3646, 2.306, 2.2622, 2.2281, 2.201, 2.1788,
          2.1604, 2.1448, 2.1314, 2.1199, 2.1098, 2.1009, 2.093, 2.086, 2.0796, 2.0739, 2.0687, 2.0639,
          2.0595, 2.0555, 2.0518, 2.0484, 2.0452, 2.0423)


def t_quantile_975(degrees_of_freedom: int) -> float:
    """Student's t 0.975 quantile: the table up to 30, then the Cornish-Fisher expansion
    around the normal quantile (relative error below 1e-6 from 31 on)."""
    if degrees_of_freedom < 1:
        raise ValueError("degrees of freedom must be 1 or more")
    if degrees_of_freedom <= len(_T_975):
        return _T_975[degrees_of_freedom - 1]
    z, df = Z_95, degrees_of_freedom
    return (z + (z**3 + z) / (4 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)
            + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * df**3))


def outlier_indices(values: Sequence[float], summary: Summary | None = None) -> list[int]:
    """Positions of values whose modified Z-score, 0.6745 (x - median) / MAD, exceeds 3.5.

    When more than half the values are equal (MAD 0), the score is, as Iglewicz and Hoaglin give it,
    (x - median) / (1.253314 mean absolute deviation): in 1, 1, 1, 1, 50 the 50 is an outlier.  A value
    that differs from the median by less than MIN_OUTLIER_SHARE of it is none (a clock tick among equal
    runs).  ``summary``: the values' statistics, when already computed.
    """
    if len(values) < 3:
        return []
    summary = summary or summarize(values)
    if summary.mad > 0:
        limit = OUTLIER_Z * summary.mad / 0.6745
    else:
        mean_deviation = statistics.fmean(abs(value - summary.median) for value in values)
        if mean_deviation == 0:
            return []
        limit = max(OUTLIER_Z * 1.253314 * mean_deviation, MIN_OUTLIER_SHARE * abs(summary.median))
    return [index for index, value in enumerate(values) if abs(value - summary.median) > limit]


def runs_needed(values: Sequence[float], precision: float = DEFAULT_PRECISION,
                summary: Summary | None = None) -> int | None:
    """Runs needed for the mean to be within +-precision (relative) at 95 % confidence."""
    if len(values) < 2:
        return None
    summary = summary or summarize(values)
    if summary.mean <= 0:
        return None
    return max(2, math.ceil((Z_95 * summary.stddev / (precision * summary.mean)) ** 2))


class SeriesWarning(msgspec.Struct, frozen=True):
    """A warning about one series of runs: its ``kind`` reads the same for every series (so a report can
    list the series that share it, each with its ``figure``); ``sentence`` says it whole."""

    kind: str
    figure: str
    sentence: str


def warnings_for(values: Sequence[float], precision: float = DEFAULT_PRECISION,
                 summary: Summary | None = None) -> list[SeriesWarning]:
    """pyperf-style warnings about a series of runs, in the order they were taken.

    ``summary``: the values' statistics, when already computed.
    """
    found = []
    summary = summary or summarize(values)
    if len(values) >= 2:
        cv = summary.stddev / summary.mean if summary.mean else 0.0
        if cv > UNSTABLE_CV:
            found.append(SeriesWarning(
                f"unstable: standard deviation over {UNSTABLE_CV:.0%} of the mean", f"{cv:.0%}",
                f"unstable: the standard deviation is {cv:.0%} of the mean (over {UNSTABLE_CV:.0%})"))
    if len(values) >= 3:
        rest = median_of_sorted(sorted(values[1:]))
        if values[0] > SLOW_FIRST_RATIO * rest:
            found.append(SeriesWarning(
                f"first run over {SLOW_FIRST_RATIO:g}x the median of the others (consider --warmup)",
                f"{values[0] / rest:.2f}x",
                f"the first run was {values[0] / rest:.2f}x the median of the others: consider --warmup"))
    needed = runs_needed(values, precision, summary)
    if needed is not None and needed > len(values):
        found.append(SeriesWarning(
            f"too few runs: about this many are needed for +-{precision:.0%} at 95% confidence", f"{needed}",
            f"too few runs: about {needed} are needed for +-{precision:.0%} at 95% confidence (have {len(values)})"))
    elif len(values) == 1:
        found.append(SeriesWarning("a single run: no spread can be estimated (use --runs)", "",
                                   "a single run: no spread can be estimated; use --runs"))
    return found


class Box(NamedTuple):
    """A box plot's figures (Tukey's): the quartiles and the median, and the whiskers at the most extreme values
    within ``WHISKER_IQR`` interquartile ranges of the box (never inside it)."""

    q1: float
    median: float
    q3: float
    low: float
    high: float


def box_of(values: Sequence[float]) -> Box:
    """The box of some values, their quartiles interpolated linearly (as numpy's and matplotlib's)."""
    ordered = sorted(values)
    q1, median, q3 = (percentile_of_sorted(ordered, q) for q in (25, 50, 75))
    reach = WHISKER_IQR * (q3 - q1)
    high = max((value for value in values if value <= q3 + reach), default=q3)
    low = min((value for value in values if value >= q1 - reach), default=q1)
    return Box(q1, median, q3, min(low, q1), max(high, q3))
