"""Text presentation of grouped results, in the layout of the specification.

Three levels of detail.  The default gives each configuration the
specification's block of the total time and one compact table of the other
metrics; above ``MAX_CONFIGURATION_BLOCKS`` configurations, a row per
configuration instead, numbered.  ``verbose`` gives every statistic of every
metric; ``quiet`` (the caller's choice) only the ranking.  Whatever the detail,
what a CI log's reader looks for comes last: the warnings and the failed runs
(``write_closing``), then the verdicts and the gate (``write_verdicts``).
"""

from __future__ import annotations

from typing import Callable, Iterable

from dask_timing import phases
from dask_timing.analysis.computed import Analysis, Probes
from dask_timing.analysis.groups import Group, all_metric_names, total_summary, total_times
from dask_timing.analysis.ranking import Standing
from dask_timing.record.kinds import KIND_SCHEDULERS
from dask_timing.analysis.gate import PASSED, REGRESSION, UNDECIDED, Gate, gated_measure
from dask_timing.analysis.verdicts import RULE, Verdict
from dask_timing.analysis.stats import Summary
from dask_timing.present.text_table import aligned

WIDE_RULE = "=" * 70
WIDE_THIN_RULE = "-" * 70
# Up to this many configurations the default analysis gives each one a block; above it, a row each
# (a sweep's analysis stays a screenful: 16 configurations print in 80 lines).
MAX_CONFIGURATION_BLOCKS = 4
WRAP_WIDTH = 120  # lines that list configurations one after the other wrap here
# The statistics of the specification's block of the total time, in its order.
SPEC_STATISTICS = ("Mean", "StdDev", "Median", "Min", "Max")
Write = Callable[[str], None]


class Names:
    """How the text names configurations: by label, or in the row-per-configuration layout by their number
    in the key (``[3]``), which the key and the ranking print beside the label."""

    def __init__(self, groups: list[Group], numbered: bool = False) -> None:
        self.numbered = numbered
        self._numbers = {id(group): number for number, group in enumerate(groups, start=1)}
        self._width = len(f"[{len(groups)}]")

    def short(self, group: Group) -> str:
        return f"[{self._numbers[id(group)]}]" if self.numbered else group.label

    def knows(self, group: Group) -> bool:
        return id(group) in self._numbers

    def full(self, group: Group) -> str:
        return f"{self.short(group):<{self._width}} {group.label}" if self.numbered else group.label


def _stat_lines(summary: Summary, indent: str, shown: Iterable[str] | None = None) -> list[str]:
    """Every statistic, a line each (``shown``: only these, e.g. ``SPEC_STATISTICS``)."""
    stddev = "n/a (1 run)" if summary.stddev is None else f"{summary.stddev:>10.4f} seconds"
    lines = {
        "Mean": f"{indent}Mean:   {summary.mean:>10.4f} seconds",
        "StdDev": f"{indent}StdDev: {stddev}",
        "Median": f"{indent}Median: {summary.median:>10.4f} seconds",
        "MAD": f"{indent}MAD:    {summary.mad:>10.4f} seconds",
        "Min": f"{indent}Min:    {summary.min:>10.4f} seconds",
        "Max": f"{indent}Max:    {summary.max:>10.4f} seconds",
        "P5": f"{indent}P5:     {summary.p5:>10.4f} seconds",
        "P95": f"{indent}P95:    {summary.p95:>10.4f} seconds",
    }
    return list(lines.values()) if shown is None else [lines[name] for name in shown]


def _packed(head: str, entries: list[str], separator: str = ", ", indent: str = "    ") -> list[str]:
    """``head`` then the entries, as many on a line as fit in ``WRAP_WIDTH`` (at least one)."""
    lines, line, fresh = [], head, True
    for entry in entries:
        if not fresh and len(line) + len(separator) + len(entry) > WRAP_WIDTH:
            lines.append(line + separator.rstrip())
            line, fresh = indent, True
        line += ("" if fresh else separator) + entry
        fresh = False
    return lines + [line]


def _label_width(labels: Iterable[str]) -> int:
    return max([len("configuration"), *map(len, labels)])


