"""The analyzer's command line: load, warn, summarise, compare, plot."""

from __future__ import annotations

import os
import sys

from . import cli
from .analysis import Group, group_results, load, summary_document
from .environment import utc_timestamp
from .plotting import plot_all
from .report import write_analysis, write_comparison
from .result import write_json

DEFAULT_PATTERN = "timing_results/*.json"


def build_parser(prog: str) -> cli.OneLineParser:
    parser = cli.OneLineParser(
        prog=prog,
        description="Summarise dask-timing result files: statistics per configuration, "
        "comparisons and plots. Files that are not results are skipped with a warning.",
    )
    parser.add_argument("patterns", nargs="*", default=[DEFAULT_PATTERN], metavar="PATTERN",
                        help=f"glob pattern(s) or folder(s) of result files (default: {DEFAULT_PATTERN!r}); "
                             "quote patterns so the shell does not expand them")
    parser.add_argument("--compare", action="store_true",
                        help="rank configurations by median total time to ready")
    parser.add_argument("--plot", action="store_true",
                        help="draw the phase breakdown and the distribution of total time (PNG)")
    parser.add_argument("--plot-dir", metavar="DIR",
                        help="where plots go (default: the folder of the first result file)")
    parser.add_argument("--include-warmup", action="store_true",
                        help="count warmup runs (left out of statistics by default)")
    parser.add_argument("--summary-json", metavar="FILE",
                        help="also save the statistics as JSON to FILE (never overwritten)")
    return parser


def present(
    groups: list[Group],
    n_results: int,
    compare: bool,
    plot_dir: str | None,
    summary_path: str | None,
    plot_tag: str = "",
) -> None:
    """Print the analysis, and save the summary and plots if asked."""
    write_analysis(groups, n_results, print)
    if compare:
        write_comparison(groups, print)
    if summary_path:
        write_json(summary_path, summary_document(groups, utc_timestamp()))
        print(f"✓ Summary saved to: {summary_path}")
    if plot_dir is not None:
        for path in plot_all(groups, plot_dir, plot_tag):
            print(f"✓ Plot saved to: {path}")


def run(argv: list[str] | None) -> int:
    prog = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "analyze_results.py"
    args = build_parser(prog).parse_args(argv)
    if args.summary_json and os.path.exists(args.summary_json):
        raise cli.UsageError(f"{args.summary_json} already exists; choose another --summary-json")
    loaded = load(args.patterns)
    if not (loaded.results or loaded.skipped or loaded.summaries):
        raise cli.UsageError(
            f"no file matches {' '.join(repr(p) for p in args.patterns)}; check the pattern "
            "(quote it) or run run_timing_study.sh first"
        )
    for pattern in loaded.empty_patterns:
        print(f"{prog}: warning: no file matches {pattern!r}", file=sys.stderr)
    for path, reason in loaded.skipped:
        print(f"{prog}: warning: skipped {path}: {reason}", file=sys.stderr)
    if not loaded.results:
        print(f"{prog}: error: no usable result among the matched files", file=sys.stderr)
        return cli.EXIT_FAILED
    print(f"Loading results from: {' '.join(args.patterns)}")
    print(f"Loaded {len(loaded.results)} result file(s)"
          + (f", skipped {len(loaded.skipped)} unusable file(s)" if loaded.skipped else "")
          + (f", left out {len(loaded.summaries)} study summary file(s)" if loaded.summaries else ""))
    print()
    groups = group_results(loaded.results, include_warmup=args.include_warmup)
    plot_dir = None
    if args.plot:
        plot_dir = args.plot_dir or os.path.dirname(os.path.abspath(loaded.results[0][0]))
    present(groups, len(loaded.results), args.compare, plot_dir, args.summary_json)
    return cli.EXIT_OK


def main(argv: list[str] | None = None) -> int:
    return cli.guarded(run)(argv)
