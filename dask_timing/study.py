"""A timing study: runs of one or more configurations, each run in a fresh process.

``run_timing_study.sh`` is a thin shell entry point to this module.  Every
option is checked before the first run.  Lists on any axis (``--workers
1,2,4``) make a sweep; runs are interleaved (every configuration once, then
again) so drift on a shared machine spreads evenly.  A failed run is counted
and the study goes on; files are never overwritten (each study has its own id
in every file name); the plan is kept in a manifest so ``--resume`` can finish
an interrupted study; the statistics are saved beside the results.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from . import cli
from .analysis import group_results, load
from .analyze_tool import present
from .deploy import START_METHODS, check_cluster_arguments
from .environment import utc_timestamp
from .processes import ManagedProcess, terminate
from .report import write_comparison
from .result import (
    KIND_DISTRIBUTED, KIND_LOCAL, SCHEMA_VERSION, STUDY_DOCUMENT, STATUS_INTERRUPTED, ResultFileError,
    load_result, unused_path, write_json,
)
from .timing_tool import cluster_kwargs
from .workloads import DEFAULT_CHUNK, WORKLOADS

PROG = "run_timing_study.sh"
REPOSITORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TYPE_SLURM = "slurm"  # dask-jobqueue's SLURMCluster on the Slurm this machine submits to
TYPE_CLUSTER = "cluster"  # any cluster manager given with --cluster-class
MANAGED_TYPES = (TYPE_SLURM, TYPE_CLUSTER)
STUDY_TYPES = (KIND_LOCAL, KIND_DISTRIBUTED, *MANAGED_TYPES)
SCRIPTS = {
    KIND_LOCAL: os.path.join(REPOSITORY, "time_local_cluster.py"),
    KIND_DISTRIBUTED: os.path.join(REPOSITORY, "time_scheduler_workers.py"),
    TYPE_SLURM: os.path.join(REPOSITORY, "time_scheduler_workers.py"),
    TYPE_CLUSTER: os.path.join(REPOSITORY, "time_scheduler_workers.py"),
}
SLURM_CLASS = "dask_jobqueue:SLURMCluster"
# One single-process worker per job, with --threads cores; the job runs this interpreter.
SLURM_DEFAULTS = {"processes": 1, "memory": "1GB", "walltime": "00:30:00"}
# A run that outlives this many times its wait bound (plus a margin) is stopped.
RUN_DEADLINE_FACTOR = 6
RUN_DEADLINE_MARGIN = 60.0
# Seconds a stopped run gets to tear its cluster down before it is killed.
RUN_STOP_GRACE = 20.0
ON_OFF = {"on": True, "off": False}


@dataclass(frozen=True)
class Configuration:
    """One point of the sweep: the settings passed to the timing tool."""

    workers: int
    threads: int
    start_method: str | None
    dashboard: str
    isolation: str | None  # nanny on/off (distributed) or processes on/off (local)

    def arguments(self, kind: str) -> list[str]:
        arguments = ["--workers", str(self.workers)]
        if kind in MANAGED_TYPES:  # threads and the rest come from the cluster's own arguments
            return arguments
        arguments += ["--threads", str(self.threads)]
        if self.start_method:
            arguments += ["--start-method", self.start_method]
        if self.dashboard == "off":
            arguments.append("--no-dashboard")
        if self.isolation == "off":
            arguments.append("--no-nanny" if kind == KIND_DISTRIBUTED else "--no-processes")
        return arguments

    def stem(self, kind: str) -> str:
        """File-name part: type, workers, threads and whichever knobs are set."""
        parts = [kind, f"w{self.workers}", f"t{self.threads}"]
        if self.start_method:
            parts.append(self.start_method)
        if self.dashboard == "off":
            parts.append("nodash")
        if self.isolation == "off":
            parts.append("nonanny" if kind == KIND_DISTRIBUTED else "threads")
        return "_".join(parts)


def build_parser() -> cli.OneLineParser:
    parser = cli.OneLineParser(
        prog=PROG,
        description="Run a Dask timing study: RUNS runs of each configuration, each in a fresh "
        "process, interleaved, then statistics per configuration saved beside the results. "
        "Comma-separated lists on any axis make a sweep.",
        epilog="examples:\n"
        f"  {PROG} --type local --workers 4\n"
        f"  {PROG} --type distributed --workers 8 --threads 2\n"
        f"  {PROG} --type local --runs 5 --output-dir results_dir --plot\n"
        f"  {PROG} --type local --workers 1,2,4 --start-method spawn,fork --runs 5 --warmup 1\n"
        f"  {PROG} --output-dir results_dir --resume latest",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-t", "--type", choices=STUDY_TYPES,
                        help="local: LocalCluster; distributed: separate scheduler and worker processes; "
                             "slurm: dask-jobqueue's SLURMCluster, one job per worker; cluster: any cluster "
                             "manager given with --cluster-class (default: local)")
    parser.add_argument("--cluster-class", metavar="MODULE:CLASS",
                        help="with --type cluster: the cluster manager, e.g. distributed:LocalCluster")
    parser.add_argument("--cluster-kwargs", metavar="JSON|FILE",
                        help="with --type slurm or cluster: the cluster's arguments (for slurm, added to "
                             f"{json.dumps(SLURM_DEFAULTS)} with cores = --threads)")
    parser.add_argument("-w", "--workers", type=cli.comma_list(cli.positive_int), metavar="NUM[,NUM...]",
                        help="number(s) of workers (default: 4)")
    parser.add_argument("-T", "--threads", type=cli.comma_list(cli.positive_int), metavar="NUM[,NUM...]",
                        help="threads per worker (default: 1)")
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
    parser.add_argument("-o", "--output-dir", default="timing_results", metavar="DIR",
                        help="folder for results, logs and the summary (default: timing_results)")
    parser.add_argument("-r", "--runs", type=cli.positive_int, metavar="NUM",
                        help="runs of each configuration (default: 1)")
    parser.add_argument("--warmup", type=cli.non_negative_int, metavar="NUM",
                        help="extra runs of each configuration first, saved but marked warmup and left "
                             "out of statistics (default: 0)")
    parser.add_argument("--timeout", type=cli.positive_seconds, metavar="SECONDS",
                        help=f"bound on every wait inside a run (default: {cli.DEFAULT_TIMEOUT:g})")
    parser.add_argument("--plot", action="store_true",
                        help="also draw the plots into DIR")
    parser.add_argument("--resume", nargs="?", const="latest", metavar="STUDY_ID",
                        help="finish an interrupted study in DIR (default: the latest) without redoing "
                             "finished runs; the plan comes from the study's manifest")
    return parser


PLAN_OPTIONS = ("type", "workers", "threads", "start_method", "dashboard", "nanny", "processes", "workload",
                "workload_chunk", "runs", "warmup", "timeout", "cluster_class", "cluster_kwargs")
KNOBS = ("start_method", "dashboard", "nanny", "processes")
DEFAULTS = {"type": KIND_LOCAL, "workers": [4], "threads": [1], "runs": 1, "warmup": 0,
            "timeout": cli.DEFAULT_TIMEOUT, "workload_chunk": DEFAULT_CHUNK}


@dataclass
class Plan:
    """Everything that defines a study; saved in its manifest."""

    study_id: str
    kind: str
    configurations: list[Configuration]
    runs: int
    warmup: int
    timeout: float
    workload: str | None
    workload_chunk: int
    cluster_class: str | None = None
    cluster_kwargs: dict[str, Any] | None = None

    @classmethod
    def from_arguments(cls, args: argparse.Namespace) -> "Plan":
        values = {name: getattr(args, name) for name in PLAN_OPTIONS}
        values.update({name: DEFAULTS[name] for name in DEFAULTS if values[name] is None})
        kind = values["type"]
        cluster_class, arguments = managed_cluster(kind, values)
        if kind == KIND_LOCAL and values["nanny"]:
            raise cli.UsageError("--nanny is for --type distributed; for local use --processes")
        if kind == KIND_DISTRIBUTED and values["processes"]:
            raise cli.UsageError("--processes is for --type local; for distributed use --nanny")
        isolation = values["nanny"] or values["processes"] or [None]
        configurations = [
            Configuration(*point)
            for point in itertools.product(
                values["workers"], values["threads"], values["start_method"] or [None],
                values["dashboard"] or ["on"], isolation,
            )
        ]
        study_id = datetime.now().strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
        return cls(study_id, kind, configurations, values["runs"], values["warmup"], values["timeout"],
                   values["workload"], values["workload_chunk"], cluster_class, arguments)

    def to_json(self) -> dict[str, Any]:
        return {
            "document": STUDY_DOCUMENT,
            "schema_version": SCHEMA_VERSION,
            "study_id": self.study_id,
            "created": utc_timestamp(),
            "kind": self.kind,
            "configurations": [configuration.__dict__ for configuration in self.configurations],
            "runs": self.runs,
            "warmup": self.warmup,
            "timeout": self.timeout,
            "workload": self.workload,
            "workload_chunk": self.workload_chunk,
            "cluster_class": self.cluster_class,
            "cluster_kwargs": self.cluster_kwargs,
        }

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> "Plan":
        return cls(
            document["study_id"], document["kind"],
            [Configuration(**configuration) for configuration in document["configurations"]],
            document["runs"], document["warmup"], document["timeout"], document["workload"],
            document["workload_chunk"], document.get("cluster_class"), document.get("cluster_kwargs"),
        )

    def schedule(self) -> list[tuple[Configuration, int, bool]]:
        """(configuration, run number, warmup?) in the order to run: warmups, then rounds."""
        order = [(configuration, run, True) for run in range(1, self.warmup + 1) for configuration in self.configurations]
        order += [(configuration, run, False) for run in range(1, self.runs + 1) for configuration in self.configurations]
        return order


def managed_cluster(kind: str, values: dict[str, Any]) -> tuple[str | None, dict[str, Any] | None]:
    """The cluster class and arguments of a slurm or cluster study; usage errors for misfits."""
    if kind not in MANAGED_TYPES:
        if values["cluster_class"] or values["cluster_kwargs"]:
            raise cli.UsageError("--cluster-class and --cluster-kwargs go with --type slurm or --type cluster")
        return None, None
    knobs = [name for name in KNOBS if values[name]]
    if knobs:
        raise cli.UsageError(f"--{knobs[0].replace('_', '-')} is not for --type {kind}: "
                             "set it in the cluster's own arguments (--cluster-kwargs)")
    arguments = cluster_kwargs(values["cluster_kwargs"])
    if kind == TYPE_SLURM:
        if values["cluster_class"]:
            raise cli.UsageError("--type slurm uses dask_jobqueue:SLURMCluster; for another class use --type cluster")
        arguments = {**SLURM_DEFAULTS, "python": sys.executable, **arguments}
        cluster_class = SLURM_CLASS
    else:
        if not values["cluster_class"]:
            raise cli.UsageError("--type cluster needs --cluster-class MODULE:CLASS")
        cluster_class = values["cluster_class"]
    try:
        check_cluster_arguments(cluster_class, arguments)
    except ValueError as error:
        raise cli.UsageError(f"--cluster-class: {error}") from None
    return cluster_class, arguments


def manifest_path(folder: str, study_id: str) -> str:
    return os.path.join(folder, f"study_{study_id}.json")


def find_manifest(folder: str, study_id: str) -> str:
    """The manifest of ``study_id`` in ``folder`` ('latest': the newest one)."""
    if study_id != "latest":
        path = manifest_path(folder, study_id)
        if not os.path.exists(path):
            raise cli.UsageError(f"no study {study_id} in {folder} (no {os.path.basename(path)})")
        return path
    manifests = sorted(name for name in os.listdir(folder) if name.startswith("study_") and name.endswith(".json"))
    if not manifests:
        raise cli.UsageError(f"no study to resume in {folder}: no study_*.json manifest")
    return os.path.join(folder, manifests[-1])


class Study:
    """Runs the schedule, one fresh process per run."""

    def __init__(self, plan: Plan, output_dir: str, plot: bool) -> None:
        self.plan = plan
        self.output_dir = output_dir
        self.plot = plot
        self.log_dir = os.path.join(output_dir, "logs")
        self.written: list[str] = []
        self.failed: list[str] = []
        self.stop_signal: int | None = None
        self.current: ManagedProcess | None = None

    def result_path(self, configuration: Configuration, run: int, warmup: bool) -> str:
        name = f"{configuration.stem(self.plan.kind)}_{'warmup' if warmup else 'run'}{run:03d}_{self.plan.study_id}.json"
        return os.path.join(self.output_dir, name)

    def command(self, configuration: Configuration, output: str, warmup: bool) -> list[str]:
        plan = self.plan
        command = [sys.executable, SCRIPTS[plan.kind], *configuration.arguments(plan.kind),
                   "--timeout", str(plan.timeout), "--output", output]
        if plan.workload:
            command += ["--workload", plan.workload, "--workload-chunk", str(plan.workload_chunk)]
        if plan.cluster_class:
            arguments = dict(plan.cluster_kwargs or {})
            if plan.kind == TYPE_SLURM:
                arguments.setdefault("cores", configuration.threads)
                arguments.setdefault("log_directory", os.path.abspath(os.path.join(self.log_dir, "slurm")))
            command += ["--cluster-class", plan.cluster_class, "--cluster-kwargs", json.dumps(arguments)]
        if warmup:
            command.append("--warmup-run")
        return command

    def on_signal(self, signum: int, _frame) -> None:
        """Stop the study: pass the signal on so the current run tears down, then stop."""
        if self.stop_signal is not None:
            return
        self.stop_signal = signum
        print(f"\n{PROG}: received {signal.Signals(signum).name}; stopping after the current run tears down",
              file=sys.stderr, flush=True)
        self._pass_on_signal()

    def _pass_on_signal(self) -> None:
        """Send the stop signal to the current run, if one has started and not ended."""
        run = self.current
        if self.stop_signal is not None and run is not None and run.pid is not None and run.exit_code() is None:
            os.kill(run.pid, self.stop_signal)

    def is_finished(self, output: str) -> bool:
        """A finished run has a result that is not 'interrupted'; an interrupted one is set aside."""
        if not os.path.exists(output):
            return False
        try:
            if load_result(output).status != STATUS_INTERRUPTED:
                self.written.append(output)
                return True
        except ResultFileError:
            pass
        os.replace(output, output + ".interrupted")  # kept, but out of the *.json globs
        return False

    def run_one(self, configuration: Configuration, run: int, warmup: bool) -> float:
        output = self.result_path(configuration, run, warmup)
        stem = os.path.splitext(os.path.basename(output))[0]
        self.current = ManagedProcess(stem, self.command(configuration, output, warmup),
                                      os.path.join(self.log_dir, f"{stem}.log"))
        started = time.monotonic()
        self.current.start()
        self._pass_on_signal()  # a signal that came while the run was being launched
        try:
            code = self.current.popen.wait(timeout=self.plan.timeout * RUN_DEADLINE_FACTOR + RUN_DEADLINE_MARGIN)
        except subprocess.TimeoutExpired:  # hung past every bound: stop it and all it started
            terminate([self.current], grace=RUN_STOP_GRACE)
            code = None
        seconds = time.monotonic() - started
        if os.path.exists(output):
            self.written.append(output)
        self._report(output, code, seconds)
        return seconds

    def _report(self, output: str, code: int | None, seconds: float) -> None:
        total = None
        if os.path.exists(output):
            try:
                total = load_result(output).total_time
            except ResultFileError:
                total = None
        if code == 0 and total is not None:
            print(f"  ✓ total time to ready {total:.4f} seconds (run took {seconds:.1f} s)", flush=True)
            return
        self.failed.append(self.current.name)
        why = "stopped: exceeded its deadline" if code is None else f"exit code {code}"
        print(f"  ✗ {self.current.name} failed ({why}); log: {self.current.log_path}", flush=True)
        tail = self.current.log_tail(6)
        if tail:
            print("    " + tail.replace("\n", "\n    "), flush=True)

    def execute(self) -> int:
        plan = self.plan
        os.makedirs(self.log_dir, exist_ok=True)
        self._print_header()
        schedule = plan.schedule()
        pending = [entry for entry in schedule if not self.is_finished(self.result_path(*entry))]
        if len(pending) < len(schedule):
            print(f"Resuming: {len(schedule) - len(pending)} of {len(schedule)} run(s) already done", flush=True)
        began = time.monotonic()
        durations: list[float] = []
        for index, (configuration, run, warmup) in enumerate(pending, start=1):
            if self.stop_signal is not None:
                break
            elapsed = time.monotonic() - began
            left = f", about {sum(durations) / len(durations) * (len(pending) - index + 1):.0f} s left" if durations else ""
            what = f"warmup {run} of {plan.warmup}" if warmup else f"run {run} of {plan.runs}"
            print(f"\n=== {index}/{len(pending)}: {configuration.stem(plan.kind)}, {what} "
                  f"(elapsed {elapsed:.1f} s{left}) ===", flush=True)
            durations.append(self.run_one(configuration, run, warmup))
        self.current = None
        print(f"\nStudy {plan.study_id}: {len(self.written)} result file(s) in {self.output_dir}, "
              f"{len(self.failed)} failed run(s), {time.monotonic() - began:.1f} s in all")
        self._summarise()
        if self.stop_signal is not None:
            print(f"{PROG}: stopped; finish it with: {PROG} --output-dir {self.output_dir} --resume {plan.study_id}",
                  file=sys.stderr)
            return cli.signal_exit_code(self.stop_signal)
        if self.failed:
            print(f"{PROG}: {len(self.failed)} of {len(pending)} run(s) failed: {', '.join(self.failed)}",
                  file=sys.stderr)
            return cli.EXIT_FAILED
        return cli.EXIT_OK

    def _print_header(self) -> None:
        plan = self.plan
        print("=" * 64)
        print("Dask Timing Study Runner")
        print("=" * 64)
        print(f"Study type: {plan.kind}")
        print(f"Workers: {', '.join(str(w) for w in dict.fromkeys(c.workers for c in plan.configurations))}")
        print(f"Threads per worker: {', '.join(str(t) for t in dict.fromkeys(c.threads for c in plan.configurations))}")
        print(f"Configurations: {len(plan.configurations)}")
        print(f"Number of runs: {plan.runs} of each" + (f" (after {plan.warmup} warmup run(s))" if plan.warmup else ""))
        print(f"Output directory: {self.output_dir}")
        print(f"Study id: {plan.study_id}")
        print("=" * 64, flush=True)

    def _summarise(self) -> None:
        if not self.written:
            return
        loaded = load(self.written)
        groups = group_results(loaded.results)
        # A resumed study summarises again, beside (never over) the earlier summary.
        summary = unused_path(self.output_dir, f"summary_{self.plan.study_id}", ".json")
        print()
        present(groups, len(loaded.results), compare=False, plot_dir=self.output_dir if self.plot else None,
                summary_path=summary, plot_tag=self.plan.study_id)
        if len(groups) > 1:
            write_comparison(groups, print)


def check_output_dir(path: str) -> None:
    if os.path.exists(path) and not os.path.isdir(path):
        raise cli.UsageError(f"--output-dir {path} is a file; give a folder")
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as error:
        raise cli.UsageError(f"cannot create --output-dir {path}: {error.strerror}") from None
    if not os.access(path, os.W_OK):
        raise cli.UsageError(f"cannot write to --output-dir {path}")


def run(argv: list[str] | None) -> int:
    args = build_parser().parse_args(argv)
    if args.resume:
        given = [name for name in PLAN_OPTIONS if getattr(args, name) is not None]
        if given:
            raise cli.UsageError(f"--resume takes the plan from the study's manifest; drop --{given[0].replace('_', '-')}")
        if not os.path.isdir(args.output_dir):
            raise cli.UsageError(f"no folder {args.output_dir} to resume a study in")
        path = find_manifest(args.output_dir, args.resume)
        try:
            plan = Plan.from_json(load_json(path))
        except (KeyError, TypeError, ValueError) as error:
            raise cli.UsageError(f"{path} is not a readable study manifest ({error})") from None
    else:
        plan = Plan.from_arguments(args)
    cli.require_dask()
    check_output_dir(args.output_dir)
    if not args.resume:
        write_json(manifest_path(args.output_dir, plan.study_id), plan.to_json())
    study = Study(plan, args.output_dir, args.plot)
    for signum in cli.HANDLED_SIGNALS:
        signal.signal(signum, study.on_signal)
    return study.execute()


def load_json(path: str) -> dict:
    with open(path, encoding="utf-8") as stream:
        return json.load(stream)


def main(argv: list[str] | None = None) -> int:
    return cli.guarded(run, prog=PROG)(argv)


if __name__ == "__main__":
    sys.exit(main())
