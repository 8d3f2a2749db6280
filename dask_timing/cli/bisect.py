"""The bisect command: which release, commit or interpreter made startup slower (``study.bisect``).

Every option and every point is checked before anything is built or run: an unknown release, a range with
nothing in it, a folder that is no git checkout, GOOD not before BAD or fewer than two points is one line,
exit 2.
"""

from __future__ import annotations

import argparse
import contextlib
import os

from dask_timing.cli import checks
from dask_timing.cli import common as cli
from dask_timing.cli.study import check_requests, recording_as_begun
from dask_timing.analysis.verdicts import runs_for_significance
from dask_timing.history.connection import database_url
from dask_timing.history.recording import Recorder
from dask_timing.measure.environments import named_interpreter
from dask_timing.phases import INTERPRETER_AND_IMPORTS, PHASES_BY_KEY, TOTAL_KEY
from dask_timing.record.kinds import KIND_DISTRIBUTED, KIND_LOCAL
from dask_timing.signals import StopSignals
from dask_timing.study.plan import DEFAULT_RUNS, DEFAULTS
from dask_timing.study.bisect import (
    STATE_FILE, UNBUILT, Bisect, State, commit_points, interpreter_points, probe_budget, release_points, with_runs,
)

DEFAULT_THRESHOLD = 10.0
METRICS = (TOTAL_KEY, *(f"{key}_time" for key in [*PHASES_BY_KEY, INTERPRETER_AND_IMPORTS]))
POINT_OPTIONS = ("dask_versions", "git", "range", "python", "system_site_packages", "metric", "threshold", "type",
                 "workers", "threads", "runs", "timeout", "import_profile")


