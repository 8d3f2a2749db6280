"""The analyzer's command line: load, warn, summarise, compare, gate, plot, export."""

from __future__ import annotations

import gc
import os
import sys

from dask_timing.cli import common as cli
from dask_timing.cli.ending import keep_to_the_end
from dask_timing.defaults import DEFAULT_RESULTS_DIR
from dask_timing.analysis.computed import Analysis
from dask_timing.analysis.groups import Group, group_results
from dask_timing.analysis.load import LoadedResults, load, shared_runs
from dask_timing.cli.history import add_filter_options, filters_given, nothing_matches, run_filter
from dask_timing.history.releases import release_histories
from dask_timing.analysis.verdicts import Comparison, environment_names, pair_environments, pair_results
from dask_timing.present.analysis import CONCISE, QUIET, VERBOSE, present, present_end, save_verdicts
from dask_timing.present.exports import EXPORTERS, export
from dask_timing.record.schema import AnalyzedRun, RunResult

# Plots, numpy and scipy (the verdicts' statistics) are imported when asked for: the
# text summary of 10,000 files should not wait for modules it does not use.  The export formats are
# imported here to offer their options; each imports what is heavy when it renders.

DEFAULT_PATTERN = f"{DEFAULT_RESULTS_DIR}/*.json"


def build_parser(prog: str) -> cli.OneLineParser:
    parser = cli.OneLineParser(
        prog=prog,
        description="Summarise dask-timing result files: statistics per configuration, "
        "comparisons and plots. Files that are not results are skipped with a warning.",
    )
    parser.add_argument("patterns", nargs="*", metavar="PATTERN",
                        help=f"glob pattern(s) or folder(s) of result files (default: {DEFAULT_PATTERN!r}); "
                             "quote patterns so the shell does not expand them")
    parser.add_argument("--db", metavar="URL",
                        help="read the runs from this results database instead of files (a SQLite file or URL, "
                             "or postgresql://...), narrowed by the filters below")
    add_filter_options(parser)
    parser.add_argument("--compare", action="store_true",
                        help="the ranking of configurations (by median total time to ready, each relative to the "
                             "fastest with a 95%% interval) even for one configuration; two or more are always "
                             "ranked")
    detail = parser.add_mutually_exclusive_group()  # more and less at once: refused by argparse, one line
    detail.add_argument("--verbose", dest="detail", action="store_const", const=VERBOSE, default=CONCISE,
                        help="every statistic (mean, stddev, median, MAD, min, max, p5, p95) of every metric, a "
                             "block per configuration however many there are")
    detail.add_argument("--quiet", dest="detail", action="store_const", const=QUIET,
                        help="only the ranking, the failed runs, and the verdicts and gate of --baseline or "
                             "--baseline-env")
    parser.add_argument("--plot", action="store_true",
                        help="draw the phase breakdown and the distribution of total time (PNG)")
    parser.add_argument("--plot-dir", metavar="DIR",
                        help="where plots go (default: the folder of the first result file; with --db, here)")
    parser.add_argument("--baseline", action="append", metavar="PATTERN",
                        help="compare the results (PATTERNs) against these baseline results: ratio of "
                             "medians, bootstrap CI, Mann-Whitney U, verdict (repeatable); results of "
                             "another time compare the machine's state too: prefer --baseline-env")
    parser.add_argument("--baseline-env", metavar="NAME",
                        help="compare, configuration by configuration, every other environment of the results "
                             "(an interleaved study's --python NAME or dask-VERSION) against environment NAME")
    cli.add_gate_options(parser, "with --baseline or --baseline-env",
                         "a configuration's total time is significantly slower", ", 2 if nothing is compared")
    parser.add_argument("--precision", type=cli.positive_float, default=1.0, metavar="PCT",
                        help="precision the number of runs is judged against, in percent at 95%% "
                             "confidence (default: 1)")
    parser.add_argument("--include-warmup", action="store_true",
                        help="count warmup runs (left out of statistics by default)")
    for exporter in EXPORTERS.values():
        parser.add_argument(f"--{exporter.option}", metavar="FILE", help=exporter.help.replace("%", "%%"))
    parser.add_argument("--summary-json", metavar="FILE",
                        help="also save the statistics as JSON to FILE (never overwritten)")
    return parser


