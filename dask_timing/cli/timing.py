"""The two timing tools' command line: parse, check, run once, save, exit."""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import shutil
import sys
import tempfile

from dask_timing.cli import checks
from dask_timing.cli import common as cli
from dask_timing.deploy import build_deployment
from dask_timing.deploy.base import START_METHODS, ClusterRequest, LaunchSettings, default_start_method
from dask_timing.deploy.manager import check_cluster_arguments, import_cluster_class, takes_this_environment
from dask_timing.measure.assemble import assemble_result
from dask_timing.measure.events import ProbesMeasured, RunEvent, RunObserver
from dask_timing.measure.probes import ProbeSettings
from dask_timing.measure.run import Diagnostics, Run, RunPlan
from dask_timing.measure.waterfall import WaterfallPlan
from dask_timing.record.workloads import DEFAULT_CHUNK, WORKLOADS
from dask_timing import phases
from dask_timing.phases import INTERPRETER_AND_IMPORTS
from dask_timing.present.console import RunConsole
from dask_timing.record.environment import process_age
from dask_timing.record.files import write_json, write_text
from dask_timing.record.kinds import KIND_CLUSTER, KIND_DISTRIBUTED, KIND_EXISTING, KIND_LOCAL
from dask_timing.record.schema import STATUS_INTERRUPTED, STATUS_OK, RunResult
from dask_timing.record.dask_log import diverted_stderr
from dask_timing.signals import StopSignals, run_stoppable

DESCRIPTIONS = {
    KIND_LOCAL: "Time the startup of a Dask LocalCluster (scheduler in this process, "
    "worker processes spawned by it), phase by phase.",
    KIND_DISTRIBUTED: "Time the startup of a Dask scheduler and workers as separate "
    "processes (as in a distributed deployment), phase by phase.",
}
DEFAULT_BATCH = {KIND_LOCAL: 0, KIND_DISTRIBUTED: 100}
RECORDED_OPTIONS = (
    "timeout", "output", "log_dir", "probes", "performance_report", "memory_sample", "task_stream", "waterfall",
    "label", "revision", "study_id",
)


def build_parser(kind: str, prog: str) -> argparse.ArgumentParser:
    parser = cli.OneLineParser(prog=prog, description=DESCRIPTIONS[kind])
    cli.add_common_run_options(parser, DEFAULT_BATCH[kind])
    cli.add_diagnostic_options(parser)
    cli.add_history_options(parser, "the run")
    parser.add_argument("--study-id", help=argparse.SUPPRESS)  # given by the study that launches the run
    parser.add_argument("--workload", choices=WORKLOADS,
                        help="after ready, time a workload: weak-array is a weak-scaling array reduction "
                             "with one chunk per worker")
    parser.add_argument("--workload-chunk", type=cli.positive_int, default=DEFAULT_CHUNK, metavar="N",
                        help=f"side of each worker's square chunk for --workload (default: {DEFAULT_CHUNK})")
    inside = parser.add_argument_group("inside each worker (its startup, boundary by boundary)")
    inside.add_argument("--no-waterfall", dest="waterfall", action="store_false",
                        help="do not load the stamping module into the nannies and workers: no per-worker "
                             "waterfall, stragglers or import profile")
    inside.add_argument("--import-profile", action="store_true",
                        help="profile the imports of every worker's interpreter (PYTHONPROFILEIMPORTTIME) and "
                             "record the 15 costliest packages; part of the configuration, as it slows imports")
    knobs = parser.add_argument_group("what is started (each part of the recorded configuration)")
    knobs.add_argument("--no-dashboard", dest="dashboard", action="store_false",
                       help="start the scheduler (and workers) without the dashboard")
    knobs.add_argument("--start-method", choices=START_METHODS,
                       help="how worker processes are started by the nanny (default: Dask's setting, "
                            "normally spawn)")
    if kind == KIND_LOCAL:
        knobs.add_argument("--no-processes", dest="processes", action="store_false",
                           help="workers as threads in this process instead of processes")
    else:
        knobs.add_argument("--no-nanny", dest="nanny", action="store_false",
                           help="start workers without a nanny process")
        add_cluster_options(parser)
    return parser


