"""Steps in a history, and the CI verdict on its newest point.

A history is a series of points in order (releases, commits, labels or studies),
each point the runs measured there.  The method, in the spirit of asv's step
detection (a penalised piecewise-constant fit), written for this package:

1. Each point is its median run.
2. The noise scale sigma is the larger of two robust estimates: the spread of
   consecutive differences of the points (what drift between points looks like;
   a few steps barely move it) and the typical standard error of a point's
   median from its own runs.
3. The points are fitted with a piecewise-constant function minimising the
   squared residuals over sigma squared plus ``PENALTY * ln(n)`` per step
   (optimal partitioning, exact, by dynamic programming over all segmentations).
4. Each step's size is the ratio of the medians of the segments either side,
   minus one, with a 95 % percentile-bootstrap interval: each side's points are
   resampled, each with a Gaussian jitter of sigma / sqrt(points on that side),
   so that a side of a single point still has the spread the noise gives it.
   A step whose interval holds zero is dropped and the fit re-segmented.

With 5 % noise on 60 points, a 10 % step is found in more than 95 % of series
(within 2 points of where it is), and a flat series shows a step in fewer than
5 % (``benchmarks/bench_history.py`` prints both rates).
"""

from __future__ import annotations

import math
import statistics
from typing import Sequence

import msgspec

from dask_timing.errors import UsageError

# Penalty per step, in units of ln(points) x sigma^2: a step must explain at least
# this much of the residual variance to be kept.  BIC's would be 2, which finds false
# steps in a fifth of flat series of 60 points; 3.5 in about 2 %, at no cost in the
# planted steps found (the benchmark's simulations).
PENALTY = 3.5
CONFIDENCE = 0.95
RESAMPLES = 2000
SEED = 20261125  # fixed: the same history always gives the same steps
# Below this many points no step can be found: the drift between points, which sets the noise
# scale, is then measured mostly by the step itself.
MIN_POINTS_FOR_STEPS = 4
# A verdict on the newest point needs a history where a step can be found: this many points before it.
MIN_EARLIER_POINTS = MIN_POINTS_FOR_STEPS - 1
# Normal-theory factors: sigma from a median absolute deviation; a median's standard
# error relative to a mean's.
MAD_TO_SIGMA = 1.4826
MEDIAN_EFFICIENCY = math.sqrt(math.pi / 2)

PASSED, FAILED, INCONCLUSIVE = "passed", "failed", "inconclusive"


class Point(msgspec.Struct, frozen=True):
    """One place in a history: its label (a version, a commit...) and the values measured there."""

    label: str
    values: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.values)


class Step(msgspec.Struct, frozen=True):
    """A change of level between two neighbouring points of a history."""

    position: int  # index of the first point after the step
    before: str  # the labels either side
    after: str
    level_before: float  # median of the points of the segment before, and after
    level_after: float
    size: float  # relative: level_after / level_before - 1
    ci_low: float  # 95 % confidence interval of the size
    ci_high: float

    def describe(self, metric: str) -> str:
        """E.g. ``distributed 2025.12.0 -> 2026.1.0: workers_start +18 % (95 % CI 12 to 24 %)``.

        Whole percents, or tenths when the interval is narrower than two percent.
        """
        digits = 1 if self.ci_high - self.ci_low < 0.02 else 0
        return (f"{_transition(self.before, self.after)}: {metric} {self.size * 100:+.{digits}f} % "
                f"(95 % CI {self.ci_low * 100:.{digits}f} to {self.ci_high * 100:.{digits}f} %)")


def _transition(before: str, after: str) -> str:
    """``a X -> a Y`` shown as ``a X -> Y``: the words both labels start with, once."""
    first, second = before.split(" "), after.split(" ")
    shared = 0
    while shared < min(len(first), len(second)) - 1 and first[shared] == second[shared]:
        shared += 1
    return f"{before} -> {' '.join(second[shared:])}"


def noise_scale(points: Sequence[Point]) -> float:
    """Sigma of the points' medians: drift between points or a median's own error, the larger, and never
    below the values' resolution (the smallest gap between two of them): a clock that ticks in 10 ms, or
    a series whose points agree to the last digit, would otherwise make any one tick a step."""
    medians = [point.median for point in points]
    differences = [abs(b - a) for a, b in zip(medians, medians[1:])]
    # |difference of two N(0, s^2)| has median 0.6745 * sqrt(2) * s
    between = statistics.median(differences) * MAD_TO_SIGMA / math.sqrt(2) if differences else 0.0
    errors = [MAD_TO_SIGMA * _mad(point.values) * MEDIAN_EFFICIENCY / math.sqrt(len(point.values))
              for point in points if len(point.values) > 1]
    within = statistics.median(errors) if errors else 0.0
    distinct = sorted({value for point in points for value in point.values})
    resolution = min((b - a for a, b in zip(distinct, distinct[1:])), default=0.0)
    return max(between, within, resolution)


def _mad(values: Sequence[float]) -> float:
    center = statistics.median(values)
    return statistics.median([abs(value - center) for value in values])