def run(argv: list[str] | None, prog: str) -> int:
    args = build_parser(prog).parse_args(argv)
    if args.db and args.patterns:
        raise cli.UsageError("--db reads the runs from the database: drop the file patterns, or drop --db")
    if filters_given(args) and not args.db:
        raise cli.UsageError(f"{filters_given(args)[0].split()[0]} filters the runs of a database: add --db URL")
    args.patterns = args.patterns or [DEFAULT_PATTERN]
    detail = args.detail
    if args.baseline and args.baseline_env:
        raise cli.UsageError("--baseline and --baseline-env are two ways to compare: choose one")
    compares = args.baseline or args.baseline_env
    if args.fail_if_slower is not None and not compares:
        raise cli.UsageError("--fail-if-slower needs --baseline PATTERN or --baseline-env NAME to compare against")
    if args.verdict_json and not compares:
        raise cli.UsageError("--verdict-json needs --baseline PATTERN or --baseline-env NAME to compare against")
    exports = {option: getattr(args, option.replace("-", "_")) for option in EXPORTERS}
    exports = {option: path for option, path in exports.items() if path}
    if args.plot_dir and not args.plot:
        raise cli.UsageError("--plot-dir says where --plot draws; add --plot")
    outputs = {"summary-json": args.summary_json, "verdict-json": args.verdict_json, **exports}
    cli.check_output_files({f"--{option}": path for option, path in outputs.items()}, None)
    cli.check_output_dir(args.plot_dir, "--plot-dir")
    # Plots, some exports (the HTML report) and comparisons (down to every recorded package's version) read
    # whole runs; the rest needs only the timed part.
    whole_runs = args.plot or bool(compares) or any(EXPORTERS[option].whole_runs for option in exports)
    run_type = RunResult if whole_runs else AnalyzedRun
    if args.db:
        source, loaded = load_database(args)
        args.patterns = [source]
    else:
        loaded = load(args.patterns, run_type)
    if not (loaded.results or loaded.skipped or loaded.summaries):
        raise cli.UsageError(
            f"no file matches {' '.join(repr(p) for p in args.patterns)}; check the pattern "
            "(quote it) or run run_timing_study.sh first"
        )
    for warning in loaded.warnings():
        print(f"{prog}: warning: {warning}", file=sys.stderr)
    if not loaded.results:
        print(f"{prog}: error: no usable result among the matched files ({loaded.unused()})", file=sys.stderr)
        return cli.EXIT_FAILED
    groups = group_results(loaded.results, include_warmup=args.include_warmup)
    comparison = None  # paired before anything is printed: a comparison refused is one line
    if args.baseline:
        comparison = pair_with_baseline(prog, loaded, groups, args.baseline, args.include_warmup, run_type)
    elif args.baseline_env:
        comparison = pair_environments_named(groups, args.baseline_env)
    if detail != QUIET:
        print(f"Loading results from: {' '.join(args.patterns)}")
        print(f"Loaded {len(loaded.results)} result file(s)"
              + (f", skipped {len(loaded.skipped)} unusable file(s)" if loaded.skipped else "")
              + (f", left out {len(loaded.left_out)} result(s) (see the warnings)" if loaded.left_out else "")
              + (f", left out {len(loaded.summaries)} study summary or manifest file(s)" if loaded.summaries else ""))
        print()
    plot_dir = None
    if args.plot:
        first_folder = os.curdir if args.db else os.path.dirname(os.path.abspath(loaded.results[0][0]))
        plot_dir = args.plot_dir or first_folder
        cli.check_output_dir(plot_dir, "--plot-dir (by default the first result's folder)")
    # Every statistic computed once, when an output first shows it; the outputs only render it.
    analysis = Analysis(groups, comparison, args.fail_if_slower, args.precision / 100, histories=release_histories)
    keep_to_the_end(loaded, analysis)  # freed by the operating system, not one object at a time
    names = present(analysis, len(loaded.results), detail, args.compare, plot_dir, args.summary_json)
    if args.verdict_json:
        save_verdicts(analysis, args.verdict_json)
    if exports:
        export(analysis, exports)
    present_end(analysis, names, detail, prog)
    if analysis.gate is not None:
        return analysis.gate.exit_code
    if not any(group.ok_runs for group in groups):  # failures summarised, but no figure to stand on
        warmups = sum(len(group.warmup_runs) for group in groups)
        print(f"{prog}: error: no successful run counts: {sum(len(group.failed_runs) for group in groups)} failed"
              + (f", {warmups} warmup run(s) left out (--include-warmup counts them)" if warmups else "")
              + ": no figure to summarise", file=sys.stderr)
        return cli.EXIT_FAILED
    return cli.EXIT_OK


def load_database(args) -> tuple[str, LoadedResults]:
    """The runs of the database the filters match, as the files would give them (whole runs: the
    environment is what groups them)."""
    from dask_timing.history.connection import opened
    from dask_timing.history.reading import read_runs

    filters = run_filter(args)
    with opened(args.db, read_only=True) as database:
        results = read_runs(database, filters, RunResult)
        if not results:
            raise nothing_matches(database, filters, args)
        return database.name, LoadedResults(results=results)


def pair_with_baseline(prog: str, loaded: LoadedResults, groups: list[Group], baseline_patterns: list[str],
                       include_warmup: bool, run_type: type) -> Comparison:
    """The results against the baseline's, configuration by configuration (read as ``run_type``, as the
    results are); runs on both sides are refused (a set compared with itself shows no change, and the gate
    would pass it)."""
    baseline = load(baseline_patterns, run_type)
    if not baseline.results:  # one error saying why, not the warnings that would say it first
        raise cli.UsageError(f"no usable baseline result in {' '.join(repr(p) for p in baseline_patterns)} "
                             f"({baseline.unused()})")
    for warning in baseline.warnings():
        print(f"{prog}: warning: --baseline: {warning}", file=sys.stderr)
    shared = shared_runs(loaded, baseline)
    if shared:
        raise cli.UsageError(f"--baseline: {len(shared)} of its run(s) are among the results too ({shared[0]}{', ...' if len(shared) > 1 else ''}): "
                             "a comparison needs two separate sets of runs")
    return pair_results(group_results(baseline.results, include_warmup=include_warmup), groups)


def pair_environments_named(groups: list[Group], reference: str) -> Comparison:
    """Every other environment of the results against ``reference``; a name not found is refused."""
    names = environment_names(groups)
    if reference not in names:
        found = f"the results' environments are {', '.join(names)}" if names else "the results name no environment"
        raise cli.UsageError(f"--baseline-env {reference}: no such environment ({found})")
    return pair_environments(groups, reference)


def main(argv: list[str] | None, prog: str) -> int:
    # Thousands of runs make hundreds of thousands of small objects and no reference
    # cycles; at its default threshold the cycle collector would walk them again and
    # again. Raised as mypy raises it, for the same reason.
    gc.set_threshold(200_000, 30, 30)
    cli.without_blas_threads()
    return cli.guarded(lambda args: run(args, prog), prog)(argv)
