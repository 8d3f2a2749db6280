"""The study command: parse and check every option, then run the study (``study.runner``)."""

from __future__ import annotations

import argparse
import json
import os
import shlex

from dask_timing.cli import checks
from dask_timing.cli import common as cli
from dask_timing.defaults import DEFAULT_RESULTS_DIR, DEFAULT_THREADS, DEFAULT_WORKERS
from dask_timing.cli.timing import import_profile_refusal
from dask_timing.deploy.base import START_METHODS
from dask_timing.measure.environments import dask_version, named_interpreter, prepare
from dask_timing.record.workloads import DEFAULT_CHUNK, WORKLOADS
from dask_timing.present.analysis import CONCISE, DETAILS
from dask_timing.record.kinds import KIND_DISTRIBUTED, KIND_LOCAL
from dask_timing.record.secrets import fill_masked, holds_masked
from dask_timing.signals import StopSignals, raise_interrupted
from dask_timing.study.manifest import load_plan, save_manifest
from dask_timing.study.plan import DEFAULT_RUNS, MANAGED_TYPES, ON_OFF, PLAN_OPTIONS, SLURM_DEFAULTS, STUDY_TYPES, Plan
from dask_timing.study.runner import Study


DESCRIPTION = ("Run a Dask timing study: RUNS runs of each configuration, each in a fresh process, interleaved, "
               "then statistics per configuration saved beside the results. Comma-separated lists on any axis make "
               "a sweep.")


def build_parser(prog: str) -> cli.OneLineParser:
    parser = cli.OneLineParser(
        prog=prog,
        description=DESCRIPTION,
        epilog="examples:\n"
        f"  {prog} --type local --workers 4\n"
        f"  {prog} --type distributed --workers 8 --threads 2\n"
        f"  {prog} --type local --runs 5 --output-dir results_dir --plot\n"
        f"  {prog} --type local --workers 1,2,4 --start-method spawn,fork --runs 5 --warmup 1\n"
        f"  {prog} --python A=/path/to/a/python --python B=/path/to/b/python --runs 20 --workers 2 "
        "--fail-if-slower 10\n"
        f"  {prog} --dask-versions 2025.12.0,2026.8.0 --type local,distributed --runs 10\n"
        f"  {prog} --output-dir results_dir --resume latest",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-t", "--type", type=cli.comma_list(cli.one_of(STUDY_TYPES)),
                        metavar="{" + ",".join(STUDY_TYPES) + "}",
                        help="local: LocalCluster; distributed: separate scheduler and worker processes; "
                             "slurm: dask-jobqueue's SLURMCluster, one job per worker; cluster: any cluster "
                             "manager given with --cluster-class; a comma-separated list interleaves them "
                             "(default: local)")
    parser.add_argument("--python", action="append", type=cli.checked(named_interpreter), metavar="NAME=PATH",
                        help="an environment to run in: any interpreter with dask, distributed and this tool's "
                             "requirements (repeatable; environments are interleaved, and two or more are "
                             "compared at the end, each against the first)")
    parser.add_argument("--dask-versions", type=cli.comma_list(cli.checked(dask_version)), metavar="V[,V...]",
                        help="an environment per Dask release (dask and distributed pinned to it), named "
                             "dask-V, built once in the user's cache folder and reused by later studies")
    cli.add_gate_options(parser, "with two environments or more",
                         "an environment's total time is significantly slower than the first's")
    parser.add_argument("--cluster-class", metavar="MODULE:CLASS",
                        help="with --type cluster: the cluster manager, e.g. distributed:LocalCluster")
    parser.add_argument("--cluster-kwargs", metavar="JSON|FILE",
                        help="with --type slurm or cluster: the cluster's arguments (for slurm, added to "
                             f"{json.dumps(SLURM_DEFAULTS)} with cores = --threads)")
    parser.add_argument("-w", "--workers", type=cli.comma_list(cli.positive_int), metavar="NUM[,NUM...]",
                        help=f"number(s) of workers (default: {DEFAULT_WORKERS})")
    parser.add_argument("-T", "--threads", type=cli.comma_list(cli.positive_int), metavar="NUM[,NUM...]",
                        help=f"threads per worker (default: {DEFAULT_THREADS})")
    parser.add_argument("--start-method", type=cli.comma_list(cli.one_of(START_METHODS)), metavar="M[,M...]",
                        help="how worker processes start: spawn, forkserver, fork (default: Dask's setting)")
    parser.add_argument("--dashboard", type=cli.comma_list(cli.one_of(tuple(ON_OFF))), metavar="on|off[,...]",
                        help="dashboard on or off (default: on)")
    parser.add_argument("--nanny", type=cli.comma_list(cli.one_of(tuple(ON_OFF))), metavar="on|off[,...]",
                        help="distributed only: workers with or without a nanny (default: on)")
    parser.add_argument("--processes", type=cli.comma_list(cli.one_of(tuple(ON_OFF))), metavar="on|off[,...]",
                        help="local only: workers as processes or as threads (default: on)")
    parser.add_argument("--workload", choices=WORKLOADS,
                        help="also time a workload after ready (weak-array: weak scaling, one chunk per worker)")
    parser.add_argument("--workload-chunk", type=cli.positive_int, metavar="N",
                        help=f"side of each worker's chunk for --workload (default: {DEFAULT_CHUNK})")
    parser.add_argument("--import-profile", action="store_const", const=True, metavar=None,
                        help="profile the imports of every worker of every run in every environment "
                             "(PYTHONPROFILEIMPORTTIME); comparisons then name the packages that cost the time")
    parser.add_argument("-o", "--output-dir", default=DEFAULT_RESULTS_DIR, metavar="DIR",
                        help=f"folder for results, logs and the summary (default: {DEFAULT_RESULTS_DIR})")
    parser.add_argument("-r", "--runs", type=cli.positive_int, metavar="NUM",
                        help=f"runs of each configuration (default: {DEFAULT_RUNS}, the fewest with which a comparison "
                             "can be significant at p < 0.01)")
    parser.add_argument("--warmup", type=cli.non_negative_int, metavar="NUM",
                        help="extra runs of each configuration first, saved but marked warmup and left "
                             "out of statistics (default: 0)")
    parser.add_argument("--timeout", type=cli.positive_seconds, metavar="SECONDS",
                        help=f"bound on every wait inside a run (default: {cli.DEFAULT_TIMEOUT:g})")
    parser.add_argument("--plot", action="store_true",
                        help="also draw the plots into DIR")
    parser.add_argument("--analysis", choices=DETAILS, default=CONCISE,
                        help="how much of the analysis the study prints at its end, as analyze_results.py prints "
                             "it by default, with --verbose or with --quiet (default: %(default)s)")
    cli.add_history_options(parser, "each run")
    parser.add_argument("--resume", nargs="?", const="latest", metavar="STUDY_ID",
                        help="finish an interrupted study in DIR (default: the latest) without redoing "
                             "finished runs; the plan comes from the study's manifest")
    return parser


