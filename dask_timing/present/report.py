"""Text presentation of grouped results, in the layout of the specification."""

from __future__ import annotations

import statistics
from typing import Callable, Iterable

from dask_timing import phases
from dask_timing.analysis.groups import Group, total_summary, total_times
from dask_timing.analysis.ranking import Standing, rank
from dask_timing.record.kinds import KIND_SCHEDULERS
from dask_timing.analysis.scaling import families, family_label, fit_scaling, weak_efficiency
from dask_timing.analysis.verdicts import PASSED, REGRESSION, RULE, UNDECIDED, Comparison, Gate, Verdict
from dask_timing.analysis.stats import DEFAULT_PRECISION, Summary, outlier_indices, warnings_for

WIDE_RULE = "=" * 70
WIDE_THIN_RULE = "-" * 70
Write = Callable[[str], None]


def _stat_lines(summary: Summary, indent: str) -> list[str]:
    stddev = "n/a (1 run)" if summary.stddev is None else f"{summary.stddev:>10.4f} seconds"
    return [
        f"{indent}Mean:   {summary.mean:>10.4f} seconds",
        f"{indent}StdDev: {stddev}",
        f"{indent}Median: {summary.median:>10.4f} seconds",
        f"{indent}MAD:    {summary.mad:>10.4f} seconds",
        f"{indent}Min:    {summary.min:>10.4f} seconds",
        f"{indent}Max:    {summary.max:>10.4f} seconds",
        f"{indent}P5:     {summary.p5:>10.4f} seconds",
        f"{indent}P95:    {summary.p95:>10.4f} seconds",
    ]


def _write_warnings(group: Group, write: Write, precision: float) -> None:
    """Outliers of the total time (flagged, not dropped) and pyperf-style warnings."""
    ordered = group.ordered_totals()
    if not ordered:
        return
    totals = [total for _, total in ordered]
    summary = total_summary(group)  # of the same values, in another order
    for index in outlier_indices(totals, summary):
        write(f"  outlier (modified Z-score over 3.5): total_time {totals[index]:.4f} seconds in {ordered[index][0]}")
    for warning in warnings_for(totals, precision, summary):
        write(f"  WARNING: {warning}")


def _label_width(groups: Iterable[Group]) -> int:
    return max([len("configuration"), *(len(group.label) for group in groups)])


def write_analysis(groups: list[Group], n_results: int, write: Write, precision: float = DEFAULT_PRECISION) -> None:
    """Per configuration, the statistics of every metric; then the total per configuration."""
    write(WIDE_RULE)
    write(f"ANALYSIS OF {n_results} TIMING RESULT(S)")
    write(WIDE_RULE)
    for group in groups:
        write("")
        write(f"Configuration: {group.label}")
        left_out = [f"{len(runs)} {what} run(s) left out"
                    for what, runs in (("failed", group.failed_runs), ("warmup", group.warmup_runs)) if runs]
        write(f"Number of runs: {len(group.ok_runs)}" + (f" ({', '.join(left_out)})" if left_out else ""))
        write(WIDE_THIN_RULE)
        if not group.ok_runs:
            write("  no successful runs")
            continue
        for name, summary in group.summaries().items():
            write(f"  {name:30s}:")
            for line in _stat_lines(summary, "    "):
                write(line)
        _write_warnings(group, write, precision)
        _write_probes(group, write)
    write("")
    write_overall(groups, write)