def write_analysis(analysis: Analysis, n_results: int, write: Write, names: Names, verbose: bool = False,
                   other_metrics: bool = True, key: bool = True) -> None:
    """Per configuration its statistics (``verbose``: every statistic of every metric), then the total time
    of every configuration; numbered ``names``: a row per configuration instead of a block, and the other
    metrics' medians unless ``other_metrics`` is False (a comparison's Why lines say what moved); without
    ``key`` (a comparison of many pairs, whose table is a row a pair) only the heading, saying where all is."""
    groups = analysis.groups
    write(WIDE_RULE)
    if names.numbered and not key:
        more = ["a block each", "the ranking", "what each setting costs", *_folded(analysis)]
        pairs = len(analysis.comparison.pairs)
        compared = "each compared with its baseline" if pairs == len(groups) else f"in {pairs} compared pairs"
        write(f"ANALYSIS OF {n_results} TIMING RESULT(S): {len(groups)} configurations {compared}, "
              "numbered in the comparison's table below")
        write(f"(--verbose: {', '.join(more)})")
        write(WIDE_RULE)
        return
    if names.numbered:  # one heading for the analysis and the overall summary, which is now its key
        more = ["a block each", *([] if other_metrics else ["other metrics"]), *_folded(analysis)]
        write(f"ANALYSIS OF {n_results} TIMING RESULT(S): {len(groups)} configurations, a row each "
              f"(--verbose: {', '.join(more)})")
        write_overall(groups, write, names,
                      more=(lambda write: _write_metric_medians(groups, write, names)) if other_metrics else None)
        return
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
        elif verbose:
            for name, summary in group.summaries().items():
                write(f"  {name:30s}:")
                for line in _stat_lines(summary, "    "):
                    write(line)
            for line in _probe_lines(analysis.probes.get(id(group)), compact=False):
                write(line)
        else:
            _write_compact_block(group, analysis.probes.get(id(group)), write)
    write("")
    write_overall(groups, write)


def _write_compact_block(group: Group, probes: Probes | None, write: Write) -> None:
    """The specification's block of the total time, then a row per other metric, then the probes in a line or two."""
    summaries = dict(group.summaries())
    total = summaries.pop(phases.TOTAL_KEY, None)
    if total is not None:
        write(f"  {phases.TOTAL_KEY:30s}:")
        for line in _stat_lines(total, "    ", SPEC_STATISTICS):
            write(line)
    if summaries:
        width = max(28, *map(len, summaries))
        write(f"  {'other metrics (seconds)':<{width + 2}}{'median':>10}{'MAD':>10}{'min':>10}{'max':>10}{'n':>5}")
        for name, summary in summaries.items():
            write(f"    {name:<{width}}{summary.median:>10.4f}{summary.mad:>10.4f}{summary.min:>10.4f}"
                  f"{summary.max:>10.4f}{summary.n:>5}")
    for line in _probe_lines(probes, compact=True):
        write(line)


def _write_metric_medians(groups: list[Group], write: Write, names: Names) -> None:
    """Every metric but the total time: its median, a row per configuration and a column per metric."""
    metrics = [metric for metric in all_metric_names(groups) if metric != phases.TOTAL_KEY]
    if not metrics:
        return
    columns = [phases.metric_column(metric) for metric in metrics]
    rows = [[names.short(group)] + [f"{group.summaries()[metric].median:.4f}" if metric in group.summaries() else "-"
                                    for metric in metrics] for group in groups]
    renamed = [f"{column}: {metric}" for column, metric in zip(columns, metrics) if metric != f"{column}_time"]
    write("Other metrics, median seconds" + (f" ({', '.join(renamed)}):" if renamed else ":"))
    for line in aligned([["", *columns], *rows]):
        write(line)


def _folded(analysis: Analysis) -> list[str]:
    """What the row-per-configuration layout leaves to --verbose."""
    return [what for what, found in (
        ("worker startup phases", bool(analysis.shown_worker_phases)),
        ("scaling fits", bool(analysis.scaling)),
        ("overhead probes", bool(analysis.probes)),
    ) if found]


