"""The ``history`` command: import result files into the database, and show each configuration's history.

``dask-timing history import --db URL PATTERN...`` stores result files (folders
or globs) once each, keyed by run id: the way to bring in runs from before the
database, from another machine's folder, or whose recording failed.  A command
of its own rather than an option of the analyzer, since importing writes and
the analyzer only reads.

``dask-timing history show --db URL [filters]`` prints every configuration's
history on every machine, ordered by release, commit, label or time, with the
steps found in each metric (``history.steps``); ``--fail-on-step PCT`` judges the
newest point of each history, with the gate's exit codes; ``--plot FILE`` draws
the trend of one metric.
"""

from __future__ import annotations

import argparse
import os
import sys

import msgspec

from dask_timing.cli import common as cli
from dask_timing.errors import EXIT_FAILED, EXIT_INCONCLUSIVE, EXIT_OK
from dask_timing.history import ORDERS, TOTAL_METRIC

NOTHING = "nothing"  # a history without a point to judge: never counted as passed
GATE_METRIC = TOTAL_METRIC  # what --fail-on-step judges, as the two-sided gate judges the total time


def add_filter_options(parser: argparse.ArgumentParser) -> None:
    """Which stored runs to read: every filter given must match."""
    group = parser.add_argument_group("which stored runs (with --db; every filter given must match)")
    group.add_argument("--kind", help="the run's kind: local, distributed, existing or cluster")
    group.add_argument("--label", help="the label recorded with the runs")
    group.add_argument("--revision", help="the commit or revision recorded with the runs")
    group.add_argument("--host", help="the machine the runs ran on")
    group.add_argument("--study", metavar="STUDY_ID", help="the study the runs belong to")
    group.add_argument("--since", metavar="TIME", help="runs measured at or after this ISO 8601 time")
    group.add_argument("--until", metavar="TIME", help="runs measured at or before this ISO 8601 time")


FILTERS = {"kind": "kind", "label": "label", "revision": "revision", "host": "host", "study": "study_id",
           "since": "since", "until": "until"}


def filters_given(args: argparse.Namespace) -> list[str]:
    """The filter options given, as typed (``--label nightly``)."""
    return [f"--{option} {getattr(args, option)}" for option in FILTERS if getattr(args, option, None) is not None]


def run_filter(args: argparse.Namespace):
    """The store's RunFilter of the filter options (a time that is not ISO 8601: UsageError)."""
    from dask_timing.history.store import RunFilter

    found = RunFilter(**{field: getattr(args, option) for option, field in FILTERS.items()})
    found.clauses()  # checks the times now: one line before anything is read
    return found


def open_existing(db: str | None):
    """Open a database to read: a SQLite file that is not there is refused, never created empty."""
    from dask_timing.history.connection import database_url, open_database

    url = database_url(db)
    sqlite_file = url.startswith("sqlite:///") and url[len("sqlite:///"):]
    if sqlite_file and not os.path.exists(sqlite_file):
        raise cli.UsageError(f"no database {sqlite_file} (record runs with --db, or import them: "
                             "dask-timing history import)")
    return open_database(db)


def build_parser(prog: str) -> cli.OneLineParser:
    parser = cli.OneLineParser(prog=prog, description="The results database: import result files, show each "
                               "configuration's history and the steps in it.")
    commands = parser.add_subparsers(dest="action", required=True, metavar="{import,show}")
    importing = commands.add_parser("import", help="store result files (folders or globs) once each, by run id")
    importing.add_argument("patterns", nargs="+", metavar="PATTERN", help="result files: globs (quoted) or folders")
    importing.add_argument("--db", help="the database (default: $DASK_TIMING_DB, else dask-timing.db here)")
    show = commands.add_parser("show", help="every configuration's history, its steps, and a verdict on the newest")
    show.add_argument("--db", help="the database (default: $DASK_TIMING_DB, else dask-timing.db here)")
    add_filter_options(show)
    show.add_argument("--order", choices=ORDERS, default="version",
                      help="what a history is ordered by: release (default), commit, label or time (study)")
    show.add_argument("--metric", action="append", metavar="NAME",
                      help="only these metrics (repeatable; e.g. total_time, workers_start_time)")
    show.add_argument("--fail-on-step", type=cli.non_negative_float, metavar="PCT",
                      help=f"judge each history's newest point: exit 1 if it brings a new step up larger than PCT "
                           f"percent in {GATE_METRIC}, 3 if the history cannot tell (too few points), 2 if there "
                           "is nothing to judge")
    show.add_argument("--plot", metavar="FILE.png",
                      help="draw the trend of the first --metric (default: total_time) into FILE (never overwritten)")
    return parser


def run(argv: list[str] | None, prog: str) -> int:
    args = build_parser(prog).parse_args(argv)
    if args.action == "show":
        if args.plot is not None and not args.plot.lower().endswith(".png"):
            raise cli.UsageError(f"--plot draws a PNG image: give a file name ending in .png, not {args.plot}")
        cli.check_output_file(args.plot, None, "--plot")
        filters = run_filter(args)
    from dask_timing.history.connection import open_database

    database = open_database(args.db) if args.action == "import" else open_existing(args.db)
    try:
        if args.action == "import":
            return import_files(database, args.patterns, prog)
        return show(database, filters, args)
    finally:
        database.close()