def _write_probes(group: Group, write: Write) -> None:
    """Scheduler overhead probes: the median over runs of each probe figure."""
    probed = [run.probes for run in group.ok_runs if run.probes]
    if not probed:
        return

    def median_of(pick: Callable[[dict], float | None]) -> float | None:
        values = [value for value in map(pick, probed) if value is not None]
        return statistics.median(values) if values else None

    write(f"  scheduler overhead probes (median of {len(probed)} run(s)):")
    write(f"    latency median:         {median_of(lambda p: p['latency']['median_seconds']) * 1e3:10.3f} ms")
    write(f"    latency p95:            {median_of(lambda p: p['latency']['p95_seconds']) * 1e3:10.3f} ms")
    write(f"    throughput:             {median_of(lambda p: p['throughput']['tasks_per_second']):10.0f} tasks/s")
    for index, entry in enumerate(probed[0]["overhead"]):
        overhead = median_of(lambda p: p["overhead"][index]["overhead_per_task_seconds"])
        write(f"    overhead, {entry['task_ms']:g} ms tasks:".ljust(28) + f"{overhead * 1e6:10.0f} µs/task")
    gap = median_of(lambda p: p["inter_task_gaps"]["median_seconds"])
    if gap is not None:
        write(f"    inter-task gap median:  {gap * 1e6:10.0f} µs")


def total_label(groups: list[Group]) -> str:
    """What total_time means here: time to ready, or compute time for scheduler comparisons."""
    if groups and all(group.kind == KIND_SCHEDULERS for group in groups):
        return "Compute time"
    return phases.TOTAL_LABEL


def write_overall(groups: list[Group], write: Write) -> None:
    """Total time to ready: one block per configuration, never pooled across them."""
    write(WIDE_RULE)
    write("OVERALL SUMMARY")
    write(WIDE_RULE)
    with_totals = [(group, total_summary(group)) for group in groups if total_times(group)]
    if len(with_totals) == 1:
        write(f"{total_label(groups)} (all runs):")
        for line in _stat_lines(with_totals[0][1], "  "):
            write(line)
    elif with_totals:
        width = _label_width(group for group, _ in with_totals)
        write(f"{total_label(groups)}, seconds, by configuration (not pooled):")
        write(f"  {'configuration':<{width}} {'n':>3} {'median':>8} {'mean':>8} {'stddev':>8} {'min':>8} {'max':>8}")
        for group, summary in with_totals:
            stddev = "n/a" if summary.stddev is None else f"{summary.stddev:.4f}"
            write(
                f"  {group.label:<{width}} {summary.n:>3} {summary.median:>8.4f} {summary.mean:>8.4f} "
                f"{stddev:>8} {summary.min:>8.4f} {summary.max:>8.4f}"
            )
    else:
        write("No successful run reached ready.")
    write(WIDE_RULE)


def write_comparison(groups: list[Group], write: Write, ranking: list[Standing] | None = None) -> None:
    """Configurations ranked by the rule of ``analysis.ranking`` (every export shows the same ranking),
    then each configuration's failures and first error.

    ``ranking``: ``rank(groups)``, when already computed.
    """
    write("")
    write(WIDE_RULE)
    write("CONFIGURATION COMPARISON")
    write(WIDE_RULE)
    ranking = rank(groups) if ranking is None else ranking
    if len(ranking) < 2:
        write(f"Only one configuration ({ranking[0].group.label if ranking else 'none'}): nothing to compare.")
        write("Add results of another configuration (e.g. another --workers or --type) to compare.")
    else:
        width = _label_width(standing.group for standing in ranking)
        write(f"  {'rank':<5}{'configuration':<{width}} {'runs':>4} {'failed':>6} {'median (s)':>11} "
              f"{'relative':>9}  95% CI")
        write(WIDE_THIN_RULE)
        for standing in ranking:
            write(f"  {standing.rank or '-':<5}{standing.group.label:<{width}} {standing.n_ready:>4} "
                  f"{standing.n_failed:>6} {_ranked_figures(standing)}")
    failed = [standing for standing in ranking if standing.n_failed]
    if failed:
        write("Failed runs (first error of each configuration):")
    for standing in failed:
        write(f"  {standing.group.label}: {standing.failures}: {standing.first_error}")
    write(WIDE_RULE)


def _ranked_figures(standing: Standing) -> str:
    """Median, relative and its interval; dashes for a configuration that never reached ready."""
    if standing.total is None:
        return f"{'-':>11} {'-':>9}"
    return f"{standing.total.median:>11.4f} {standing.relative:>8.2f}x  {standing.interval_text}"


