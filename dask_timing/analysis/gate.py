"""The regression gate: its outcomes, its exit codes, and the one rule that judges a change against a threshold.

Every gate of the package decides by this module: the study's and the analyzer's
comparison (``--fail-if-slower PCT``, ``decide``), the history's verdict on its
newest point (``--fail-on-step PCT``, ``history.steps.judge_newest``), and any
other command that judges a change (``judge_change``, ``overall``, ``EXIT_CODES``).

One change is a ``analysis.verdicts.Verdict``: the ratio of medians new / old,
its 95 % bootstrap interval, Mann-Whitney's p and the smallest p its numbers of
runs can reach.  ``judge_change(change, PCT)`` says:

* ``REGRESSION`` (exit 1): the change is *slower* (p < 0.05 and the interval
  excludes 1) and its ratio is over 1 + PCT/100;
* ``UNDECIDED`` (exit 3, "cannot tell"): too few runs for p < 0.05 to be
  reachable, or an interval that reaches past 1 + PCT/100 (the runs cannot rule
  out a slowdown over the threshold: too few of them, or too noisy a machine);
  with ``either_way=True`` also an interval that reaches below 1 - PCT/100;
* ``PASSED`` (exit 0): the interval lies under 1 + PCT/100 (``either_way``:
  inside 1 ± PCT/100), shown to be within the threshold.

``either_way`` is what a history asks of its newest point: that it is shown to be
on the level before it, a step down larger than PCT being no pass but a new
level to look at; a comparison asks only that the new side is no slower.

Many changes (``overall``): a regression if any is one, else "cannot tell" if
any cannot, else passed if any was judged; with none, nothing to compare (exit
2): never a pass on nothing.

The comparison's gate (``decide``) judges the total time to ready of every pair:

* 2, nothing to compare: no configuration on both sides, or a side of a pair
  without a successful run, or no pair with a total time on both sides;
* 1, regression: a total time is a regression by ``judge_change``;
* 3, inconclusive: a total time is undecided by ``judge_change``, or a pair
  has no total time on a side (flat files of phases only);
* failed runs are judged too: a larger share of the new side's runs failing than
  of the baseline's is a regression (1) when Fisher's exact test says so
  (one-sided p < 0.05), otherwise inconclusive (3): a run that never got ready
  has no total time, and the gate would else judge only the runs that did;
* 0, passed: every total time passes, and no more runs failed on the new side
  than on the baseline.
"""

from __future__ import annotations

from typing import Iterable

import msgspec

from dask_timing.analysis.groups import Group
from dask_timing.analysis.verdicts import SIGNIFICANCE, Comparison, Pair, Verdict
from dask_timing.errors import EXIT_FAILED, EXIT_INCONCLUSIVE, EXIT_OK, EXIT_USAGE
from dask_timing.phases import TOTAL_KEY

# What a gate concluded; "compared" is a comparison without a threshold.
PASSED, REGRESSION, UNDECIDED, NOTHING_TO_COMPARE, COMPARED = (
    "passed", "regression", "inconclusive", "nothing to compare", "compared")
EXIT_CODES = {PASSED: EXIT_OK, COMPARED: EXIT_OK, REGRESSION: EXIT_FAILED, UNDECIDED: EXIT_INCONCLUSIVE,
              NOTHING_TO_COMPARE: EXIT_USAGE}


def judge_change(change: Verdict, percent: float, either_way: bool = False) -> str:
    """PASSED, REGRESSION or UNDECIDED for one change against a threshold of ``percent``, by the rule above."""
    if change.slower_than(percent):
        return REGRESSION
    upper, lower = 1 + percent / 100, 1 - percent / 100
    if change.smallest_p >= SIGNIFICANCE or change.ci_high > upper or (either_way and change.ci_low < lower):
        return UNDECIDED
    return PASSED


def overall(outcomes: Iterable[str]) -> str:
    """The outcome of many judged changes: any regression, else any undecided, else passed; none: nothing."""
    found = set(outcomes)
    for outcome in (REGRESSION, UNDECIDED, PASSED):
        if outcome in found:
            return outcome
    return NOTHING_TO_COMPARE


class Gate(msgspec.Struct, frozen=True):
    """What the comparison concluded, its exit code, and why."""

    outcome: str
    exit_code: int
    threshold: float | None  # --fail-if-slower PCT; None: compared without a gate
    reasons: list[str] = []


def _empty_sides(comparison: Comparison) -> list[str]:
    """Why the comparison compares nothing: no pair, or a side of a pair without a successful run."""
    if not comparison.pairs:
        return ["no configuration is on both sides: nothing to compare"]
    return [f"{pair.label}: {name} has no successful run ({len(group.failed_runs)} failed): nothing to compare"
            for pair in comparison.pairs
            for name, group in ((pair.baseline_name, pair.baseline), (pair.new_name, pair.new)) if not group.ok_runs]


