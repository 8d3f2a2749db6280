"""The analyzer's command line: load, warn, summarise, compare, plot."""

from __future__ import annotations

import gc
import os
import sys

from dask_timing.cli import common as cli
from dask_timing.analysis.groups import Group, group_results
from dask_timing.analysis.load import load
from dask_timing.present.analysis import present
from dask_timing.present.report import write_verdicts
from dask_timing.record.schema import RunResult, TimedRun
from dask_timing.record.files import write_text

# Plots, exports and verdicts are imported when asked for: the text summary of
# 10,000 files should not wait for modules it does not use.

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
    parser.add_argument("--baseline", action="append", metavar="PATTERN",
                        help="compare the results (PATTERNs) against these baseline results: ratio of "
                             "medians, bootstrap CI, Mann-Whitney U, verdict (repeatable)")
    parser.add_argument("--fail-if-slower", type=cli.non_negative_float, metavar="PCT",
                        help="with --baseline: exit 1 if a configuration's total time is significantly "
                             "slower than the baseline by more than PCT percent")
    parser.add_argument("--precision", type=cli.positive_float, default=1.0, metavar="PCT",
                        help="precision the number of runs is judged against, in percent at 95%% "
                             "confidence (default: 1)")
    parser.add_argument("--include-warmup", action="store_true",
                        help="count warmup runs (left out of statistics by default)")
    parser.add_argument("--csv", metavar="FILE", help="save the statistics of every metric as CSV")
    parser.add_argument("--markdown", metavar="FILE",
                        help="save a Markdown table of total time per configuration, with a relative column")
    parser.add_argument("--html", metavar="FILE",
                        help="save one self-contained HTML report (tables, plots, scaling, verdicts)")
    parser.add_argument("--summary-json", metavar="FILE",
                        help="also save the statistics as JSON to FILE (never overwritten)")
    return parser


def run(argv: list[str] | None, prog: str) -> int:
    args = build_parser(prog).parse_args(argv)
    if args.fail_if_slower is not None and not args.baseline:
        raise cli.UsageError("--fail-if-slower needs --baseline PATTERN to compare against")
    for option in ("summary_json", "csv", "markdown", "html"):
        path = getattr(args, option)
        if path and os.path.exists(path):
            raise cli.UsageError(f"{path} already exists; choose another --{option.replace('_', '-')}")
    # Plots and the HTML report draw from whole runs; every text output needs only the timed part.
    model = RunResult if args.plot or args.html else TimedRun
    loaded = load(args.patterns, model)
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
          + (f", left out {len(loaded.summaries)} study summary or manifest file(s)" if loaded.summaries else ""))
    print()
    groups = group_results(loaded.results, include_warmup=args.include_warmup)
    plot_dir = None
    if args.plot:
        plot_dir = args.plot_dir or os.path.dirname(os.path.abspath(loaded.results[0][0]))
    present(groups, len(loaded.results), args.compare, plot_dir, args.summary_json, precision=args.precision / 100)
    verdicts, code = judge_against_baseline(prog, args, groups) if args.baseline else (None, cli.EXIT_OK)
    if args.csv or args.markdown or args.html:
        export(args, groups, verdicts)
    return code


def export(args, groups: list[Group], verdicts) -> None:
    """The files asked for with --csv, --markdown and --html."""
    from dask_timing.present.exports import csv_text, html_page, markdown_text

    if args.csv:
        write_text(args.csv, csv_text(groups))
        print(f"✓ CSV saved to: {args.csv}")
    if args.markdown:
        write_text(args.markdown, markdown_text(groups))
        print(f"✓ Markdown saved to: {args.markdown}")
    if args.html:
        write_text(args.html, html_page(groups, verdicts, "Dask timing report"))
        print(f"✓ HTML report saved to: {args.html}")


def judge_against_baseline(prog: str, args, groups: list[Group]) -> tuple[list, int]:
    """Print the verdicts against the baseline; fail only on a significant, large slowdown."""
    from dask_timing.analysis.verdicts import compare, gate_failures

    baseline = load(args.baseline, TimedRun)
    for path, reason in baseline.skipped:
        print(f"{prog}: warning: skipped {path}: {reason}", file=sys.stderr)
    if not baseline.results:
        raise cli.UsageError(f"no usable baseline result in {' '.join(repr(p) for p in args.baseline)}")
    verdicts, only_baseline, only_new = compare(
        group_results(baseline.results, include_warmup=args.include_warmup), groups
    )
    write_verdicts(verdicts, only_baseline, only_new, print)
    if args.fail_if_slower is None:
        return verdicts, cli.EXIT_OK
    failures = gate_failures(verdicts, args.fail_if_slower)
    for verdict in failures:
        print(f"REGRESSION: {verdict.label}: total time {verdict.ratio:.3f}x the baseline "
              f"(95% CI {verdict.ci_low:.3f}-{verdict.ci_high:.3f}, p={verdict.p_value:.4f}), "
              f"over the {args.fail_if_slower:g}% allowed")
    if failures:
        return verdicts, cli.EXIT_FAILED
    print(f"Regression gate passed: no total time significantly slower by more than {args.fail_if_slower:g}%.")
    return verdicts, cli.EXIT_OK


def main(argv: list[str] | None, prog: str) -> int:
    # Thousands of runs make hundreds of thousands of small objects and no reference
    # cycles; at its default threshold the cycle collector would walk them again and
    # again. Raised as mypy raises it, for the same reason.
    gc.set_threshold(200_000, 30, 30)
    return cli.guarded(lambda args: run(args, prog), prog)(argv)