def write_verdicts(comparison: Comparison, verdicts: list[Verdict], gate: Gate, warnings: list[str],
                   write: Write) -> None:
    """Per pair and metric: ratio, interval, p-value and verdict; the total time as hyperfine says it;
    the warnings, the rule, and what the gate concluded."""
    write("")
    write(WIDE_RULE)
    write("COMPARISON (new / baseline: ratio of medians, bootstrap 95% CI, Mann-Whitney U p)")
    write(WIDE_RULE)
    pair = None
    for verdict in verdicts:
        if (verdict.label, verdict.baseline_name, verdict.new_name) != pair:
            pair = (verdict.label, verdict.baseline_name, verdict.new_name)
            write(f"Configuration: {verdict.label} ({verdict.baseline_name}: n={verdict.n_baseline}, "
                  f"{verdict.new_name}: n={verdict.n_new})")
            write(f"  {'metric':<28}{'baseline':>10}{'new':>10}{'ratio':>9}  {'95% CI':<14}{'p':>8}  verdict")
        write(
            f"  {verdict.metric:<28}{verdict.median_baseline:>10.4f}{verdict.median_new:>10.4f}"
            f"{verdict.ratio:>8.3f}x  [{verdict.ci_low:.3f}, {verdict.ci_high:.3f}]".ljust(75)
            + f"{verdict.p_value:>8.4f}  {verdict.verdict}"
        )
        if verdict.metric == phases.TOTAL_KEY:
            write(f"  => {verdict.sentence()}: {verdict.verdict}" + (f" ({verdict.note})" if verdict.note else ""))
    for name in comparison.only_baseline:
        write(f"Only in the baseline: {name}")
    for name in comparison.only_new:
        write(f"Only in the new results: {name}")
    for warning in warnings:
        write(f"WARNING: {warning}")
    if verdicts:
        write(f"Rule: {RULE}.")
    write(WIDE_RULE)
    _write_gate(gate, write)


def _write_gate(gate: Gate, write: Write) -> None:
    """The gate's conclusion (nothing to compare is the caller's error to report)."""
    if gate.outcome == REGRESSION:
        for reason in gate.reasons:
            write(f"REGRESSION: {reason}")
    elif gate.outcome == UNDECIDED:
        for reason in gate.reasons:
            write(f"INCONCLUSIVE: {reason}")
        write(f"Regression gate inconclusive (exit code {gate.exit_code}): the runs cannot say whether the total "
              f"time is slower by more than {gate.threshold:g}%.")
    elif gate.outcome == PASSED:
        write(f"Regression gate passed: {gate.reasons[0]}.")


def write_scaling(groups: list[Group], write: Write) -> None:
    """The scaling law of each family (fixed and per-worker cost) and weak-scaling efficiency."""
    found = families(groups)
    if not found:
        return
    write("")
    write(WIDE_RULE)
    write("SCALING WITH THE NUMBER OF WORKERS")
    write(WIDE_RULE)
    for family in found:
        write(f"{family_label(family)} (workers: {', '.join(str(g.config['n_workers']) for g in family)})")
        fit = fit_scaling(family)
        if fit is not None:
            write(f"  total time = a + b x workers, least squares over {fit.n_points} runs, R^2 = {fit.r_squared:.3f}")
            write(f"    a, fixed cost:      {fit.intercept:8.4f} s{_interval(fit.intercept_interval, 's')}")
            write(f"    b, cost per worker: {fit.slope:8.4f} s/worker{_interval(fit.slope_interval, 's/worker')}")
        efficiency = weak_efficiency(family)
        if efficiency:
            write("  weak scaling (weak-array workload, one chunk per worker): E(n) = T(n0) / T(n), ideal 1.00")
            for workers, seconds, value in efficiency:
                write(f"    {workers:>4} workers: {seconds:8.4f} s   E = {value:.2f}")
    write(WIDE_RULE)


def _interval(bounds: tuple[float, float] | None, unit: str) -> str:
    return "" if bounds is None else f"   95% CI [{bounds[0]:.4f}, {bounds[1]:.4f}] {unit}"