def build_parser(prog: str) -> cli.OneLineParser:
    parser = cli.OneLineParser(
        prog=prog,
        description="Find the first release, commit or interpreter whose startup is more than PCT slower than "
                    "the first's: a binary search, each probe an interleaved study of the probe against the good "
                    "end; a point that cannot be built is skipped. Exit 1: found; 0: no step; 3: cannot tell (the "
                    "runs, or the points skipped, leave it open); 2: bad input, or an end that cannot be built.",
        epilog="examples:\n"
               f"  {prog} --dask-versions 2025.10.0..2026.8.0 --workers 2\n"
               f"  {prog} --dask-versions 2025.12.0,2026.1.0,2026.3.0,2026.8.0 --threshold 5 --runs 8\n"
               f"  {prog} --git ~/src/distributed --range 2026.3.0..main\n"
               f"  {prog} --python a=/envs/a/bin/python --python b=/envs/b/bin/python --python c=/envs/c/bin/python\n"
               f"  {prog} --output-dir bisect_results --resume",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    points = parser.add_argument_group("the points, good end first, bad end last (one of)")
    points.add_argument("--dask-versions", metavar="A,B,...|A..B",
                        help="releases of dask and distributed in release order, or every release between A and "
                             "B that the package index has; each built once in the user's cache")
    points.add_argument("--git", metavar="PATH",
                        help="a git checkout (of distributed, or any package dask-timing's runs import), with "
                             "--range; each commit installed into an environment of its own in the user's cache, "
                             "its dependencies from the package index")
    points.add_argument("--range", metavar="GOOD..BAD", help="with --git: the commits from GOOD to BAD")
    points.add_argument("--system-site-packages", action="store_true",
                        help="with --git: the environments see this interpreter's packages, so only the "
                             "checkout is installed (nothing downloaded for what is here already)")
    points.add_argument("--python", action="append", type=cli.checked(named_interpreter), metavar="NAME=PATH",
                        help="a prepared interpreter (repeat, in order: the first good, the last bad)")
    parser.add_argument("--metric", type=cli.one_of(METRICS), default=TOTAL_KEY,
                        help="what is compared (default: %(default)s)")
    parser.add_argument("--threshold", type=cli.non_negative_float, default=DEFAULT_THRESHOLD, metavar="PCT",
                        help="a step is the metric more than PCT percent above the good end's, shown by the "
                             "study's gate (default: %(default)g)")
    parser.add_argument("-r", "--runs", type=cli.positive_int, default=DEFAULT_RUNS, metavar="NUM",
                        help="runs of each side in each probe (default: %(default)s; an undecided probe is run "
                             "again with twice as many)")
    parser.add_argument("-t", "--type", choices=(KIND_LOCAL, KIND_DISTRIBUTED), default=KIND_LOCAL,
                        help="local: LocalCluster; distributed: separate scheduler and worker processes "
                             "(default: %(default)s)")
    parser.add_argument("-w", "--workers", type=cli.positive_int, default=DEFAULTS["workers"][0], metavar="NUM",
                        help="number of workers (default: %(default)s)")
    parser.add_argument("-T", "--threads", type=cli.positive_int, default=DEFAULTS["threads"][0], metavar="NUM",
                        help="threads per worker (default: %(default)s)")
    parser.add_argument("--timeout", type=cli.positive_seconds, default=DEFAULTS["timeout"], metavar="SECONDS",
                        help="bound on every wait inside a run (default: %(default)g)")
    parser.add_argument("--import-profile", action="store_true",
                        help="profile the imports of every worker of every run, so the step's explanation names "
                             "the module that costs the time")
    parser.add_argument("-o", "--output-dir", default="bisect_results", metavar="DIR",
                        help="folder for the state and each probe's study (default: %(default)s)")
    parser.add_argument("--resume", action="store_true",
                        help="go on with the interrupted bisect in DIR, its points and options from its state")
    cli.add_history_options(parser, "every probe's runs")
    return parser


def new_state(args: argparse.Namespace) -> State:
    """The points and options of a new bisect, every one checked (UsageError: one line, before any build)."""
    if (args.range or args.system_site_packages) and not args.git:
        raise cli.UsageError(f"--{'range' if args.range else 'system-site-packages'} goes with --git")
    given = [f"--{option.replace('_', '-')}" for option in ("dask_versions", "git", "python") if getattr(args, option)]
    if len(given) != 1:
        raise cli.UsageError("give the points one way: --dask-versions, --git PATH --range GOOD..BAD, or "
                             "--python NAME=PATH repeated" + (f" (not {' and '.join(given)})" if given else ""))
    fewest = runs_for_significance(1, 1)
    if args.runs < fewest:
        raise cli.UsageError(f"--runs {args.runs}: with fewer than {fewest} runs a side no probe can be decided "
                             "(Mann-Whitney's p cannot go below 0.05)")
    if args.dask_versions:
        points = release_points(args.dask_versions)
    elif args.git:
        if not args.range:
            raise cli.UsageError("--git needs --range GOOD..BAD")
        points = commit_points(args.git, args.range, args.system_site_packages)
    else:
        points = interpreter_points(args.python)
    options = {"type": [args.type], "workers": [args.workers], "threads": [args.threads], "timeout": args.timeout,
               "import_profile": args.import_profile}
    recording = {"db": database_url(args.db) if args.db else None, "label": args.label, "revision": args.revision}
    state = State(points, args.metric, args.threshold, args.runs, options, recording)
    check_requests(state.plan(points[-1], args.runs * 2))  # the largest probe
    return state


def run(argv: list[str] | None, prog: str) -> int:
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    state_path = os.path.join(args.output_dir, STATE_FILE)
    if args.resume:
        given = [name for name in POINT_OPTIONS if getattr(args, name) not in (None, False, parser.get_default(name))]
        if given:
            raise cli.UsageError(f"--resume takes the points and options from {state_path}; drop "
                                 f"--{given[0].replace('_', '-')}")
        state = State.read(args.output_dir)
        recording_as_begun(state.recording, args)
    else:
        if os.path.exists(state_path):
            raise cli.UsageError(f"a bisect is already in {args.output_dir} ({STATE_FILE}): go on with it "
                                 "(--resume) or give another --output-dir")
        cli.check_output_dir(args.output_dir)
        state = new_state(args)
    cli.require_dask()
    checks.check_dask_config()
    recorder = Recorder.opened(args.db, prog) if args.db else None  # a bad database: one line, before any run
    made_folder = not os.path.exists(args.output_dir)
    os.makedirs(args.output_dir, exist_ok=True)
    bisect = Bisect(state, args.output_dir, prog, recorder)
    if args.resume:
        skipped = len([probe for probe in state.probes if probe.outcome == UNBUILT])
        print(f"Resuming the bisect in {args.output_dir}: {len(with_runs(state.probes))} probe(s) of at most "
              f"{probe_budget(len(state.points))} done" + (f", {skipped} point(s) skipped" if skipped else ""))
    bisect.describe()
    state.save(args.output_dir)
    StopSignals(bisect.stop, announce="stopping after the current run tears down",
                last_words=bisect.resume_command).install()
    try:
        return bisect.run()
    except cli.UsageError:
        if not args.resume and not state.probes:  # an end cannot be built: a new bisect leaves nothing behind
            os.remove(state_path)
            if made_folder:
                with contextlib.suppress(OSError):  # not empty: something else wrote there meanwhile
                    os.rmdir(args.output_dir)
        raise


def main(argv: list[str] | None, prog: str) -> int:
    return cli.guarded(lambda args: run(args, prog), prog)(argv)
