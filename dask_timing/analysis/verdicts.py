"""The regression gate: is the new side faster, slower, or not significantly different?

For each configuration present on both sides and each metric, the ratio of
medians (new / baseline) with a bootstrap 95 % confidence interval and a
two-sided Mann-Whitney U p-value.  A change is significant only when both
agree: p below 0.05 and a confidence interval that excludes 1.  With few runs
the test cannot reach significance (3 against 3 runs gives p >= 0.1), which is
the honest answer: run more.
"""

from __future__ import annotations

import statistics
from typing import Sequence

import msgspec

from dask_timing.analysis.groups import Group
from dask_timing.phases import TOTAL_KEY

SIGNIFICANCE = 0.05
BOOTSTRAP_RESAMPLES = 4000
BOOTSTRAP_SEED = 20261123  # fixed: the same files always give the same verdict
FASTER, SLOWER, NO_CHANGE = "faster", "slower", "no significant change"


class Verdict(msgspec.Struct, frozen=True):
    """One metric of one configuration, baseline against new."""

    label: str
    metric: str
    n_baseline: int
    n_new: int
    median_baseline: float
    median_new: float
    ratio: float
    ci_low: float
    ci_high: float
    p_value: float
    verdict: str

    def slower_than(self, percent: float) -> bool:
        """Significantly slower, and by more than ``percent``."""
        return self.verdict == SLOWER and self.ratio > 1 + percent / 100


def bootstrap_ratio_interval(baseline: Sequence[float], new: Sequence[float]) -> tuple[float, float]:
    """95 % percentile-bootstrap interval of median(new) / median(baseline)."""
    import numpy

    generator = numpy.random.default_rng(BOOTSTRAP_SEED)
    old = generator.choice(numpy.asarray(baseline), size=(BOOTSTRAP_RESAMPLES, len(baseline)))
    fresh = generator.choice(numpy.asarray(new), size=(BOOTSTRAP_RESAMPLES, len(new)))
    ratios = numpy.median(fresh, axis=1) / numpy.median(old, axis=1)
    low, high = numpy.percentile(ratios, [2.5, 97.5])
    return float(low), float(high)


def mann_whitney_p(baseline: Sequence[float], new: Sequence[float]) -> float:
    """Two-sided Mann-Whitney U p-value (1.0 when the samples cannot differ)."""
    from scipy.stats import mannwhitneyu

    if len(set(baseline) | set(new)) == 1:
        return 1.0
    return float(mannwhitneyu(new, baseline, alternative="two-sided").pvalue)


def judge(label: str, metric: str, baseline: Sequence[float], new: Sequence[float]) -> Verdict:
    """The verdict for one metric."""
    median_baseline, median_new = statistics.median(baseline), statistics.median(new)
    ratio = median_new / median_baseline
    low, high = bootstrap_ratio_interval(baseline, new)
    p_value = mann_whitney_p(baseline, new)
    verdict = NO_CHANGE
    if p_value < SIGNIFICANCE and not low <= 1 <= high:
        verdict = SLOWER if ratio > 1 else FASTER
    return Verdict(label, metric, len(baseline), len(new), median_baseline, median_new, ratio, low, high,
                   p_value, verdict)


def compare(baseline: list[Group], new: list[Group]) -> tuple[list[Verdict], list[str], list[str]]:
    """Verdicts for every configuration and metric on both sides; the labels found on one side only."""
    old_by_key = {group.key: group for group in baseline}
    new_by_key = {group.key: group for group in new}
    verdicts = []
    for key, fresh in new_by_key.items():
        old = old_by_key.get(key)
        if old is None:
            continue
        old_values, new_values = old.values_by_metric(), fresh.values_by_metric()
        for metric in fresh.metric_names():
            if old_values.get(metric) and new_values.get(metric):
                verdicts.append(judge(fresh.label, metric, old_values[metric], new_values[metric]))
    only_baseline = [group.label for key, group in old_by_key.items() if key not in new_by_key]
    only_new = [group.label for key, group in new_by_key.items() if key not in old_by_key]
    return verdicts, only_baseline, only_new


def gate_failures(verdicts: list[Verdict], percent: float) -> list[Verdict]:
    """Total times significantly slower by more than ``percent``: what fails the gate."""
    return [verdict for verdict in verdicts if verdict.metric == TOTAL_KEY and verdict.slower_than(percent)]
