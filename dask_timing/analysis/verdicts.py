"""Comparisons and the regression gate: is the new side faster, slower, no different, or can it not say?

What is compared is a list of pairs (baseline group, new group), one per configuration:

* two sets of results (``--baseline``): the same settings on both sides; where a
  side holds several environments of the same settings, only equal environments
  are paired.  Two studies run at different times also compare the machine's
  state at those times, and the report says when the sides did not overlap.
* the environments of one interleaved study (``--python NAME=PATH``,
  ``--dask-versions``): for each setting, every environment against the
  reference one.  This is the comparison to trust: both sides ran alternately,
  under the same conditions.

For each pair and metric: the ratio of medians (new / baseline), its 95 %
percentile-bootstrap interval and bootstrap standard error, and a two-sided
Mann-Whitney U p-value.  The one verdict rule:

* *inconclusive* when there are too few runs: the smallest p Mann-Whitney can
  reach with n1 against n2 runs (exact, two-sided: 2 / C(n1 + n2, n1)) is not
  below 0.05, so no difference could ever be significant (3 against 3: 0.1);
* *slower* or *faster* when p < 0.05 and the interval excludes 1;
* *no significant change* when p >= 0.05 and the interval includes 1;
* *inconclusive* when the two disagree (one sees a change, the other not):
  either reading would be a guess, the note says which way they disagree, and
  more runs settle it.

The gate that judges these verdicts against a threshold, and its exit codes, are
``analysis.gate``'s.
"""

from __future__ import annotations

import statistics
from typing import TYPE_CHECKING, Any, Callable, Sequence

import msgspec

from dask_timing.analysis.groups import Group
from dask_timing.analysis.inference import (
    SIGNIFICANCE, bootstrap_ratios, mann_whitney_p, percentile_interval, runs_for_significance, smallest_p,
)
from dask_timing.phases import TOTAL_KEY
from dask_timing.record.schema import SCHEMA_VERSION, VERDICT_DOCUMENT, MachineLoad

if TYPE_CHECKING:
    from dask_timing.analysis.gate import Gate

FASTER, SLOWER, NO_CHANGE, INCONCLUSIVE = "faster", "slower", "no significant change", "inconclusive"
# Sides whose median load differs by more than half a CPU's worth per CPU ran on clearly different
# machines: on 2 CPUs, one more busy process all along.  (Each run adds its own processes to the
# one-minute average it records, alike on both sides, so smaller differences are the runs' own.)
LOAD_PER_CPU_DIFFERENCE = 0.5
# CPU clocks more than 10 % apart (frequency scaling, thermal throttling) change every timing.
CPU_CLOCK_DIFFERENCE = 0.10
RULE = ("a change is significant when Mann-Whitney's p < 0.05 and the ratio's 95 % bootstrap CI excludes 1; "
        "when they disagree, or when too few runs make p < 0.05 unreachable, the verdict is inconclusive")
INTERLEAVED_HINT = ("for a comparison to trust, run both sides interleaved in one study "
                    "(run_timing_study.sh --python A=PATH --python B=PATH, or --dask-versions V1,V2)")


class Verdict(msgspec.Struct, frozen=True):
    """One metric of one configuration, baseline against new."""

    label: str  # the configuration (its settings: what is compared is named apart)
    metric: str
    n_baseline: int
    n_new: int
    median_baseline: float
    median_new: float
    ratio: float  # median new / median baseline
    ci_low: float
    ci_high: float
    p_value: float
    verdict: str
    baseline_name: str = "baseline"
    new_name: str = "new"
    ratio_error: float = 0.0  # the bootstrap standard error of the ratio
    smallest_p: float = 0.0  # the smallest p Mann-Whitney can reach with these numbers of runs
    note: str = ""  # why the verdict is inconclusive

    def slower_than(self, percent: float) -> bool:
        """Significantly slower, and by more than ``percent``."""
        return self.verdict == SLOWER and self.ratio > 1 + percent / 100

    def sentence(self) -> str:
        """Hyperfine's way: "B is 1.04 ± 0.03 times slower than A (95 % CI [...]; p = ...; n = 20 + 20)"."""
        factor, low, high, error, word = self.ratio, self.ci_low, self.ci_high, self.ratio_error, "slower"
        if self.ratio < 1:  # as a factor above 1, the interval and the error turned over with it
            factor, low, high, error, word = (1 / self.ratio, 1 / self.ci_high, 1 / self.ci_low,
                                              self.ratio_error / self.ratio**2, "faster")
        return (f"{self.new_name} is {factor:.2f} ± {error:.2f} times {word} than {self.baseline_name} "
                f"(95 % CI [{low:.2f}, {high:.2f}]; p = {self.p_value:.2g}; n = {self.n_new} + {self.n_baseline})")


