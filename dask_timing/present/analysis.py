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
from dask_timing.present.explain import why_block, why_line
from dask_timing.present.knob_table import write_knob_costs
from dask_timing.present.report import (
    MAX_CONFIGURATION_BLOCKS, Names, write_analysis, write_closing, write_comparison, write_scaling, write_verdicts,
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
    if detail != QUIET:
        write_analysis(analysis, n_results, print, names, verbose=detail == VERBOSE,
                       other_metrics=analysis.comparison is None)
        if not names.numbered:  # numbered, the heading says --verbose has them
            write_worker_phases(analysis, print)
            write_scaling(analysis, print)
    if compare or len(groups) > 1:
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
    why: dict[tuple[str, str, str], list] = {}
    for item in analysis.explanations:
        why.setdefault((item.configuration, item.baseline_name, item.new_name), []).append(item)
    compact = detail != VERBOSE and len(analysis.comparison.pairs) > MAX_CONFIGURATION_BLOCKS  # a sweep: a screenful
    write_verdicts(analysis, print, {pair: why_line(items) if compact else why_block(items, verbose=detail == VERBOSE)
                                     for pair, items in why.items()}, compact)
    if analysis.gate.outcome == NOTHING_TO_COMPARE:
        print(f"{prog}: error: {'; '.join(analysis.gate.reasons)}", file=sys.stderr)
