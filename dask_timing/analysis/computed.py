"""The analysis of grouped results: every statistic an output shows, computed once.

The text summary, the summary file, every export and the verdict file render
one ``Analysis`` and compute nothing themselves, as hyperfine computes relative
speeds once and its exporters only write.  Each statistic is computed the first
time an output reads it, then kept: the ranking the text, the CSV and the HTML
page all show is resampled once, and a summary of one configuration never pays
for a ranking it does not show.

A new kind of item (say, why a configuration is slower than another) is one more
property here, next to the verdicts, read by the outputs that show it.
"""

from __future__ import annotations

import statistics
from functools import cached_property
from typing import Any, Callable

import msgspec

from dask_timing.analysis.groups import Group, total_summary, total_times
from dask_timing.analysis.knobs import KnobEffect, comparison_reference, knob_effects
from dask_timing.analysis.ranking import Standing, rank
from dask_timing.analysis.scaling import NO_FIT, Fit, families, family_label, fit_scaling, weak_efficiency
from dask_timing.analysis.stats import (
    DEFAULT_PRECISION, OUTLIER_Z, Box, SeriesWarning, box_of, outlier_indices, warnings_for,
)
from dask_timing.analysis.gate import Gate
from dask_timing.analysis.explain import Explanation
from dask_timing.analysis.verdicts import Comparison, Verdict
from dask_timing.analysis.workers import (
    WORKER_PHASE_ORDER, Arrivals, Straggling, arrivals, import_profile, median_run, stragglers, worker_metric,
    worker_phase_values,
)
from dask_timing.phases import REGISTERED_BOUNDARY, TOTAL_KEY
from dask_timing.record.schema import TimedRun
from dask_timing.record.statistics import Summary, summarize


class WorkerPhases(msgspec.Struct, frozen=True):
    """Inside the workers of one configuration: each worker phase pooled over the workers of its successful
    runs (``analysis.workers``)."""

    group: Group
    summaries: dict[str, Summary]  # by phase key, in phase order, ``registered`` last
    n_workers: int  # the workers that registered, over the runs

    @property
    def metric_summaries(self) -> dict[str, Summary]:
        """The summaries by metric name, as summaries and exports call them (``worker_imports_time``...)."""
        return {worker_metric(key): summary for key, summary in self.summaries.items()}


class Scaling(msgspec.Struct, frozen=True):
    """One family of configurations (``analysis.scaling``): its fitted law and its weak-scaling efficiency."""

    label: str
    groups: list[Group]  # by worker count
    fit: Fit | None  # None: too few worker counts to judge a line (``no_fit`` says so)
    efficiency: list[tuple[int, float, float]]  # (workers, median workload seconds, efficiency)

    @property
    def no_fit(self) -> str:
        """Why the family has no fitted law, as every output says it ("" when it has one)."""
        return NO_FIT if self.fit is None else ""


class Probes(msgspec.Struct, frozen=True):
    """The scheduler overhead probes of one configuration: the median over its runs of each figure."""

    n_runs: int
    latency_median: float | None
    latency_p95: float | None
    throughput: float | None
    overheads: list[tuple[float, float | None]]  # (task milliseconds, overhead seconds per task)
    gap: float | None  # the median gap between tasks


