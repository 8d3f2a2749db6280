"""The ``history`` command: import result files into the database, and show each configuration's history.

``dask-timing history import --db URL PATTERN...`` stores result files (folders
or globs) once each, keyed by run id: the way to bring in runs from before the
database, from another machine's folder, or whose recording failed.  A command
of its own rather than an option of the analyzer, since importing writes and
the analyzer only reads.

``dask-timing history show --db URL [filters]`` prints every configuration's
history on every machine, ordered by release, commit (``--git PATH``: in the
order of a checkout's history), label or time, each point with its 95 %
interval, the steps found in each metric (``history.steps``) and warnings of
points that ran under different load or on different machines;
``--fail-on-step PCT`` judges the newest point of each history by the gate's
rule, with its exit codes (``analysis.gate``); ``--plot FILE`` draws the trend
of one metric.

``dask-timing history publish --db URL DIR`` writes the same as a static site
(``present.history_site``).
"""

from __future__ import annotations

import argparse
import os
import sys

from dask_timing.cli import common as cli
from dask_timing.errors import EXIT_OK
from dask_timing.history import ORDERS
from dask_timing.phases import TOTAL_KEY

GATE_METRIC = TOTAL_KEY  # what --fail-on-step judges, as the comparison's gate judges the total time
DEFAULT_PUBLISH_THRESHOLD = 10.0  # percent: the threshold of the verdicts a published site shows


def add_filter_options(parser: argparse.ArgumentParser) -> None:
    """Which stored runs to read: every filter given must match."""
    group = parser.add_argument_group("which stored runs (with --db; every filter given must match)")
    group.add_argument("--kind", help="the run's kind: local, distributed, existing or cluster")
    group.add_argument("--config", action="append", metavar="NAME=VALUE", type=_setting,
                       help="runs whose configuration has this setting, named and valued as the summary prints "
                            "them (workers=4, processes=on, threads=1); repeatable: every one must match")
    group.add_argument("--label", help="the label recorded with the runs")
    group.add_argument("--revision", help="the commit or revision recorded with the runs")
    group.add_argument("--host", help="the machine the runs ran on")
    group.add_argument("--study", metavar="STUDY_ID", help="the study the runs belong to")
    group.add_argument("--since", metavar="TIME", help="runs measured at or after this ISO 8601 time")
    group.add_argument("--until", metavar="TIME", help="runs measured at or before this ISO 8601 time")


FILTERS = {"kind": "kind", "config": "config", "label": "label", "revision": "revision", "host": "host",
           "study": "study_id", "since": "since", "until": "until"}


def _setting(text: str) -> tuple[str, str]:
    name, equals, value = text.partition("=")
    if not equals or not name.strip() or not value.strip():
        raise argparse.ArgumentTypeError(f"a setting is NAME=VALUE, as the summary prints it (workers=4), not {text!r}")
    return name.strip(), value.strip()


def filters_given(args: argparse.Namespace) -> list[str]:
    """The filter options given, as typed (``--label nightly``, ``--config workers=4``)."""
    given = []
    for option in FILTERS:
        value = getattr(args, option, None)
        if value is None:
            continue
        if option == "config":  # NAME=VALUE pairs, each given with an option of its own
            given.extend(f"--config {name}={setting}" for name, setting in value)
        else:
            given.append(f"--{option} {value}")
    return given


def run_filter(args: argparse.Namespace):
    """The RunFilter of the filter options (a time that is not ISO 8601: UsageError)."""
    from dask_timing.history.reading import RunFilter

    values = {field: getattr(args, option, None) for option, field in FILTERS.items()}
    values["config"] = dict(values["config"]) if values["config"] else None
    return RunFilter(**values)


