"""Steps in a history, and the CI verdict on its newest point.

A history is a series of points in order (releases, commits, labels or studies),
each point the runs measured there.  The method, in the spirit of asv's step
detection (a penalised piecewise-constant fit), written for this package:

1. Each point is its median run.
2. The noise scale sigma of the fit is the larger of two robust estimates: the
   spread of consecutive differences of the points (what drift between points
   looks like; a few steps barely move it) and the typical standard error of a
   point's median from its own runs.
3. The points are fitted with a piecewise-constant function minimising the
   squared residuals over sigma squared plus ``PENALTY * ln(n)`` per step
   (optimal partitioning, exact, by dynamic programming over all segmentations).
4. Each step is measured on the runs either side, as a comparison of two sets of
   runs is: its size is the ratio of the medians of the runs of the segments
   either side, minus one, with the 95 % percentile-bootstrap interval of
   ``analysis.verdicts`` (each side's runs resampled).  A step whose interval
   holds zero, or with a side of a single run (no interval), is dropped and the
   fit re-segmented.

The verdict on the newest point (``judge_newest``) uses none of the fit's noise
scale, which a real jump between points would inflate: the newest point's runs
are compared with the runs of the level before it (the points since the last
step of the history without it), by ``analysis.verdicts.judge``, and the change
judged by the gate's rule (``analysis.gate.judge_change``, ``either_way``): it
passes only when its 95 % interval lies within ±PCT.

With 5 % noise on 60 points, a 10 % step is found in more than 95 % of series
(within 2 points of where it is), and a flat series shows a step in fewer than
5 % (``benchmarks/bench_history.py`` prints both rates).
"""

from __future__ import annotations

import math
import statistics
from typing import Sequence

import msgspec

from dask_timing.analysis import gate
from dask_timing.analysis.inference import (
    SIGNIFICANCE, bootstrap_generator, bootstrap_medians, bootstrap_ratio_interval, percentile_interval,
)
from dask_timing.analysis.verdicts import Verdict, judge
from dask_timing.errors import UsageError
from dask_timing.phases import TOTAL_KEY

# Penalty per step, in units of ln(points) x sigma^2: a step must explain at least
# this much of the residual variance to be kept.  BIC's would be 2, which finds false
# steps in a fifth of flat series of 60 points; 3.5 in about 2 %, at no cost in the
# planted steps found (the benchmark's simulations).
PENALTY = 3.5
# Below this many points no step can be found: the drift between points, which sets the noise
# scale, is then measured mostly by the step itself.
MIN_POINTS_FOR_STEPS = 4
# Normal-theory factors: sigma from a median absolute deviation; a median's standard
# error relative to a mean's.
MAD_TO_SIGMA = 1.4826
MEDIAN_EFFICIENCY = math.sqrt(math.pi / 2)
# How a history speaks of each outcome of the gate's rule.
VERDICT_WORDS = {gate.PASSED: "passed", gate.REGRESSION: "failed", gate.UNDECIDED: "cannot tell"}
RULE = ("the newest point passes when the 95 % interval of its change from the level before it (the points "
        "since the last step before it, their runs pooled) lies within ±{percent:g} %; it fails when it is "
        "slower by more than {percent:g} % (Mann-Whitney's p < 0.05 and an interval above no change); otherwise "
        "the history cannot tell")


class Point(msgspec.Struct, frozen=True):
    """One place in a history: its label (a version, a commit...) and the values measured there."""

    label: str
    values: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    def interval(self) -> tuple[float, float] | None:
        """The 95 % percentile-bootstrap interval of the median, from this point's own runs; None for one run."""
        if len(self.values) < 2:
            return None
        return percentile_interval(bootstrap_medians(self.values, bootstrap_generator()))


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


def _transition(before: str, after: str, joint: str = "->") -> str:
    """``a X -> a Y`` shown as ``a X -> Y``: the words both labels start with, once."""
    first, second = before.split(" "), after.split(" ")
    shared = 0
    while shared < min(len(first), len(second)) - 1 and first[shared] == second[shared]:
        shared += 1
    return f"{before} {joint} {' '.join(second[shared:])}"


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
    positions = change_points([point.median for point in points], noise_scale(points), penalty)
    while True:
        steps = [_measured(points, positions, index) for index in range(len(positions))]
        doubtful = [step for step in steps if step.ci_low <= 0 <= step.ci_high]
        if not doubtful:
            return steps
        positions.remove(min(doubtful, key=lambda step: abs(step.size)).position)


def pooled(points: Sequence[Point]) -> list[float]:
    """The runs of several points, as one sample."""
    return [value for point in points for value in point.values]