def add_cluster_options(parser: argparse.ArgumentParser) -> None:
    """Time a cluster this tool does not start itself, or one any cluster manager starts."""
    group = parser.add_argument_group("other clusters (instead of starting a scheduler and workers here)")
    choice = group.add_mutually_exclusive_group()
    choice.add_argument("--scheduler-address", metavar="ADDRESS",
                        help="time a running cluster: client connection, first task, batch and probes; "
                             "nothing is started or torn down")
    choice.add_argument("--scheduler-file", metavar="FILE", help="like --scheduler-address, from a scheduler file")
    choice.add_argument("--cluster-class", metavar="MODULE:CLASS",
                        help="start the cluster with any Dask cluster manager, e.g. dask_jobqueue:SLURMCluster, "
                             "then scale it to --workers")
    group.add_argument("--cluster-kwargs", metavar="JSON|FILE",
                       help="arguments of --cluster-class: a JSON object, or a YAML or JSON file")
    group.add_argument("--tls-ca-file", metavar="PEM", help="CA certificate(s) for a TLS scheduler")
    group.add_argument("--tls-cert", metavar="PEM", help="client certificate for a TLS scheduler")
    group.add_argument("--tls-key", metavar="PEM", help="client private key for a TLS scheduler")


def cluster_request(kind: str, args: argparse.Namespace, workdir: str) -> ClusterRequest:
    """The cluster the options ask for (checked already: ``check_request``)."""
    launch = LaunchSettings(threads_per_worker=args.threads, workdir=workdir, host=args.host,
                            dashboard=args.dashboard, start_method=args.start_method)
    if kind == KIND_LOCAL:
        return ClusterRequest(KIND_LOCAL, launch, processes=args.processes)
    if args.cluster_kwargs and not args.cluster_class:
        raise cli.UsageError("--cluster-kwargs goes with --cluster-class")
    if args.scheduler_address or args.scheduler_file:
        return ClusterRequest(KIND_EXISTING, launch, scheduler_address=args.scheduler_address,
                              scheduler_file=args.scheduler_file, tls_ca_file=args.tls_ca_file,
                              tls_cert=args.tls_cert, tls_key=args.tls_key)
    if args.cluster_class:
        return ClusterRequest(KIND_CLUSTER, launch, cluster_class=args.cluster_class,
                              cluster_kwargs=cli.parse_cluster_kwargs(args.cluster_kwargs))
    return ClusterRequest(KIND_DISTRIBUTED, launch, death_timeout=args.timeout, nanny=args.nanny)


def run_plan(args: argparse.Namespace, workdir: str) -> RunPlan:
    """What the options ask to measure."""
    diagnostics = Diagnostics(
        probes=ProbeSettings() if args.probes else None,
        performance_report=args.performance_report,
        memory_sample_interval=(args.memory_interval or cli.MEMORY_INTERVAL) if args.memory_sample else None,
    )
    return RunPlan(n_workers=args.workers, wait_for_workers=args.wait, batch_size=args.batch,
                   timeout=args.timeout, diagnostics=diagnostics, workload=args.workload,
                   workload_chunk=args.workload_chunk,
                   waterfall=WaterfallPlan(workdir, args.import_profile) if args.waterfall else None)


class TaskStreamFile:
    """An output step beside the console: saves the probes' raw task stream once measured."""

    def __init__(self, path: str, overwrite: bool, console: RunConsole) -> None:
        self.path = path
        self.overwrite = overwrite
        self.console = console

    def __call__(self, event: RunEvent) -> None:
        if isinstance(event, ProbesMeasured):
            write_text(self.path, json.dumps(event.task_stream, default=str), overwrite=self.overwrite)
            self.console.saved("Task stream of the probes", self.path)


def check_options_apply(args: argparse.Namespace) -> None:
    """An option given without the one it works with would be ignored without a word: refused instead."""
    for option, given, needed, what in (
            ("--task-stream", args.task_stream, args.probes, "saves the probes' task stream: add --probes"),
            ("--memory-interval", args.memory_interval is not None, args.memory_sample,
             "sets the interval of --memory-sample: add --memory-sample"),
            ("--force", args.force, args.output or args.performance_report or args.task_stream,
             "overwrites --output, --performance-report or --task-stream: add the file it is for"),
            ("--label", args.label is not None, args.output, "is recorded in the result file: add --output FILE"),
            ("--revision", args.revision is not None, args.output,
             "is recorded in the result file: add --output FILE")):
        if given and not needed:
            raise cli.UsageError(f"{option} {what}")