def import_files(database, patterns: list[str], prog: str) -> int:
    from dask_timing.history.store import Recorded, import_files as store_files
    from dask_timing.signals import Interrupted

    report = Recorded()
    try:
        store_files(database, patterns, report, progress=lambda done, total, so_far: print(
            f"  {done:,} of {total:,} files read, {so_far.added:,} new run(s) stored", flush=True))
    except Interrupted:
        print(f"{prog}: stopped: {report.added} new run(s) were stored in {database.name} before the signal; "
              "import the same files again to add the rest (none is stored twice)", file=sys.stderr)
        raise
    for path, reason in report.skipped:
        print(f"{prog}: warning: skipped {path}: {reason}", file=sys.stderr)
    print(f"Imported into {database.name}: {report.added} new run(s), {report.already} already stored"
          + (f", {len(report.skipped)} skipped" if report.skipped else "")
          + (f", {len(report.summaries)} study summary or manifest file(s) left out" if report.summaries else ""))
    if not (report.added or report.already):
        raise cli.UsageError(f"no result to import in {' '.join(repr(p) for p in patterns)}")
    return EXIT_OK


def show(database, filters, args: argparse.Namespace) -> int:
    from dask_timing.history.series import histories, load_history, metric_names, settings_name, summarise

    keys = histories(database, filters)
    if not keys:
        raise cli.UsageError(f"no stored run in {database.name} matches"
                             + (f" {' '.join(filters_given(args))}" if filters_given(args) else ""))
    wanted = args.metric or None
    unknown = sorted(set(wanted or ()) - metric_names(database, filters))
    if unknown:  # a misspelt name would otherwise show nothing, silently
        raise cli.UsageError(f"--metric {unknown[0]}: no stored run has it (e.g. {GATE_METRIC}, "
                             "wait_for_workers_time, cluster_init_time)")
    drawn = []
    outcomes = []
    for key in keys:
        name = (f"{settings_name(key.kind, key.config)} on {key.host or 'an unknown machine'}"
                + (f", Python {key.python_version}" if key.python_version else ""))
        one_python = msgspec.structs.replace(filters, python_version=key.python_version)
        history = load_history(database, key.config_hash, key.host, args.order, one_python)
        metrics = [metric for metric in summarise(history) if wanted is None or metric.metric in wanted]
        points = history.points.get(GATE_METRIC, [])
        print(f"{name}: {key.n_runs} run(s), {len(points)} point(s) by {args.order}"
              + (f" ({history.left_out} run(s) without a {args.order} left out)" if history.left_out else ""))
        for point in points:
            print(f"  {point.label}: {GATE_METRIC} median {point.median:.4f} s over {len(point.values)} run(s)")
        for metric in metrics:
            for line in metric.describe():
                print(f"  {line}")
        plotted = (wanted or [GATE_METRIC])[0]
        drawn.extend((name, metric) for metric in metrics if metric.metric == plotted and metric.points)
        if args.fail_on_step is not None:
            outcomes.append(judge(history.points.get(GATE_METRIC, []), args.fail_on_step))
        print()
    if args.plot:
        if not drawn:
            raise cli.UsageError("--plot: no point to draw")
        from dask_timing.present.history_plot import draw_history

        print(f"Trend plot: {draw_history(drawn, args.order, args.plot)}")
    if args.fail_on_step is None:
        return EXIT_OK
    return gate_exit(outcomes)


def judge(points, fail_percent: float) -> str:
    """The verdict on a history's newest point, printed; its outcome."""
    from dask_timing.history.steps import EmptyHistory, judge_newest

    try:
        verdict = judge_newest(points, fail_percent, GATE_METRIC)
    except EmptyHistory as nothing:
        print(f"  verdict: nothing to judge ({nothing})")
        return NOTHING
    print(f"  verdict: {verdict.outcome}: {verdict.reason}")
    return verdict.outcome


def gate_exit(outcomes: list[str]) -> int:
    """The gate's exit code: 1 if any history failed, else 3 if any could not tell, else 2 if none had anything
    to judge, else 0: never a pass on nothing."""
    from dask_timing.history.steps import FAILED, INCONCLUSIVE

    judged = [outcome for outcome in outcomes if outcome != NOTHING]
    if FAILED in judged:
        print("Gate: failed: a new step up in the newest point")
        return EXIT_FAILED
    if INCONCLUSIVE in judged:
        print("Gate: inconclusive: a history too short to judge its newest point")
        return EXIT_INCONCLUSIVE
    if not judged:
        raise cli.UsageError("--fail-on-step: no history has a point to judge")
    print("Gate: passed: no new step larger than the threshold in any newest point")
    return EXIT_OK


def main(argv: list[str] | None, prog: str) -> int:
    return cli.guarded(lambda args: run(args, prog), prog)(argv)