def run(argv: list[str] | None, prog: str) -> int:
    args = build_parser(prog).parse_args(argv)
    if args.resume:
        given = [name for name in PLAN_OPTIONS if getattr(args, name) is not None and name != "cluster_kwargs"]
        if given:
            raise cli.UsageError(f"--resume takes the plan from the study's manifest; drop --{given[0].replace('_', '-')}")
        if not os.path.isdir(args.output_dir):
            raise cli.UsageError(f"no folder {args.output_dir} to resume a study in")
        plan = load_plan(args.output_dir, args.resume)
        plan.cluster_kwargs = secrets_given_again(plan.cluster_kwargs, args.cluster_kwargs)
        recording_as_begun(plan.recording, args)
    else:
        options = {name: getattr(args, name) for name in PLAN_OPTIONS}
        options["cluster_kwargs"] = cli.parse_cluster_kwargs(args.cluster_kwargs)
        plan = Plan.from_options(options)
        plan.recording = {"db": recorded_db(args.db), "label": args.label,
                          "revision": args.revision}
    check_requests(plan)
    if (args.fail_if_slower is not None or args.verdict_json) and len(plan.environments) < 2:
        option = "--fail-if-slower" if args.fail_if_slower is not None else "--verdict-json"
        raise cli.UsageError(f"{option} judges a comparison of environments: give two or more "
                             "(--python NAME=PATH twice, or --dask-versions V1,V2)")
    cli.require_dask()
    checks.check_dask_config()
    cli.check_output_dir(args.output_dir)
    cli.check_output_file(args.verdict_json, None, "--verdict-json")
    recorder = None
    if args.db:  # a bad database: one line, before any run
        from dask_timing.history.recording import Recorder

        recorder = Recorder.opened(args.db, prog)
    try:
        # a signal stops the preparation where it is (a build ends whole, its folder removed); the study's
        # own rule replaces this one once it runs
        StopSignals(raise_interrupted, announce="stopping").install()
        prepare(plan.environments, plan.required_modules())
        if not args.resume:
            save_manifest(args.output_dir, plan)
        study = Study(plan, args.output_dir, args.plot, prog, invocation(prog), args.fail_if_slower,
                      args.verdict_json, recorder, args.label, args.revision, args.analysis)
        StopSignals(study.stop, announce="stopping after the current run tears down",
                    last_words=study.resume_hint).install()
        return study.execute()
    finally:
        if recorder is not None:
            recorder.close()