def _probe_figures(probes: Probes) -> list[tuple[str, str]]:
    """The probes' figures as (name, value) pairs."""
    figures = [
        ("latency median", f"{probes.latency_median * 1e3:10.3f} ms"),
        ("latency p95", f"{probes.latency_p95 * 1e3:10.3f} ms"),
        ("throughput", f"{probes.throughput:10.0f} tasks/s"),
    ]
    for task_ms, overhead in probes.overheads:
        figures.append((f"overhead, {task_ms:g} ms tasks", f"{overhead * 1e6:10.0f} µs/task"))
    if probes.gap is not None:
        figures.append(("inter-task gap median", f"{probes.gap * 1e6:10.0f} µs"))
    return figures


def _probe_lines(probes: Probes | None, compact: bool) -> list[str]:
    """The probes a line each, as --verbose shows them; ``compact``: in a line or two (none without probes)."""
    if probes is None:
        return []
    title, figures = f"scheduler overhead probes (median of {probes.n_runs} run(s))", _probe_figures(probes)
    if compact:
        return _packed(f"  {title}: ", [f"{label} {value.strip()}" for label, value in figures], "; ")
    return [f"  {title}:"] + [f"    {label}:".ljust(28) + value for label, value in figures]


def total_label(groups: list[Group]) -> str:
    """What total_time means here: time to ready, or compute time for scheduler comparisons."""
    if groups and all(group.kind == KIND_SCHEDULERS for group in groups):
        return "Compute time"
    return phases.TOTAL_LABEL


def write_overall(groups: list[Group], write: Write, names: Names | None = None,
                  more: Callable[[Write], None] | None = None) -> None:
    """Total time to ready: one block per configuration, never pooled across them; numbered ``names``:
    every configuration a row, the key the other tables refer to; ``more``: what follows in the section."""
    numbered = names is not None and names.numbered
    if not numbered:  # numbered, it follows the analysis's heading
        write(WIDE_RULE)
    write("OVERALL SUMMARY")
    write(WIDE_RULE)
    with_totals = [group for group in groups if total_times(group)]
    if len(with_totals) == 1 and not numbered:
        write(f"{total_label(groups)} (all runs):")
        for line in _stat_lines(total_summary(with_totals[0]), "  "):
            write(line)
    elif with_totals:
        shown = groups if numbered else with_totals
        name = names.full if numbered else (lambda group: group.label)
        width = _label_width(map(name, shown))
        title = f"{total_label(groups).lower()}, seconds, not pooled"
        if numbered:  # the title in the header: a line fewer for many configurations
            width = max(width, len(title))
        else:
            write(f"{total_label(groups)}, seconds, by configuration (not pooled):")
        write(f"  {title if numbered else 'configuration':<{width}} {'n':>3} {'median':>8} {'mean':>8} {'stddev':>8} "
              f"{'min':>8} {'max':>8}")
        for group in shown:
            write(f"  {name(group):<{width}} " + _total_row(group))
    else:
        write("No successful run reached ready.")
    if more is not None:
        more(write)
    write(WIDE_RULE)


def _total_row(group: Group) -> str:
    if not total_times(group):
        return f"{0:>3} " + " ".join(f"{'-':>8}" for _ in range(5))
    summary = total_summary(group)
    stddev = "n/a" if summary.stddev is None else f"{summary.stddev:.4f}"
    return (f"{summary.n:>3} {summary.median:>8.4f} {summary.mean:>8.4f} "
            f"{stddev:>8} {summary.min:>8.4f} {summary.max:>8.4f}")


def write_comparison(analysis: Analysis, write: Write, names: Names | None = None,
                     more: Callable[[Write], None] | None = None) -> None:
    """Configurations ranked by the rule of ``analysis.ranking`` (every export shows the same ranking).

    ``names``: how configurations are named (numbered as in the key above, or by label); ``more``: what
    follows the ranking in the same section (what each setting costs).
    """
    write("")
    write(WIDE_RULE)
    write("CONFIGURATION COMPARISON")
    write(WIDE_RULE)
    ranking = analysis.ranking
    name = names.full if names is not None else (lambda group: group.label)
    if len(ranking) < 2:
        write(f"Only one configuration ({ranking[0].group.label if ranking else 'none'}): nothing to compare.")
        write("Add results of another configuration (e.g. another --workers or --type) to compare.")
    else:
        width = _label_width(name(standing.group) for standing in ranking)
        write(f"  {'rank':<5}{'configuration':<{width}} {'runs':>4} {'failed':>6} {'median (s)':>11} "
              f"{'relative':>9}  95% CI")
        for standing in ranking:
            write(f"  {standing.rank or '-':<5}{name(standing.group):<{width}} {standing.n_ready:>4} "
                  f"{standing.n_failed:>6} {_ranked_figures(standing)}")
    if more is not None:
        more(write)
    write(WIDE_RULE)