def check_request(kind: str, args: argparse.Namespace) -> None:
    """Everything the options ask, checked before anything starts or is created: one line, exit 2."""
    cli.check_output_files({"--output": args.output, "--performance-report": args.performance_report,
                            "--task-stream": args.task_stream}, args.force)
    cli.check_output_dir(args.log_dir, "--log-dir")
    check_options_apply(args)
    checks.check_seconds(args.timeout, "--timeout")
    if args.memory_interval is not None:
        checks.check_seconds(args.memory_interval, "--memory-interval")
        checks.check_sampling_interval(args.memory_interval, "--memory-interval")
    cli.require_dask()
    checks.check_dask_config()
    address, given_as = getattr(args, "scheduler_address", None), "--scheduler-address"
    if getattr(args, "scheduler_file", None):
        address, given_as = checks.scheduler_file_address(args.scheduler_file), f"the address in {args.scheduler_file}"
    scheme = checks.check_scheduler_address(address, given_as) if address else None
    checks.check_tls(scheme, getattr(args, "tls_ca_file", None), getattr(args, "tls_cert", None),
                     getattr(args, "tls_key", None))
    if args.db and not args.output:
        raise cli.UsageError("--db records the result file after it is written: add --output FILE")
    if getattr(args, "cluster_kwargs", None) and not args.cluster_class:
        raise cli.UsageError("--cluster-kwargs goes with --cluster-class")
    check_knobs_apply(args, address)
    if address is None:
        checks.check_host(args.host)
    if getattr(args, "cluster_class", None):
        try:
            check_cluster_arguments(args.cluster_class, cli.parse_cluster_kwargs(args.cluster_kwargs))
        except ValueError as error:
            raise cli.UsageError(f"--cluster-class: {error}") from None
        checks.check_remote_workers(args.workers)
    elif address is None:
        checks.check_local_workers(args.workers, processes=getattr(args, "processes", True))
        checks.check_threads(args.workers, args.threads, remote=False)
    checks.check_batch(args.batch)
    if args.workload:
        checks.check_chunk(args.workers, args.workload_chunk)
    if args.import_profile:
        check_import_profile(kind, args, address)
    if address:  # last: every option is checked before the network is asked
        checks.check_scheduler_listens(address, scheme, given_as)


def check_knobs_apply(args: argparse.Namespace, address: str | None) -> None:
    """Options that set up what this tool starts are refused where they would be silently ignored: a running
    cluster is timed as it is, and a cluster manager's workers are what its own arguments say."""
    cluster_class = getattr(args, "cluster_class", None)
    if address is None and cluster_class is None:
        return
    given = [option for option, set_up in (
        (f"--threads {args.threads}", args.threads != 1), ("--no-nanny", not getattr(args, "nanny", True)),
        ("--no-dashboard", not args.dashboard),
        (f"--start-method {args.start_method}", address is not None and args.start_method is not None),
        (f"--host {args.host}", address is not None and args.host != cli.DEFAULT_HOST),
    ) if set_up]
    if given and address is not None:
        raise cli.UsageError(f"{given[0]} sets up workers this tool starts; the running cluster at {address} is "
                             f"timed as it is: drop {given[0].split()[0]}")
    if given:
        raise cli.UsageError(f"{given[0]} is not passed to {cluster_class}: give its own argument in --cluster-kwargs "
                             "(e.g. {\"threads_per_worker\": 2}, {\"dashboard_address\": null})")


def check_import_profile(kind: str, args: argparse.Namespace, address: str | None) -> None:
    """--import-profile where this run's workers cannot take it: refused in one line, before anything starts."""
    refusal = import_profile_refusal(
        kind, waterfall=args.waterfall, address=address, processes=getattr(args, "processes", True),
        start_method=args.start_method, cluster_class=getattr(args, "cluster_class", None),
        nanny=getattr(args, "nanny", True), verbose=args.verbose)
    if refusal:
        raise cli.UsageError(refusal)


def import_profile_refusal(kind: str, *, waterfall: bool = True, address: str | None = None, processes: bool = True,
                           start_method: str | None = None, cluster_class: str | None = None, nanny: bool = True,
                           verbose: bool = False) -> str | None:
    """Why --import-profile cannot work for such a run, or None: it needs worker processes the run starts
    with a new interpreter, and their standard error in a file of the run."""
    with_nanny = kind == KIND_LOCAL or cluster_class is not None or nanny
    if not waterfall:
        return "--import-profile works through the stamping module that --no-waterfall leaves out"
    if address is not None:
        return ("--import-profile needs workers this run starts: a running cluster's workers were "
                "started without it")
    if not processes:
        return "--import-profile: thread workers (--no-processes) start no interpreter of their own"
    if with_nanny and (start_method or default_start_method()) == "fork":
        return ("--import-profile with the fork start method: forked workers inherit the nanny's "
                "interpreter and imports; use --start-method spawn or forkserver")
    if cluster_class and not takes_this_environment(import_cluster_class(cluster_class)):
        return (f"--import-profile: the workers of {cluster_class} do not start with this process's "
                "environment (LocalCluster, SubprocessCluster and dask-jobqueue's clusters do)")
    jobs = cluster_class is not None and hasattr(import_cluster_class(cluster_class), "job_cls")
    if verbose and (kind == KIND_LOCAL or (cluster_class and not jobs)):  # their workers write to our stderr
        return ("--import-profile reads the workers' import times from the run's dask.log, and "
                "--verbose sends them to the terminal instead: drop --verbose")
    return None