def build_parser(prog: str) -> cli.OneLineParser:
    parser = cli.OneLineParser(prog=prog, description="The results database: import result files, show each "
                               "configuration's history and the steps in it.")
    commands = parser.add_subparsers(dest="action", required=True, metavar="{import,show,publish}")
    importing = commands.add_parser("import", help="store result files (folders or globs) once each, by run id")
    importing.add_argument("patterns", nargs="+", metavar="PATTERN", help="result files: globs (quoted) or folders")
    importing.add_argument("--db", help="the database (default: $DASK_TIMING_DB, else dask-timing.db here)")
    show = commands.add_parser("show", help="every configuration's history, its steps, and a verdict on the newest")
    publish = commands.add_parser("publish", help="every configuration's history as a static site in DIR, opened "
                                                  "from disk (DIR/index.html)")
    for command in (show, publish):
        command.add_argument("--db", help="the database (default: $DASK_TIMING_DB, else dask-timing.db here)")
        add_filter_options(command)
        command.add_argument("--order", choices=ORDERS, default="version",
                             help="what a history is ordered by: release (default), commit, label or time (study)")
        command.add_argument("--git", metavar="PATH",
                             help="with --order revision: order commits as the history of this git checkout "
                                  "(default: in the order first measured)")
    show.add_argument("--metric", action="append", metavar="NAME",
                      help="only these metrics (repeatable; e.g. total_time, workers_start_time)")
    show.add_argument("--fail-on-step", type=cli.non_negative_float, metavar="PCT",
                      help=f"judge each history's newest point by its change in {GATE_METRIC} from the level "
                           "before it: exit 0 if its 95 %% interval lies within ±PCT percent, 1 for a step up "
                           "larger than PCT, 3 if the runs cannot tell, 2 if there is nothing to judge")
    show.add_argument("--plot", metavar="FILE.png",
                      help="draw the trend of the first --metric (default: total_time) into FILE (never overwritten)")
    publish.add_argument("directory", metavar="DIR", help="the site's folder: created, or updated in place (files "
                                                         "that are not the site's are left alone)")
    publish.add_argument("--threshold", type=cli.non_negative_float, metavar="PCT", default=DEFAULT_PUBLISH_THRESHOLD,
                         help="the threshold of the verdicts the site shows, as --fail-on-step (default: "
                              f"{DEFAULT_PUBLISH_THRESHOLD:g})")
    return parser


def run(argv: list[str] | None, prog: str) -> int:
    args = build_parser(prog).parse_args(argv)
    if args.action != "import":
        if args.git is not None and args.order != "revision":
            raise cli.UsageError("--git orders commits: give it with --order revision")
        filters = run_filter(args)
        commits = None
        if args.git is not None:
            from dask_timing.record.releases import git_commit_order

            commits = git_commit_order(args.git)
    if args.action == "show":
        if args.plot is not None and not args.plot.lower().endswith(".png"):
            raise cli.UsageError(f"--plot draws a PNG image: give a file name ending in .png, not {args.plot}")
        cli.check_output_file(args.plot, None, "--plot")
    if args.action == "publish":
        from dask_timing.present.history_site import check_site_folder

        check_site_folder(args.directory)
    from dask_timing.history.connection import opened

    with opened(args.db, read_only=args.action != "import") as database:
        if args.action == "import":
            return import_files(database, args.patterns, prog)
        if args.action == "publish":
            return publish(database, filters, commits, args)
        return show(database, filters, commits, args)


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


def history_keys(database, filters, args: argparse.Namespace) -> list:
    """Every history the filters match; none is one line."""
    from dask_timing.history.series import histories

    keys = histories(database, filters)
    if not keys:
        raise nothing_matches(database, filters, args)
    return keys


def nothing_matches(database, filters, args: argparse.Namespace) -> cli.UsageError:
    """No stored run matches the filters: one line naming them, and for --config what is stored."""
    given = filters_given(args)
    message = f"no stored run in {database.name} matches" + (f" {' '.join(given)}" if given else "")
    return cli.UsageError(message + (f" ({_settings_stored(database, filters.config)})" if filters.config else ""))


def _settings_stored(database, wanted: dict[str, str]) -> str:
    """The values the stored configurations have of the settings asked for, or the names they have."""
    from dask_timing.analysis.groups import setting_name, show_setting
    from dask_timing.history.reading import configurations

    stored: dict[str, set[str]] = {}
    for config in database.read(configurations).values():
        for key, value in config.items():
            stored.setdefault(setting_name(key), set()).add(show_setting(value))
    unknown = [name for name in wanted if setting_name(name) not in stored]
    if unknown:
        return f"no stored configuration has a setting {unknown[0]}; theirs: {', '.join(sorted(stored))}"
    return "the stored configurations have " + "; ".join(
        f"{setting_name(name)}={', '.join(sorted(stored[setting_name(name)], key=_numbers_first))}" for name in wanted)