def write_closing(analysis: Analysis, write: Write, names: Names, warn: bool = True) -> None:
    """What a CI log's reader looks for at the end: the warnings about the total time (``warn``), each naming
    its configuration, and every configuration with failed runs, with its first error."""
    warned = analysis.warnings if warn else []
    failed = [Standing(group) for group in analysis.groups if group.failed_runs]
    if not (warned or failed):
        return
    write("")
    write(" AND ".join(title for title, found in (("WARNINGS", warned), ("FAILED RUNS", failed)) if found))
    write(WIDE_RULE)
    if names.numbered:  # a line per kind of warning, naming the configurations it concerns
        kinds: dict[str, list[str]] = {}
        for group, warning in warned:
            kinds.setdefault(warning.kind, []).append(f"{names.short(group)} {warning.figure}".strip())
        for kind, entries in kinds.items():
            for line in _packed(f"WARNING: {kind}: ", entries):
                write(line)
    else:
        for group, warning in warned:
            write(f"WARNING: {names.short(group)}: {warning.sentence}")
    for standing in failed:
        write(f"FAILED: {names.short(standing.group)}: {standing.failures}: {standing.first_error}")
    write(WIDE_RULE)


def _ranked_figures(standing: Standing) -> str:
    """Median, relative and its interval; dashes for a configuration that never reached ready."""
    if standing.total is None:
        return f"{'-':>11} {'-':>9}"
    tied = "  tied with 1" if standing.tied_with_fastest else ""
    return f"{standing.total.median:>11.4f} {standing.relative:>8.2f}x  {standing.interval_text}{tied}"


def write_verdicts(analysis: Analysis, write: Write, why: dict[tuple[str, str, str], list[str]] | None = None,
                   names: Names | None = None, why_after: list[str] | None = None) -> None:
    """Per pair and metric: ratio, interval, p-value and verdict; the total time as hyperfine says it, and
    under it the pair's Why block (``why``, by label and names of the sides); the warnings, the rule, and
    what the gate concluded.  ``why_after`` (many pairs): a row per pair of its total time only, the
    configurations named as ``names`` name them, then these Why lines under the table."""
    comparison, verdicts, gate = analysis.comparison, analysis.verdicts, analysis.gate
    write("")
    write(WIDE_RULE)
    write("COMPARISON (new / baseline: ratio of medians, bootstrap 95% CI, Mann-Whitney U p)")
    write(WIDE_RULE)
    if why_after is not None:
        for line in [*_total_table(analysis, names), *why_after]:
            write(line)
    else:
        _write_pairs(verdicts, write, why or {})
    for name in comparison.only_baseline:
        write(f"Only in the baseline: {name}")
    for name in comparison.only_new:
        write(f"Only in the new results: {name}")
    for warning in analysis.comparison_warnings:
        write(f"WARNING: {warning}")
    if verdicts:
        write(f"Rule: {RULE}.")
    write(WIDE_RULE)
    _write_gate(gate, analysis.metric, write)


def _write_pairs(verdicts: list[Verdict], write: Write, why: dict[tuple[str, str, str], list[str]]) -> None:
    """Each pair's table of metrics, its total time as hyperfine says it, and its Why block."""
    pair = None
    for verdict in verdicts:
        if (verdict.label, verdict.baseline_name, verdict.new_name) != pair:
            for line in why.get(pair, []):
                write(line)
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
            write("  => " + f"{verdict.sentence()}: {verdict.verdict}" + (f" ({verdict.note})" if verdict.note else ""))
    for line in why.get(pair, []):
        write(line)


def pair_names(analysis: Analysis, names: Names | None) -> dict[tuple[str, str, str], str]:
    """Each compared pair (by label and the names of its sides) by its configurations' numbers: its new side's
    (``[3]``), both sides' where both are numbered (``[1] [2]``, baseline then new), else by its label."""
    found = {}
    for pair in analysis.comparison.pairs:
        shown = [names.short(group) for group in (pair.baseline, pair.new)
                 if names is not None and names.numbered and names.knows(group)]
        found[(pair.label, pair.baseline_name, pair.new_name)] = " ".join(shown) or pair.label
    return found