def judge(label: str, metric: str, baseline: Sequence[float], new: Sequence[float],
          baseline_name: str = "baseline", new_name: str = "new") -> Verdict:
    """The verdict for one metric, by the rule of this module."""
    import numpy

    median_baseline, median_new = statistics.median(baseline), statistics.median(new)
    ratios = bootstrap_ratios(baseline, new)
    low, high = percentile_interval(ratios)
    p_value = mann_whitney_p(baseline, new)
    reachable = smallest_p(len(baseline), len(new))
    significant, excludes_one = p_value < SIGNIFICANCE, not low <= 1 <= high
    ratio = median_new / median_baseline
    verdict, note = NO_CHANGE, ""
    if reachable >= SIGNIFICANCE:
        verdict = INCONCLUSIVE
        note = (f"too few runs: with {len(new)} against {len(baseline)}, Mann-Whitney's p cannot go below "
                f"{reachable:.3g}; run at least {runs_for_significance(len(baseline), len(new))} of each")
    elif significant and excludes_one:
        verdict = SLOWER if ratio > 1 else FASTER
    elif excludes_one:
        verdict, note = INCONCLUSIVE, (f"the 95 % CI excludes 1 but p = {p_value:.2g} is not below "
                                       f"{SIGNIFICANCE:g}: the measures disagree; more runs settle it")
    elif significant:
        verdict, note = INCONCLUSIVE, (f"p = {p_value:.2g} is below {SIGNIFICANCE:g} but the 95 % CI includes 1: "
                                       "the measures disagree; more runs settle it")
    return Verdict(label, metric, len(baseline), len(new), median_baseline, median_new, ratio, low, high,
                   p_value, verdict, baseline_name, new_name, float(numpy.std(ratios)), reachable, note)


class Pair(msgspec.Struct, frozen=True):
    """One configuration's two sides, and what each is called in the report."""

    label: str
    baseline: Group
    new: Group
    baseline_name: str = "baseline"
    new_name: str = "new"


class Comparison(msgspec.Struct, frozen=True):
    """The pairs to judge, and the configurations found on one side only (by label)."""

    pairs: list[Pair]
    only_baseline: list[str] = []
    only_new: list[str] = []


def _by_settings(groups: list[Group]) -> dict[tuple, list[Group]]:
    found: dict[tuple, list[Group]] = {}
    for group in groups:
        found.setdefault(group.settings_key, []).append(group)
    return found


def pair_results(baseline: list[Group], new: list[Group]) -> Comparison:
    """Two sets of results: the same settings on both sides.  One environment a side: they are what is
    compared; several: only equal environments are paired, the others are on one side only."""
    old_by_settings = _by_settings(baseline)
    pairs, only_baseline, only_new = [], [], []
    for settings, fresh in _by_settings(new).items():
        old = old_by_settings.get(settings, [])
        if len(old) == 1 and len(fresh) == 1:
            pairs.append(Pair(fresh[0].settings_label, old[0], fresh[0]))
            continue
        old_by_environment = {group.environment.identity(): group for group in old}
        for group in fresh:
            match = old_by_environment.pop(group.environment.identity(), None)
            if match is None:
                only_new.append(group.label)
            else:
                pairs.append(Pair(group.label, match, group))
        only_baseline += [group.label for group in old_by_environment.values()]
    new_settings = {group.settings_key for group in new}
    only_baseline += [group.label for settings, groups in old_by_settings.items() if settings not in new_settings
                      for group in groups]
    return Comparison(pairs, only_baseline, only_new)


def environment_names(groups: list[Group]) -> list[str]:
    """The study's names of the environments among the groups, in order of first appearance."""
    return list(dict.fromkeys(group.environment.name for group in groups if group.environment.name))


def pair_environments(groups: list[Group], reference: str) -> Comparison:
    """One study's environments: for each setting, every other environment against ``reference``."""
    pairs, only_reference, only_others = [], [], []
    for same_settings in _by_settings(groups).values():
        references = [group for group in same_settings if group.environment.name == reference]
        others = [group for group in same_settings if group.environment.name != reference]
        if not references:
            only_others += [group.label for group in others]
            continue
        if not others:
            only_reference.append(references[0].label)
        for group in others:
            pairs.append(Pair(references[0].settings_label, references[0], group, reference,
                              group.environment.name or group.environment_label or "the other environment"))
    return Comparison(pairs, only_reference, only_others)


