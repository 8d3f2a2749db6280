"""The analysis as a person reads it: the text summary, the summary file and plots if asked, and comparisons.

What is printed follows the reader: the statistics and the ranking first
(``present``); the files saved; then, last, where a CI log is read from its
end, the warnings, the failed runs, the verdicts and the gate
(``present_end``).
"""

from __future__ import annotations

import sys
from typing import NamedTuple

from dask_timing.analysis.gate import NOTHING_TO_COMPARE, Gate
from dask_timing.analysis.groups import Group, summary_document
from dask_timing.analysis.ranking import Standing
from dask_timing.analysis.stats import DEFAULT_PRECISION
from dask_timing.analysis.verdicts import Comparison, Pair, Verdict
from dask_timing.phases import TOTAL_KEY
from dask_timing.present.knob_table import write_knob_costs
from dask_timing.present.report import (
    MAX_CONFIGURATION_BLOCKS, Names, write_analysis, write_closing, write_comparison, write_scaling, write_verdicts,
)
from dask_timing.present.worker_tables import write_worker_phases
from dask_timing.record.files import write_json

# How much the analysis prints: the default; every statistic of every metric; only the ranking and the verdicts.
CONCISE, VERBOSE, QUIET = "concise", "verbose", "quiet"
DETAILS = (CONCISE, VERBOSE, QUIET)


class Judgement(NamedTuple):
    """A comparison judged: the verdicts per pair and metric, the gate's conclusion, and the warnings."""

    verdicts: list[Verdict]
    gate: Gate
    warnings: list[str]


def present(
    groups: list[Group],
    n_results: int,
    detail: str = CONCISE,
    compare: bool = False,
    plot_dir: str | None = None,
    summary_path: str | None = None,
    plot_tag: str = "",
    ranking: list[Standing] | None = None,
    pairs: list[Pair] | None = None,
) -> Names:
    """Print the analysis at this ``detail`` and the ranking (two configurations or more, or ``compare``),
    and save the summary and plots if asked; return how configurations were named, for ``present_end``.

    ``ranking``: ``analysis.ranking.rank(groups)``, when already computed for the exports; ``pairs``: of a
    comparison (--baseline, --baseline-env), whose two sides the plots draw too.
    """
    names = Names(groups, numbered=detail == CONCISE and len(groups) > MAX_CONFIGURATION_BLOCKS)
    if detail != QUIET:
        write_analysis(groups, n_results, print, names, verbose=detail == VERBOSE)
        if not names.numbered:  # numbered, the heading says --verbose has them
            write_worker_phases(groups, print)
            write_scaling(groups, print)
    if compare or len(groups) > 1:
        knob_costs = None if detail == QUIET else (lambda write: write_knob_costs(groups, write, pairs))
        write_comparison(groups, print, ranking, names, more=knob_costs)
    if summary_path:
        from dask_timing.record.environment import utc_timestamp

        write_json(summary_path, summary_document(groups, utc_timestamp()))
        print(f"✓ Summary saved to: {summary_path}")
    if plot_dir is not None:
        from dask_timing.present.plots import plot_all

        for path in plot_all(groups, plot_dir, plot_tag, pairs or []):
            print(f"✓ Plot saved to: {path}")
    return names


def judge(comparison: Comparison, fail_if_slower: float | None, verdict_json: str | None = None,
          metric: str = TOTAL_KEY) -> Judgement:
    """Judge the pairs and decide the gate on ``metric`` (printed last, by ``present_end``); save them to
    ``verdict_json``."""
    from dask_timing.analysis.gate import decide
    from dask_timing.analysis.verdicts import comparison_warnings, judge_pairs, verdict_document
    from dask_timing.record.environment import utc_timestamp

    verdicts = judge_pairs(comparison)
    judgement = Judgement(verdicts, decide(comparison, verdicts, fail_if_slower, metric),
                          comparison_warnings(comparison))
    if verdict_json:
        write_json(verdict_json, verdict_document(comparison, *judgement, utc_timestamp()))
        print(f"✓ Verdicts saved to: {verdict_json}")
    return judgement


def present_end(groups: list[Group], names: Names, detail: str, prog: str, precision: float = DEFAULT_PRECISION,
                comparison: Comparison | None = None, judgement: Judgement | None = None) -> None:
    """Last, where a CI log's reader looks: the warnings (not with ``QUIET``) and failed runs, then the verdicts
    and the gate; a comparison of nothing is an error line on stderr (its exit code is the gate's)."""
    write_closing(groups, print, names, precision, warn=detail != QUIET)
    if comparison is None or judgement is None:
        return
    write_verdicts(comparison, judgement.verdicts, judgement.gate, judgement.warnings, print)
    if judgement.gate.outcome == NOTHING_TO_COMPARE:
        print(f"{prog}: error: {'; '.join(judgement.gate.reasons)}", file=sys.stderr)