def _total_table(analysis: Analysis, names: Names | None) -> list[str]:
    """The total time of every pair, a row each: both sides' medians, the ratio, its interval, p, the verdict."""
    totals = [verdict for verdict in analysis.verdicts if verdict.metric == phases.TOTAL_KEY]
    if not totals:
        return []
    called = pair_names(analysis, names)
    numbered = names is not None and names.numbered
    several = len({(verdict.baseline_name, verdict.new_name) for verdict in totals}) > 1
    rows = [[*(["key"] if numbered else []), f"{total_label(analysis.groups).lower()} (s)",
             *(["compared"] if several else []), "runs", "baseline", "new", "ratio", "95% CI", "p", "verdict"]]
    notes: dict[str, int] = {}  # each note once, under the table, by its number
    for verdict in totals:
        name = called[(verdict.label, verdict.baseline_name, verdict.new_name)]
        note = f" (note {notes.setdefault(verdict.note, len(notes) + 1)})" if verdict.note else ""
        rows.append([*([name] if numbered else []), verdict.label,
                     *([f"{verdict.new_name} / {verdict.baseline_name}"] if several else []),
                     f"{verdict.n_baseline} + {verdict.n_new}", f"{verdict.median_baseline:.4f}",
                     f"{verdict.median_new:.4f}", f"{verdict.ratio:.3f}x",
                     f"[{verdict.ci_low:.3f}, {verdict.ci_high:.3f}]", f"{verdict.p_value:.2g}", verdict.verdict + note])
    if not several:
        rows[0][numbered + 2:numbered + 4] = [totals[0].baseline_name, totals[0].new_name]
    return (aligned(rows, words=1 + numbered + several, free_last=True)
            + [f"  note {number}: {note}" for note, number in notes.items()])


def _write_gate(gate: Gate, metric: str, write: Write) -> None:
    """The gate's conclusion on ``metric`` (nothing to compare is the caller's error to report)."""
    if gate.outcome == REGRESSION:
        for reason in gate.reasons:
            write(f"REGRESSION: {reason}")
    elif gate.outcome == UNDECIDED:
        for reason in gate.reasons:
            write(f"INCONCLUSIVE: {reason}")
        write(f"Regression gate inconclusive (exit code {gate.exit_code}): the runs cannot say whether the "
              f"{gated_measure(metric)} is slower by more than {gate.threshold:g}%.")
    elif gate.outcome == PASSED:
        write(f"Regression gate passed: {gate.reasons[0]}.")


def write_scaling(analysis: Analysis, write: Write) -> None:
    """The scaling law of each family (fixed and per-worker cost) and weak-scaling efficiency."""
    if not analysis.scaling:
        return
    write("")
    write(WIDE_RULE)
    write("SCALING WITH THE NUMBER OF WORKERS")
    write(WIDE_RULE)
    for family in analysis.scaling:
        write(f"{family.label} (workers: {', '.join(str(g.config['n_workers']) for g in family.groups)})")
        fit = family.fit
        if fit is None:
            write(f"  {family.no_fit}")
        else:
            write(f"  total time = a + b x workers, least squares over {fit.n_points} runs, R^2 = {fit.r_squared:.3f}")
            write(f"    a, fixed cost:      {fit.intercept:8.4f} s{_interval(fit.intercept_interval, 's')}")
            write(f"    b, cost per worker: {fit.slope:8.4f} s/worker{_interval(fit.slope_interval, 's/worker')}")
        if family.efficiency:
            write("  weak scaling (weak-array workload, one chunk per worker): E(n) = T(n0) / T(n), ideal 1.00")
            for workers, seconds, value in family.efficiency:
                write(f"    {workers:>4} workers: {seconds:8.4f} s   E = {value:.2f}")
    write(WIDE_RULE)


def _interval(bounds: tuple[float, float], unit: str) -> str:
    return f"   95% CI [{bounds[0]:.4f}, {bounds[1]:.4f}] {unit}"