def _numbers_first(text: str) -> tuple:
    """Whole numbers in their order (2 before 16), then the other values in theirs."""
    return (0, int(text), "") if text.isdigit() else (1, 0, text)


def show(database, filters, commits, args: argparse.Namespace) -> int:
    from dask_timing.history.overview import overview
    from dask_timing.history.series import metric_names

    keys = history_keys(database, filters, args)
    wanted = args.metric or None
    unknown = sorted(set(wanted) - metric_names(database, filters)) if wanted else []
    if unknown:  # a misspelt name would otherwise show nothing, silently
        raise cli.UsageError(f"--metric {unknown[0]}: no stored run has it (e.g. {GATE_METRIC}, "
                             "wait_for_workers_time, cluster_init_time)")
    drawn = []
    outcomes = []
    for key in keys:
        found = overview(database, key, filters, args.order, commits, wanted, args.fail_on_step)
        print(f"{found.name}: {key.n_runs} run(s), {len(found.points)} point(s) by {args.order}"
              + (f" ({found.history.left_out} run(s) without a {args.order} left out)"
                 if found.history.left_out else ""))
        for warning in found.history.warnings():
            print(f"  warning: {warning}")
        for point in found.points:
            print(f"  {point_line(point)}")
        for metric in found.metrics:
            for line in metric.describe():
                print(f"  {line}")
        plotted = (wanted or [GATE_METRIC])[0]
        drawn.extend((found.name, metric) for metric in found.metrics if metric.metric == plotted and metric.points)
        if found.nothing is not None:
            print(f"  verdict: nothing to judge ({found.nothing})")
        elif found.verdict is not None:
            print(f"  verdict: {found.verdict.said()}")
            outcomes.append(found.verdict.outcome)
        print()
    if args.plot:
        if not drawn:
            raise cli.UsageError("--plot: no point to draw")
        from dask_timing.present.history_plot import draw_history

        print(f"Trend plot: {draw_history(drawn, args.order, args.plot)}")
    if args.fail_on_step is None:
        return EXIT_OK
    return gate_exit(outcomes, args.fail_on_step)


def point_line(point) -> str:
    """A point, its median and the 95 % interval of the median from its own runs (none for a single run)."""
    interval = point.interval()
    spread = ("a single run: no interval" if interval is None
              else f"95 % CI {interval[0]:.4f} to {interval[1]:.4f} s, {len(point.values)} runs")
    return f"{point.label}: {GATE_METRIC} median {point.median:.4f} s ({spread})"


def publish(database, filters, commits, args: argparse.Namespace) -> int:
    import time

    from dask_timing.history.overview import overview
    from dask_timing.present.history_site import publish_site

    started = time.monotonic()
    keys = history_keys(database, filters, args)
    found = [overview(database, key, filters, args.order, commits, None, args.threshold) for key in keys]
    site = publish_site(found, args.directory, args.order, args.threshold, filters_given(args))
    print(f"Published {len(found)} configuration(s) in {time.monotonic() - started:.1f} s: "
          f"{site.pages} page(s) and {site.images} image(s), {site.size / 1e3:,.0f} kB; open {site.index}")
    return EXIT_OK


def gate_exit(outcomes: list[str], percent: float) -> int:
    """The gate's exit code over every history's verdict (``analysis.gate.overall``): never a pass on nothing."""
    from dask_timing.analysis import gate
    from dask_timing.history.steps import RULE

    outcome = gate.overall(outcomes)
    if outcome == gate.NOTHING_TO_COMPARE:
        raise cli.UsageError("--fail-on-step: no history has a point to judge")
    counted = sum(found == outcome for found in outcomes)
    print({gate.REGRESSION: f"Gate: failed: a step up larger than {percent:g} % in the newest point of {counted} "
                            "history(ies)",
           gate.UNDECIDED: f"Gate: inconclusive: {counted} history(ies) cannot tell whether the newest point is "
                           f"within {percent:g} % of the level before it",
           gate.PASSED: f"Gate: passed: every newest point is within {percent:g} % of the level before it"}[outcome])
    print(f"Rule: {RULE.format(percent=percent)}")
    return gate.EXIT_CODES[outcome]


def main(argv: list[str] | None, prog: str) -> int:
    cli.without_blas_threads()
    return cli.guarded(lambda args: run(args, prog), prog)(argv)
