"""The analysis as a person reads it: the text summary, the summary file and plots if asked, and comparisons."""

from __future__ import annotations

import sys

from dask_timing.analysis.groups import Group, summary_document
from dask_timing.analysis.ranking import Standing
from dask_timing.analysis.stats import DEFAULT_PRECISION
from dask_timing.analysis.verdicts import NOTHING_TO_COMPARE, Comparison, Gate, Verdict
from dask_timing.present.knob_table import write_knob_costs
from dask_timing.present.report import write_analysis, write_comparison, write_scaling, write_verdicts
from dask_timing.present.worker_tables import write_worker_phases
from dask_timing.record.files import write_json


def present(
    groups: list[Group],
    n_results: int,
    compare: bool,
    plot_dir: str | None,
    summary_path: str | None,
    plot_tag: str = "",
    precision: float = DEFAULT_PRECISION,
    ranking: list[Standing] | None = None,
) -> None:
    """Print the analysis, and save the summary and plots if asked.

    ``ranking``: ``analysis.ranking.rank(groups)``, when already computed for the exports.
    """
    write_analysis(groups, n_results, print, precision)
    write_worker_phases(groups, print)
    write_scaling(groups, print)
    write_knob_costs(groups, print)
    if compare:
        write_comparison(groups, print, ranking)
    if summary_path:
        from dask_timing.record.environment import utc_timestamp

        write_json(summary_path, summary_document(groups, utc_timestamp()))
        print(f"✓ Summary saved to: {summary_path}")
    if plot_dir is not None:
        from dask_timing.present.plots import plot_all

        for path in plot_all(groups, plot_dir, plot_tag):
            print(f"✓ Plot saved to: {path}")


def present_comparison(comparison: Comparison, fail_if_slower: float | None, verdict_json: str | None,
                       prog: str) -> tuple[list[Verdict], Gate]:
    """Judge the pairs, print the verdicts and the gate, save them as JSON if asked; a comparison of
    nothing is an error line on stderr (its exit code is the gate's)."""
    from dask_timing.analysis.verdicts import comparison_warnings, decide, judge_pairs, verdict_document
    from dask_timing.record.environment import utc_timestamp

    verdicts = judge_pairs(comparison)
    gate = decide(comparison, verdicts, fail_if_slower)
    warnings = comparison_warnings(comparison)
    write_verdicts(comparison, verdicts, gate, warnings, print)
    if verdict_json:
        write_json(verdict_json, verdict_document(comparison, verdicts, gate, warnings, utc_timestamp()))
        print(f"✓ Verdicts saved to: {verdict_json}")
    if gate.outcome == NOTHING_TO_COMPARE:
        print(f"{prog}: error: {'; '.join(gate.reasons)}", file=sys.stderr)
    return verdicts, gate