def _measured(points: Sequence[Point], positions: list[int], index: int) -> Step:
    """The step at ``positions[index]``, measured on the runs of the segments either side (a side of a single
    run has no interval: (0, 0), which holds zero)."""
    bounds = [0, *positions, len(points)]
    before = pooled(points[bounds[index]:bounds[index + 1]])
    after = pooled(points[bounds[index + 1]:bounds[index + 2]])
    level_before, level_after = statistics.median(before), statistics.median(after)
    low, high = bootstrap_ratio_interval(before, after) if min(len(before), len(after)) > 1 else (1.0, 1.0)
    position = positions[index]
    return Step(position, points[position - 1].label, points[position].label, level_before, level_after,
                level_after / level_before - 1, low - 1, high - 1)


class EmptyHistory(UsageError):
    """No point to judge: a verdict is never 'passed' on nothing."""


class StepVerdict(msgspec.Struct, frozen=True):
    """The newest point of a history against the level before it."""

    outcome: str  # gate.PASSED, gate.REGRESSION or gate.UNDECIDED
    reason: str  # names the newest point, the level before it, the change with its interval, and why
    change: Verdict | None = None  # the newest point's runs against the level's: None when there is none

    def said(self) -> str:
        """``failed: <reason>``: the outcome as a history speaks of it, and why."""
        return f"{VERDICT_WORDS[self.outcome]}: {self.reason}"


def level_before(points: Sequence[Point]) -> list[Point]:
    """The points of the level a history ends on: those since its last step (all of them without one)."""
    steps = detect_steps(points)
    return list(points[steps[-1].position:] if steps else points)


def _level_name(level: Sequence[Point]) -> str:
    """``v8 (10 run(s), median 1.3 s)``, or ``v0 to v6 (7 points, 70 run(s), median 1 s)``."""
    runs = pooled(level)
    where, count = (level[0].label, "") if len(level) == 1 else (
        _transition(level[0].label, level[-1].label, "to"), f"{len(level)} points, ")
    return f"{where} ({count}{len(runs)} run(s), median {statistics.median(runs):.4g} s)"


def _percent(ratio: float) -> str:
    return f"{(ratio - 1) * 100:+.1f} %"


def judge_newest(points: Sequence[Point], fail_percent: float, metric: str = TOTAL_KEY,
                 newest: str | None = None) -> StepVerdict:
    """The newest point's change from the level before it, judged by the gate's rule (``RULE``).

    The level before is the points since the last step of the history without the
    newest point; its runs and the newest point's are compared as two sets of runs
    (``analysis.verdicts.judge``), and the change passes only when its 95 % interval
    lies within ±``fail_percent``.  ``newest`` (the label being judged) not the
    last point with values, no point before it, or a side of a single run: the
    history cannot tell.  No point at all: EmptyHistory.
    """
    points = measurable(points)
    if not points:
        raise EmptyHistory(f"no runs in the history of {metric}: nothing to judge")
    if newest is not None and points[-1].label != newest:
        return StepVerdict(gate.UNDECIDED, f"{newest}: no successful run in the history of {metric}")
    last = points[-1]
    if len(points) == 1:
        return StepVerdict(gate.UNDECIDED, f"{last.label}: no point before it in the history of {metric}: "
                                           "no level to compare it with")
    level = level_before(points[:-1])
    named = f"{_level_name([last])} against the level before it, {_level_name(level)}"
    single = [name for name, runs in (("the newest point", last.values), ("the level before", pooled(level)))
              if len(runs) < 2]
    if single:
        return StepVerdict(gate.UNDECIDED, f"{named}: {' and '.join(single)} {'have' if len(single) > 1 else 'has'} "
                                           "a single run: no interval, the history cannot tell a change from "
                                           "noise; run more")
    change = judge(metric, metric, pooled(level), last.values, _level_name(level), last.label)
    outcome = gate.judge_change(change, fail_percent, either_way=True)
    shown = (f"{metric} {_percent(change.ratio)} (95 % CI {_percent(change.ci_low)} to {_percent(change.ci_high)}; "
             f"p = {change.p_value:.2g})")
    if outcome == gate.REGRESSION:
        why = f"a step up larger than {fail_percent:g} %"
    elif outcome == gate.PASSED:
        why = f"shown to be within ±{fail_percent:g} %"
    elif change.smallest_p >= SIGNIFICANCE:
        why = f"cannot tell: {change.note}"
    elif change.ci_high < 1 - fail_percent / 100:
        why = (f"faster by more than {fail_percent:g} %: a new level, not within ±{fail_percent:g} %; look at "
               "it (the next point is judged against it)")
    else:
        why = (f"cannot tell: its interval reaches past ±{fail_percent:g} %; the runs cannot rule out a change "
               "that large: run more, or on a quieter machine")
    return StepVerdict(outcome, f"{named}: {shown}: {why}", change)
