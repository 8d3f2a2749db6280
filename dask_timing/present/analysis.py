"""The analysis as a person reads it: the text summary, the summary file and plots if asked, and comparisons.

What is printed follows the reader: the statistics and the ranking first
(``present``); the files saved; then, last, where a CI log is read from its
end, the warnings, the failed runs, the verdicts and the gate
(``present_end``).
"""

from __future__ import annotations

import sys

from dask_timing.analysis.computed import Analysis
from dask_timing.analysis.groups import summary_document
from dask_timing.analysis.explain import explanation_documents
from dask_timing.analysis.gate import NOTHING_TO_COMPARE
from dask_timing.present.explain import chains, why_block, why_by_cause
from dask_timing.present.knob_table import write_knob_costs
from dask_timing.present.report import (
    MAX_CONFIGURATION_BLOCKS, Names, pair_names, write_analysis, write_closing, write_comparison, write_scaling,
    write_verdicts,
)
from dask_timing.present.worker_tables import write_worker_phases
from dask_timing.record.files import write_json

# How much the analysis prints: the default; every statistic of every metric; only the ranking and the verdicts.
CONCISE, VERBOSE, QUIET = "concise", "verbose", "quiet"
DETAILS = (CONCISE, VERBOSE, QUIET)


def present(
    analysis: Analysis,
    n_results: int,
    detail: str = CONCISE,
    compare: bool = False,
    plot_dir: str | None = None,
    summary_path: str | None = None,
    plot_tag: str = "",
) -> Names:
    """Print the analysis at this ``detail`` and the ranking (two configurations or more, or ``compare``),
    and save the summary and plots if asked; return how configurations were named, for ``present_end``.

    The plots draw both sides of the analysis's comparison (--baseline, --baseline-env) too.
    """
    groups = analysis.groups
    names = Names(groups, numbered=detail == CONCISE and len(groups) > MAX_CONFIGURATION_BLOCKS)
    sweep_compared = names.numbered and _sweep_compared(analysis) and _all_compared(analysis)  # its table: the key
    if detail != QUIET:
        write_analysis(analysis, n_results, print, names, verbose=detail == VERBOSE,
                       other_metrics=analysis.comparison is None, key=not sweep_compared)
        if not names.numbered:  # numbered, the heading says --verbose has them
            write_worker_phases(analysis, print)
            write_scaling(analysis, print)
    if compare or (len(groups) > 1 and not sweep_compared):
        knob_costs = None if detail == QUIET else (lambda write: write_knob_costs(analysis, write))
        write_comparison(analysis, print, names, more=knob_costs)
    if summary_path:
        from dask_timing.record.environment import utc_timestamp

        write_json(summary_path, summary_document(groups, utc_timestamp()))
        print(f"✓ Summary saved to: {summary_path}")
    if plot_dir is not None:
        from dask_timing.present.plots import plot_all

        for path in plot_all(analysis, plot_dir, plot_tag):
            print(f"✓ Plot saved to: {path}")
    return names


def _sweep_compared(analysis: Analysis) -> bool:
    """A comparison of more pairs than get a block each: its text is a row a pair, then the causes merged."""
    return analysis.comparison is not None and len(analysis.comparison.pairs) > MAX_CONFIGURATION_BLOCKS


def _all_compared(analysis: Analysis) -> bool:
    """Every configuration is a side of a compared pair (so the comparison's table names them all)."""
    sides = {id(group) for pair in analysis.comparison.pairs for group in (pair.baseline, pair.new)}
    return all(id(group) in sides for group in analysis.groups)


def save_verdicts(analysis: Analysis, path: str) -> None:
    """The comparison's verdicts and gate (printed last, by ``present_end``) saved to ``path`` as JSON."""
    from dask_timing.analysis.verdicts import verdict_document
    from dask_timing.record.environment import utc_timestamp

    write_json(path, verdict_document(analysis.comparison, analysis.verdicts, analysis.gate,
                                      analysis.comparison_warnings, utc_timestamp(),
                                      explanation_documents(analysis.explanations)))
    print(f"✓ Verdicts saved to: {path}")


def present_end(analysis: Analysis, names: Names, detail: str, prog: str) -> None:
    """Last, where a CI log's reader looks: the warnings (not with ``QUIET``) and failed runs, then the verdicts
    and the gate; a comparison of nothing is an error line on stderr (its exit code is the gate's)."""
    write_closing(analysis, print, names, warn=detail != QUIET)
    if analysis.comparison is None:
        return
    if detail != VERBOSE and _sweep_compared(analysis):  # a screenful: a row a pair, the causes merged
        write_verdicts(analysis, print, names=names,
                       why_after=why_by_cause(analysis.explanations, pair_names(analysis, names)))
    else:
        write_verdicts(analysis, print, {pair: why_block(chain, verbose=detail == VERBOSE)
                                         for pair, chain in chains(analysis.explanations).items()})
    if analysis.gate.outcome == NOTHING_TO_COMPARE:
        print(f"{prog}: error: {'; '.join(analysis.gate.reasons)}", file=sys.stderr)