def gated_measure(metric: str) -> str:
    """What the gate judges, in words: the total time, or a bisect's other metric by its name."""
    return "total time" if metric == TOTAL_KEY else metric


def decide(comparison: Comparison, verdicts: list[Verdict], percent: float | None, metric: str = TOTAL_KEY) -> Gate:
    """The gate, by the rule of this module (``percent`` None: a comparison without a gate), on the total
    time or another ``metric`` (a bisect's)."""
    empty = _empty_sides(comparison)
    if empty:
        return Gate(NOTHING_TO_COMPARE, EXIT_CODES[NOTHING_TO_COMPARE], percent, empty)
    if percent is None:
        return Gate(COMPARED, EXIT_CODES[COMPARED], None)
    totals = [verdict for verdict in verdicts if verdict.metric == metric]
    if not totals:  # phases compared, but the gate's measure on neither side of any pair
        return Gate(NOTHING_TO_COMPARE, EXIT_CODES[NOTHING_TO_COMPARE], percent,
                    [f"no configuration has a {gated_measure(metric)} on both sides: nothing for the gate to compare"])
    more_failures = [(pair, _failure_increase_p(pair)) for pair in comparison.pairs if _fails_more(pair)]
    outcomes = [(verdict, judge_change(verdict, percent)) for verdict in totals]
    failures = [f"{verdict.label}: {verdict.sentence()}, over the {percent:g}% allowed"
                for verdict, outcome in outcomes if outcome == REGRESSION]
    failures += [_more_failures(pair, p) for pair, p in more_failures if p < SIGNIFICANCE]
    if failures:
        return Gate(REGRESSION, EXIT_CODES[REGRESSION], percent, failures)
    undecided = [_undecided(verdict, percent) for verdict, outcome in outcomes if outcome == UNDECIDED]
    undecided += [f"{_more_failures(pair, p)}: the runs cannot tell chance from a change: run more"
                  for pair, p in more_failures]
    gated = {(verdict.label, verdict.new_name) for verdict in totals}
    undecided += [f"{pair.label}: {pair.new_name} against {pair.baseline_name}: no {gated_measure(metric)} on "
                  "both sides: the runs cannot say whether it is slower"
                  for pair in comparison.pairs if (pair.label, pair.new_name) not in gated]
    if undecided:
        return Gate(UNDECIDED, EXIT_CODES[UNDECIDED], percent, undecided)
    one_side = comparison.only_baseline + comparison.only_new
    return Gate(PASSED, EXIT_CODES[PASSED], percent,
                [f"every {gated_measure(metric)} is, at 95 % confidence, less than {percent:g}% slower"
                 + (f" ({len(totals)} configuration(s) compared; {len(one_side)} on one side only, not gated: "
                    f"{'; '.join(one_side)})" if one_side else "")])


def _failed_and_ok(group: Group) -> tuple[int, int]:
    return len(group.failed_runs), len(group.ok_runs)


def _fails_more(pair: Pair) -> bool:
    """A larger share of the new side's runs failed than of the baseline's."""
    (new_failed, new_ok), (old_failed, old_ok) = _failed_and_ok(pair.new), _failed_and_ok(pair.baseline)
    return new_failed * (old_failed + old_ok) > old_failed * (new_failed + new_ok)


def _failure_increase_p(pair: Pair) -> float:
    """One-sided Fisher's exact p that the new side's runs fail more often than the baseline's: a run that
    never got ready has no total time, and the gate would otherwise judge only the runs that did."""
    from scipy.stats import fisher_exact

    table = [_failed_and_ok(pair.new), _failed_and_ok(pair.baseline)]
    return float(fisher_exact(table, alternative="greater").pvalue)


def _more_failures(pair: Pair, p: float) -> str:
    (new_failed, new_ok), (old_failed, old_ok) = _failed_and_ok(pair.new), _failed_and_ok(pair.baseline)
    return (f"{pair.label}: {new_failed} of {new_failed + new_ok} {pair.new_name} run(s) failed, against "
            f"{old_failed} of {old_failed + old_ok} {pair.baseline_name} run(s) (Fisher's exact p = {p:.2g})")


def _undecided(verdict: Verdict, percent: float) -> str:
    """Why the gate cannot decide on this total time."""
    if verdict.smallest_p >= SIGNIFICANCE:
        return f"{verdict.label}: {verdict.note}"
    disagreement = f" ({verdict.note})" if verdict.note else ""
    return (f"{verdict.label}: {verdict.sentence()}: its 95 % CI reaches {verdict.ci_high:.3f}, past the "
            f"{percent:g}% allowed{disagreement}; the runs cannot rule such a slowdown out: run more, or on a "
            "quieter machine")