def judge_pairs(comparison: Comparison) -> list[Verdict]:
    """Verdicts for every pair and every metric measured on both of its sides (a ratio needs the
    baseline's median above 0: only a phase can be 0, never the total time)."""
    verdicts = []
    for pair in comparison.pairs:
        old_values, new_values = pair.baseline.values_by_metric(), pair.new.values_by_metric()
        for metric in pair.new.metric_names():
            if old_values.get(metric) and new_values.get(metric) and pair.baseline.summaries()[metric].median > 0:
                verdicts.append(judge(pair.label, metric, old_values[metric], new_values[metric],
                                      pair.baseline_name, pair.new_name))
    return verdicts


def _median_or_none(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def _median_load(group: Group, read: Callable[[MachineLoad], float | None]) -> float | None:
    loads = [run.run_environment().load for run in group.ok_runs]
    return _median_or_none([value for value in (read(load) for load in loads if load) if value is not None])


def _timestamps(pairs: list[Pair], side: str) -> list[str]:
    return sorted(run.timestamp for pair in pairs for run in getattr(pair, side).ok_runs if run.timestamp)


def comparison_warnings(comparison: Comparison) -> list[str]:
    """pyperf-style warnings: sides that ran one after the other, or under clearly different load or clock."""
    found = []
    old, new = _timestamps(comparison.pairs, "baseline"), _timestamps(comparison.pairs, "new")
    if len(old) > 1 and len(new) > 1 and (old[-1] < new[0] or new[-1] < old[0]):  # one run a side: can't tell
        found.append(f"the two sides ran at different times ({old[0]} to {old[-1]}, and {new[0]} to {new[-1]}), "
                     f"not interleaved: a difference may be the machine's, not the change's; {INTERLEAVED_HINT}")
    for pair in comparison.pairs:
        old_hosts, new_hosts = set(pair.baseline.hosts()), set(pair.new.hosts())
        if old_hosts and new_hosts and old_hosts != new_hosts:
            found.append(f"{pair.label}: {pair.baseline_name} ran on {', '.join(sorted(old_hosts))} and "
                         f"{pair.new_name} on {', '.join(sorted(new_hosts))}: another machine; the comparison may "
                         "measure the machines, not the change")
        old_load, new_load = (_median_load(group, lambda load: load.load_per_cpu) for group in (pair.baseline, pair.new))
        if old_load is not None and new_load is not None and abs(new_load - old_load) > LOAD_PER_CPU_DIFFERENCE:
            found.append(f"{pair.label}: {pair.baseline_name} ran under a median load of {old_load:.2f} per CPU and "
                         f"{pair.new_name} under {new_load:.2f} (more than {LOAD_PER_CPU_DIFFERENCE:g} apart): "
                         "the machine was busier on one side; the comparison may measure that")
        old_clock, new_clock = (_median_load(group, lambda load: load.cpu_mhz) for group in (pair.baseline, pair.new))
        if old_clock and new_clock and abs(new_clock / old_clock - 1) > CPU_CLOCK_DIFFERENCE:
            found.append(f"{pair.label}: the CPU clock was {old_clock:.0f} MHz for {pair.baseline_name} and "
                         f"{new_clock:.0f} MHz for {pair.new_name} (more than {CPU_CLOCK_DIFFERENCE:.0%} apart)")
    return found


def verdict_document(comparison: Comparison, verdicts: list[Verdict], gate: Gate, warnings: list[str],
                     created: str, explanations: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The gate's table and conclusion as one JSON document, ready for a pull-request comment;
    ``explanations``: why each pair differs (``analysis.explain``), an item each."""
    return {
        "document": VERDICT_DOCUMENT,
        "schema_version": SCHEMA_VERSION,
        "created": created,
        "outcome": gate.outcome,
        "exit_code": gate.exit_code,
        "threshold_percent": gate.threshold,
        "rule": RULE,
        "reasons": gate.reasons,
        "warnings": warnings,
        "only_baseline": comparison.only_baseline,
        "only_new": comparison.only_new,
        "verdicts": [{**msgspec.structs.asdict(verdict), "sentence": verdict.sentence(),
                      "gated": gate.threshold is not None and verdict.metric == TOTAL_KEY}
                     for verdict in verdicts],
        "explanations": explanations or [],
    }