class Analysis:
    """Every statistic the outputs show of these groups: the statistics of each (``Group.summaries``), the
    ranking, the boxes of the total times, the worker phases, arrivals and stragglers, the scaling fits, what
    each setting costs, the warnings about the total time and, with a ``comparison``, its verdicts and the gate
    at ``fail_if_slower`` percent on ``metric``.

    ``histories``: how the history layer finds each configuration's steps from release to release
    (``history.releases.release_histories``), handed in by the caller: this layer never imports history.
    """

    def __init__(self, groups: list[Group], comparison: Comparison | None = None,
                 fail_if_slower: float | None = None, precision: float = DEFAULT_PRECISION,
                 metric: str = TOTAL_KEY, histories: Callable[[list[Group]], list] | None = None) -> None:
        self.groups = groups
        self.comparison = comparison
        self.fail_if_slower = fail_if_slower
        self.precision = precision
        self.metric = metric
        self._histories = histories

    @cached_property
    def ranking(self) -> list[Standing]:
        """Every configuration in the one ranking of ``analysis.ranking``, with its bootstrap interval."""
        return rank(self.groups)

    @cached_property
    def total_boxes(self) -> dict[int, Box]:
        """The box plot of each configuration's total times, by ``id`` of the group (those with a total time)."""
        return {id(group): box_of(values) for group in self.groups if (values := total_times(group))}

    @cached_property
    def worker_phases(self) -> list[WorkerPhases]:
        """The configurations whose runs recorded worker phases, in configuration order."""
        found = []
        for group in self.groups:
            values = worker_phase_values(group)
            if values:
                found.append(WorkerPhases(group, {key: summarize(phase) for key, phase in values.items()},
                                          len(values.get(REGISTERED_BOUNDARY, []))))
        return found

    @cached_property
    def shown_worker_phases(self) -> list[str]:
        """The worker phases any configuration has, in phase order (``registered`` last)."""
        found = {key for phases in self.worker_phases for key in phases.summaries}
        return [key for key in WORKER_PHASE_ORDER if key in found]

    @cached_property
    def stragglers(self) -> list[tuple[Group, list[Straggling]]]:
        """The configurations whose workers straggled, with their stragglers, the most often first."""
        return [(group, found) for group in self.groups if (found := stragglers(group))]

    @cached_property
    def arrivals(self) -> list[Arrivals]:
        """When the workers arrived, per configuration whose runs recorded it, in configuration order."""
        return [found for group in self.groups if (found := arrivals(group)) is not None]

    @cached_property
    def waterfall(self) -> tuple[Group, TimedRun] | None:
        """The run drawn worker by worker: the median run, by total time, of the configuration whose workers take
        longest to register (median), the one with most to explain; None without worker phases."""
        candidates = [phases for phases in self.worker_phases
                      if total_times(phases.group) and REGISTERED_BOUNDARY in phases.summaries]
        if not candidates:
            return None
        slowest = max(candidates, key=lambda phases: phases.summaries[REGISTERED_BOUNDARY].median).group
        return slowest, median_run(slowest)

    @cached_property
    def release_histories(self) -> list:
        """(configuration's name, its total time's history with the steps found) of each configuration measured
        at two releases or more, found by ``histories``; [] without it."""
        return [] if self._histories is None else self._histories(self.groups)

    @cached_property
    def import_profiles(self) -> list[tuple[Group, dict[str, Any]]]:
        """The configurations whose runs profiled their workers' imports, with the slowest imports (seconds
        per worker over their runs)."""
        return [(group, found) for group in self.groups if (found := import_profile(group))]

    @cached_property
    def scaling(self) -> list[Scaling]:
        """Each family of configurations that differ only in their worker count."""
        return [Scaling(family_label(family), family, fit_scaling(family), weak_efficiency(family))
                for family in families(self.groups)]

    @cached_property
    def knob_effects(self) -> list[KnobEffect]:
        """What each setting of a sweep costs (``analysis.knobs``; the environment's from the comparison's
        reference, when there is one); [] when no setting varies."""
        return knob_effects(self.groups, comparison_reference(self.comparison.pairs if self.comparison else []))

    @cached_property
    def warnings(self) -> list[tuple[Group, SeriesWarning]]:
        """The warnings about each configuration's total time, judged at ``precision``."""
        return [(group, warning) for group in self.groups for warning in total_time_warnings(group, self.precision)]

    @cached_property
    def probes(self) -> dict[int, Probes]:
        """The scheduler overhead probes of the configurations whose runs probed, by ``id`` of the group."""
        return {id(group): found for group in self.groups if (found := probe_medians(group)) is not None}

    @cached_property
    def verdicts(self) -> list[Verdict] | None:
        """Per pair of the comparison and metric, the verdict; None without a comparison."""
        from dask_timing.analysis.verdicts import judge_pairs

        return None if self.comparison is None else judge_pairs(self.comparison)

    @cached_property
    def gate(self) -> Gate | None:
        """What the comparison concluded at ``fail_if_slower``; None without a comparison."""
        from dask_timing.analysis.gate import decide

        return None if self.comparison is None else decide(self.comparison, self.verdicts, self.fail_if_slower,
                                                         self.metric)

    @cached_property
    def explanations(self) -> list[Explanation]:
        """Why each pair differs (``analysis.explain``), pair after pair; none without a comparison."""
        from dask_timing.analysis.explain import explain_pairs

        return [] if self.comparison is None else explain_pairs(self.comparison.pairs, self.verdicts)

    @cached_property
    def comparison_warnings(self) -> list[str]:
        """Sides that ran one after the other, or on different machines, load or clock."""
        from dask_timing.analysis.verdicts import comparison_warnings

        return [] if self.comparison is None else comparison_warnings(self.comparison)


def total_time_warnings(group: Group, precision: float) -> list[SeriesWarning]:
    """Outliers of the total time (flagged, not dropped), then the pyperf-style warnings about its runs."""
    ordered = group.ordered_totals()
    if not ordered:
        return []
    totals = [total for _, total in ordered]
    summary = total_summary(group)  # of the same values, in another order
    outliers = []
    for index in outlier_indices(totals, summary):
        path, total = ordered[index]
        outliers.append(SeriesWarning(
            f"outliers of the total time (modified Z-score over {OUTLIER_Z:g}; --verbose names their files)",
            f"{total:.4f} s",
            f"outlier (modified Z-score over {OUTLIER_Z:g}): total_time {total:.4f} seconds in {path}"))
    return outliers + warnings_for(totals, precision, summary) + _machines_warning(group)


def _machines_warning(group: Group) -> list[SeriesWarning]:
    """Runs of several machines pooled in one configuration: its figures mix the machines' speeds."""
    hosts = group.hosts()
    if len(hosts) < 2:
        return []
    figure = ", ".join(f"{host} {count}" for host, count in sorted(hosts.items()))
    return [SeriesWarning(
        "runs of several machines pooled (analyze each machine's files apart to compare them)", figure,
        f"its runs came from {len(hosts)} machines ({figure} run(s)), pooled: its figures mix their speeds; "
        "analyze each machine's files apart to compare them")]


def probe_medians(group: Group) -> Probes | None:
    """The median over the runs of each figure of the scheduler overhead probes; None when no run probed."""
    probed = [run.probes for run in group.ok_runs if run.probes]
    if not probed:
        return None

    def median_of(pick: Callable[[dict], float | None]) -> float | None:
        values = [value for value in map(pick, probed) if value is not None]
        return statistics.median(values) if values else None

    overheads = [(entry["task_ms"], median_of(lambda p: p["overhead"][index]["overhead_per_task_seconds"]))
                 for index, entry in enumerate(probed[0]["overhead"])]
    return Probes(len(probed), median_of(lambda p: p["latency"]["median_seconds"]),
                  median_of(lambda p: p["latency"]["p95_seconds"]),
                  median_of(lambda p: p["throughput"]["tasks_per_second"]), overheads,
                  median_of(lambda p: p["inter_task_gaps"]["median_seconds"]))