def failure_text(result: RunResult) -> str:
    """How a failed run is told: the error, with a process's log tail only if it failed while starting.

    Once the cluster was ready, the tail of a log is the ordinary chatter before
    the failure: the first line says what happened, the logs keep the rest.
    """
    error = result.error or ""
    reached_ready = phases.FIRST_TASK.key in result.phases
    return error.splitlines()[0] if reached_ready and error else error


def save_result(result: RunResult, path: str, overwrite: bool, workdir: str, prog: str) -> bool:
    """Write the result; if that fails after all, keep it in the work folder and say where."""
    try:
        write_json(path, result.to_json(), overwrite=overwrite)
        return True
    except OSError as error:
        rescued = os.path.join(workdir, os.path.basename(path) or "result.json")
        write_json(rescued, result.to_json(), overwrite=True)
        print(f"{prog}: error: cannot write {path} ({error.strerror or error}); the result is in {rescued}",
              file=sys.stderr)
        return False


def run_tool(kind: str, argv: list[str] | None, prog: str) -> int:
    args = build_parser(kind, prog).parse_args(argv)
    check_request(kind, args)
    recorder = None
    if args.db:  # imported only then: a run's own imports stay what they measure; a bad database: exit 2 now
        from dask_timing.history.recording import Recorder

        recorder = Recorder.opened(args.db, prog)
    interpreter_and_imports, start_resolution = process_age()
    keep_logs = args.log_dir is not None
    if keep_logs:
        os.makedirs(args.log_dir, exist_ok=True)
    # absolute: the started processes run in it, and find the scheduler file by this path
    workdir = os.path.abspath(args.log_dir) if keep_logs else tempfile.mkdtemp(prefix="dask-timing-")
    deployment = build_deployment(cluster_request(kind, args, workdir))
    plan = run_plan(args, workdir)
    options = {**cli.options_of(args, RECORDED_OPTIONS), "warmup": args.warmup_run,
               "process_start_resolution": start_resolution}
    console = RunConsole()
    observers: list[RunObserver] = [console]
    if args.task_stream:
        observers.append(TaskStreamFile(args.task_stream, args.force, console))
    run = Run(deployment, plan, observers)
    stop = StopSignals(lambda _signum: run.stop())

    async def timed_run() -> RunResult:
        measured = await run.execute()
        result = assemble_result(measured, deployment, plan, options,
                                 before_start={INTERPRETER_AND_IMPORTS: interpreter_and_imports})
        console.summary(result)
        console.worker_startups(result)
        return result

    with contextlib.nullcontext() if args.verbose else diverted_stderr(workdir):
        result = run_stoppable(timed_run, stop)
        if result.status != STATUS_OK:
            # What Dask left to the garbage collector (a client the teardown abandoned, say) says so now,
            # into the log, rather than on the terminal at exit.
            run = None
            gc.collect()
    if stop.received is not None and result.status == STATUS_OK:
        result.status, result.error = STATUS_INTERRUPTED, "interrupted during teardown"
    saved = True
    if args.output:
        saved = save_result(result, args.output, args.force, workdir, prog)
        if saved:
            console.line()
            console.saved("Results", args.output)
        if saved and recorder is not None:
            recorder.record_file(args.output)
    if recorder is not None:
        recorder.close()
    has_logs = any(name.endswith(".log") and os.path.getsize(os.path.join(workdir, name))
                   for name in os.listdir(workdir))
    if result.status != STATUS_OK:
        print(f"{prog}: run {result.status}: {failure_text(result)}", file=sys.stderr)
        if has_logs:
            print(f"{prog}: logs (Dask's and every process's) kept in {workdir}", file=sys.stderr)
    if not keep_logs and saved and not (has_logs and result.status != STATUS_OK):
        shutil.rmtree(workdir, ignore_errors=True)
    if stop.exit_code is not None:
        return stop.exit_code
    return cli.EXIT_OK if result.status == STATUS_OK and saved else cli.EXIT_FAILED


def main_local(argv: list[str] | None, prog: str) -> int:
    return cli.guarded(lambda args: run_tool(KIND_LOCAL, args, prog), prog)(argv)


def main_distributed(argv: list[str] | None, prog: str) -> int:
    return cli.guarded(lambda args: run_tool(KIND_DISTRIBUTED, args, prog), prog)(argv)