def change_points(medians: Sequence[float], sigma: float, penalty: float = PENALTY) -> list[int]:
    """Where the best penalised piecewise-constant fit changes level (indices of the first point after).

    Optimal partitioning: F(t) = min over s < t of F(s) + cost(s, t) + beta, with
    cost the squared residuals of points s..t-1 around their mean, over sigma^2.
    """
    import numpy

    n = len(medians)
    if n < 2:
        return []
    values = numpy.asarray(medians, dtype=float)
    scale = sigma if sigma > 0 else max(1e-12, 1e-12 * float(numpy.abs(values).max()))
    values = (values - values.mean()) / scale
    beta = penalty * math.log(n)
    sums = numpy.concatenate(([0.0], numpy.cumsum(values)))
    squares = numpy.concatenate(([0.0], numpy.cumsum(values * values)))
    best = numpy.empty(n + 1)
    best[0] = -beta
    previous = numpy.zeros(n + 1, dtype=int)
    for end in range(1, n + 1):
        starts = numpy.arange(end)
        lengths = end - starts
        segment_sums = sums[end] - sums[:end]
        costs = (squares[end] - squares[:end]) - segment_sums * segment_sums / lengths
        totals = best[:end] + costs + beta
        previous[end] = int(numpy.argmin(totals))
        best[end] = totals[previous[end]]
    found = []
    end = n
    while end > 0:
        end = int(previous[end])
        if end > 0:
            found.append(end)
    return sorted(found)


def measurable(points: Sequence[Point]) -> list[Point]:
    """The points a relative step can be measured between: with values, their median above zero.

    A duration of zero (below the clock's resolution) is no level to be a percentage of.
    """
    return [point for point in points if point.values and point.median > 0]


def detect_steps(points: Sequence[Point], penalty: float = PENALTY) -> list[Step]:
    """The steps of a history, each with its size and 95 % interval; [] when it is flat."""
    points = measurable(points)
    if len(points) < 2:
        return []
    sigma = noise_scale(points)
    medians = [point.median for point in points]
    positions = change_points(medians, sigma, penalty)
    while True:
        steps = _measured(points, medians, positions, sigma)
        doubtful = [step for step in steps if step.ci_low <= 0 <= step.ci_high]
        if not doubtful:
            return steps
        positions.remove(min(doubtful, key=lambda step: abs(step.size)).position)


def _measured(points: Sequence[Point], medians: Sequence[float], positions: list[int], sigma: float) -> list[Step]:
    import numpy

    generator = numpy.random.default_rng(SEED)
    bounds = [0, *positions, len(points)]
    segments = [numpy.asarray(medians[start:end]) for start, end in zip(bounds, bounds[1:])]
    levels = [float(numpy.median(segment)) for segment in segments]
    resampled = [_resampled_levels(segment, sigma, generator) for segment in segments]
    steps = []
    for index, position in enumerate(positions):
        ratios = resampled[index + 1] / resampled[index] - 1
        low, high = numpy.percentile(ratios, [50 * (1 - CONFIDENCE), 50 * (1 + CONFIDENCE)])
        steps.append(Step(position, points[position - 1].label, points[position].label, levels[index],
                          levels[index + 1], levels[index + 1] / levels[index] - 1, float(low), float(high)))
    return steps


def _resampled_levels(segment, sigma: float, generator):
    """Bootstrap medians of a segment's points, each draw jittered by sigma / sqrt(points)."""
    import numpy

    draws = generator.choice(segment, size=(RESAMPLES, len(segment)))
    draws += generator.normal(0.0, sigma / math.sqrt(len(segment)), size=draws.shape)
    return numpy.median(draws, axis=1)


class EmptyHistory(UsageError):
    """No point to judge: a verdict is never 'passed' on nothing."""


class StepVerdict(msgspec.Struct, frozen=True):
    """The newest point of a history against the points before it."""

    outcome: str  # PASSED, FAILED or INCONCLUSIVE
    reason: str
    step: Step | None = None  # the step into the newest point's level, when there is one


def judge_newest(points: Sequence[Point], fail_percent: float, metric: str = "total_time",
                 newest: str | None = None) -> StepVerdict:
    """Fail when the newest point brings a new step up larger than ``fail_percent``.

    A step is new when the fit of the history without the newest point does not
    have it (at the same place, give or take a point, in the same direction):
    a step is judged once, at the first point that shows it, and a level that has
    been there for several points no longer fails.  Fewer than MIN_EARLIER_POINTS
    points before the newest, or ``newest`` (the label being judged) not the last
    point with values: inconclusive.  No point at all: EmptyHistory.
    """
    points = measurable(points)
    if not points:
        raise EmptyHistory(f"no runs in the history of {metric}: nothing to judge")
    if newest is not None and points[-1].label != newest:
        return StepVerdict(INCONCLUSIVE, f"{newest}: no successful run in the history of {metric}")
    newest = points[-1].label
    if len(points) - 1 < MIN_EARLIER_POINTS:
        return StepVerdict(INCONCLUSIVE, f"{newest}: {len(points) - 1} earlier point(s) in the history of {metric}; "
                                         f"a verdict needs {MIN_EARLIER_POINTS}")
    steps = detect_steps(points)
    last = steps[-1] if steps else None
    if last is None:
        return StepVerdict(PASSED, f"{newest}: no step in the history of {metric}")
    earlier = detect_steps(points[:-1])
    known = any(abs(step.position - last.position) <= 1 and (step.size > 0) == (last.size > 0) for step in earlier)
    if known:
        return StepVerdict(PASSED, f"{newest}: no new step; the last one was there before it: "
                                   f"{last.describe(metric)}", last)
    if last.size * 100 > fail_percent:
        return StepVerdict(FAILED, f"{newest}: a new step larger than {fail_percent:g} %: {last.describe(metric)}",
                           last)
    return StepVerdict(PASSED, f"{newest}: a new step within {fail_percent:g} %: {last.describe(metric)}", last)