def recorded_db(db: str | None) -> str | None:
    """The --db a study records its runs in, as its manifest keeps it (imported only then: the database's
    requirements are an extra)."""
    if not db:
        return None
    from dask_timing.history.connection import database_url

    return database_url(db)


def check_requests(plan: Plan) -> None:
    """What each run would be refused for, refused once for the study before any run (one line, exit 2)."""
    checks.check_seconds(plan.timeout, "--timeout")
    checks.check_run_count(len(plan.configurations) * (plan.runs + plan.warmup),  # before a schedule is made
                           "configurations x (--runs + --warmup)")
    for configuration in plan.configurations:
        remote = configuration.kind in MANAGED_TYPES
        if remote:
            checks.check_remote_workers(configuration.workers)
        else:
            checks.check_local_workers(configuration.workers, processes=configuration.isolation != "off"
                                       or configuration.kind == KIND_DISTRIBUTED)
        checks.check_threads(configuration.workers, configuration.threads, remote)
        if plan.workload:
            checks.check_chunk(configuration.workers, plan.workload_chunk)
        if plan.import_profile:
            refusal = import_profile_refusal(
                configuration.kind, processes=configuration.isolation != "off" or configuration.kind != KIND_LOCAL,
                nanny=configuration.isolation != "off", start_method=configuration.start_method,
                cluster_class=plan.cluster(configuration.kind, "python")[0] if remote else None)
            if refusal:
                raise cli.UsageError(f"{configuration.stem()}: {refusal}")


def recording_as_begun(recording: dict[str, str | None], args: argparse.Namespace) -> None:
    """A resumed study records its runs where, and as, it began: --db, --label and --revision come from
    the manifest; given again, they must agree (a database's password, masked there, must be given)."""
    for name in ("label", "revision"):
        given, begun = getattr(args, name), recording.get(name)
        if given is not None and given != begun:
            raise cli.UsageError(f"--resume keeps the study's --{name} ({begun or 'none'}): drop --{name} {given}")
        setattr(args, name, begun)
    begun = recording.get("db")
    if args.db is None and begun is not None:
        if holds_masked(begun):
            raise cli.UsageError(f"the study records its runs in {begun}: give --db with the password again "
                                 "to resume it")
        args.db = begun


def secrets_given_again(manifest_kwargs: dict | None, given: str | None) -> dict | None:
    """A manifest keeps cluster arguments with their secrets masked: --resume takes them again
    from --cluster-kwargs (the same JSON or file as the first time), and nothing else from it."""
    if not holds_masked(manifest_kwargs):
        if given is not None:
            raise cli.UsageError("--resume takes the plan from the study's manifest; drop --cluster-kwargs")
        return manifest_kwargs
    if given is None:
        raise cli.UsageError("the study's manifest masks secrets in its cluster arguments; add --cluster-kwargs "
                             "with them (the same JSON or file as the first time)")
    try:
        return fill_masked(manifest_kwargs, cli.parse_cluster_kwargs(given))
    except ValueError as missing:
        raise cli.UsageError(f"--cluster-kwargs does not give {missing}, which the study's manifest masks") from None


def invocation(prog: str) -> list[str]:
    """The command that runs this study command again, as the user typed it."""
    script = os.environ.get("DASK_TIMING_STUDY_SCRIPT")
    return [script] if script and prog == os.path.basename(script) else shlex.split(prog)


def main(argv: list[str] | None, prog: str) -> int:
    return cli.guarded(lambda args: run(args, prog), prog)(argv)
