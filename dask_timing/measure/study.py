"""A timing study: runs of one or more configurations, each run in a fresh process.

The command line (``cli.study``, ``run_timing_study.sh``) checks every option
before the first run.  Lists on any axis (``--workers 1,2,4``, ``--type
local,distributed``) make a sweep; so do environments (``--python NAME=PATH``,
``--dask-versions``: ``measure.environments``), each run started with its
environment's interpreter.  Runs are interleaved (every configuration once,
then again; a setting's environments one after the other) so drift on a shared
machine spreads evenly, and with two environments or more the study ends with
their comparison, the reference being the first: the comparison to trust,
since both sides ran under the same conditions.  A failed run is counted and
the study goes on; files are never overwritten (each study has its own id in
every file name); the plan is kept in a manifest so ``--resume`` can finish an
interrupted study; the statistics are saved beside the results.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from dask_timing.defaults import DEFAULT_TIMEOUT
from dask_timing.analysis.groups import group_results
from dask_timing.analysis.load import load
from dask_timing.analysis.gate import Gate
from dask_timing.analysis.verdicts import pair_environments
from dask_timing.deploy.managed import ManagedProcess, terminate
from dask_timing.deploy.manager import check_cluster_arguments
from dask_timing.history.recording import Recorder
from dask_timing.errors import EXIT_FAILED, EXIT_OK, UsageError, signal_exit_code
from dask_timing.measure.environments import PACKAGE_DIR, RUN_MODULES, Environment, environments_of, package_path
from dask_timing.measure.workloads import DEFAULT_CHUNK
from dask_timing.present.analysis import CONCISE, judge, present, present_end
from dask_timing.record.environment import ENVIRONMENT_NAME_VARIABLE, utc_timestamp
from dask_timing.record.files import unused_path
from dask_timing.record.load import ResultFileError, load_result
from dask_timing.record.kinds import KIND_DISTRIBUTED, KIND_LOCAL
from dask_timing.record.schema import SCHEMA_VERSION, STATUS_INTERRUPTED, STUDY_DOCUMENT, new_study_id
from dask_timing.record.secrets import mask_secrets

TYPE_SLURM = "slurm"  # dask-jobqueue's SLURMCluster on the Slurm this machine submits to
TYPE_CLUSTER = "cluster"  # any cluster manager given with --cluster-class
MANAGED_TYPES = (TYPE_SLURM, TYPE_CLUSTER)
STUDY_TYPES = (KIND_LOCAL, KIND_DISTRIBUTED, *MANAGED_TYPES)
# The command that times one run of each study type: ``python -m dask_timing COMMAND``.
RUN_COMMANDS = {KIND_LOCAL: "local", KIND_DISTRIBUTED: "processes", TYPE_SLURM: "processes", TYPE_CLUSTER: "processes"}
# Where the package lives, so the study's own interpreter's runs find it whether it is installed or in a clone.
PACKAGE_PARENT = os.path.dirname(PACKAGE_DIR)
SLURM_CLASS = "dask_jobqueue:SLURMCluster"
# One single-process worker per job, with --threads cores; the job runs the run's interpreter.
SLURM_DEFAULTS = {"processes": 1, "memory": "1GB", "walltime": "00:30:00"}
# A run that outlives this many times its wait bound (plus a margin) is stopped.
RUN_DEADLINE_FACTOR = 6
RUN_DEADLINE_MARGIN = 60.0
# Seconds a stopped run gets to tear its cluster down before it is killed.
RUN_STOP_GRACE = 20.0
ON_OFF = {"on": True, "off": False}


@dataclass(frozen=True)
class Configuration:
    """One point of the sweep: the study type, the settings passed to the timing tool, and the environment."""

    kind: str
    workers: int
    threads: int
    start_method: str | None
    dashboard: str
    isolation: str | None  # nanny on/off (distributed) or processes on/off (local)
    environment: str | None = None  # the environment's name; None: the study's own interpreter

    def that_differs(self) -> "Configuration":
        """This configuration without a knob that does nothing here: no worker process is started
        by a nanny (thread workers, or workers without a nanny), so the start method is moot."""
        if self.isolation == "off" and self.start_method is not None:
            return dataclasses.replace(self, start_method=None)
        return self

    def arguments(self) -> list[str]:
        arguments = ["--workers", str(self.workers)]
        if self.kind in MANAGED_TYPES:  # threads and the rest come from the cluster's own arguments
            return arguments
        arguments += ["--threads", str(self.threads)]
        if self.start_method:
            arguments += ["--start-method", self.start_method]
        if self.dashboard == "off":
            arguments.append("--no-dashboard")
        if self.isolation == "off":
            arguments.append("--no-nanny" if self.kind == KIND_DISTRIBUTED else "--no-processes")
        return arguments

    def stem(self) -> str:
        """File-name part: type, workers, threads, whichever knobs are set, and the environment."""
        parts = [self.kind, f"w{self.workers}", f"t{self.threads}"]
        if self.start_method:
            parts.append(self.start_method)
        if self.dashboard == "off":
            parts.append("nodash")
        if self.isolation == "off":
            parts.append("nonanny" if self.kind == KIND_DISTRIBUTED else "threads")
        if self.environment:
            parts.append(self.environment)
        return "_".join(parts)


# The options that make a plan (None: the default below).
PLAN_OPTIONS = ("type", "workers", "threads", "start_method", "dashboard", "nanny", "processes", "workload",
                "workload_chunk", "runs", "warmup", "timeout", "cluster_class", "cluster_kwargs", "python",
                "dask_versions")
KNOBS = ("start_method", "dashboard", "nanny", "processes")
# 5 runs: the fewest with which a comparison of two configurations can be significant at p < 0.01
# (Mann-Whitney's smallest p with 5 against 5 is 2 / C(10, 5) = 0.008); one run gives no spread at all.
DEFAULT_RUNS = 5
DEFAULTS = {"type": [KIND_LOCAL], "workers": [4], "threads": [1], "runs": DEFAULT_RUNS, "warmup": 0,
            "timeout": DEFAULT_TIMEOUT, "workload_chunk": DEFAULT_CHUNK, "python": [], "dask_versions": []}


@dataclass
class Plan:
    """Everything that defines a study; saved in its manifest."""

    study_id: str
    kinds: list[str]
    configurations: list[Configuration]
    runs: int
    warmup: int
    timeout: float
    workload: str | None
    workload_chunk: int
    cluster_class: str | None = None  # of --type cluster (slurm's is SLURM_CLASS)
    cluster_kwargs: dict[str, Any] | None = None  # as given; slurm's defaults are added per run
    environments: list[Environment] = field(default_factory=list)
    # --db (its URL, the password masked), --label and --revision: a resumed study records as it began
    recording: dict[str, str | None] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # what the sweep left out and why; not in the manifest

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> "Plan":
        """A new study's plan from the options given (None: the default); UsageError for misfits."""
        values = dict(options)
        values.update({name: DEFAULTS[name] for name in DEFAULTS if values[name] is None})
        kinds = values["type"]
        check_knobs(kinds, values)
        cluster_class, cluster_kwargs = managed_cluster(kinds, values)
        environments = environments_of(values["python"], values["dask_versions"])
        names = [environment.name for environment in environments] or [None]
        swept = [
            Configuration(kind, *point, name)
            for kind in kinds
            for point in itertools.product(values["workers"], values["threads"], *knob_values(kind, values))
            for name in names  # innermost: each setting's environments run one after the other
        ]
        configurations = list(dict.fromkeys(map(Configuration.that_differs, swept)))
        plan = cls(new_study_id(), kinds, configurations, values["runs"], values["warmup"], values["timeout"],
                   values["workload"], values["workload_chunk"], cluster_class, cluster_kwargs, environments)
        if len(configurations) < len(swept):
            plan.notes.append(f"{len(swept) - len(configurations)} combination(s) left out: they cannot differ from "
                              "one kept (a start method does not apply to thread workers, --processes off, or to "
                              "workers without a nanny, --nanny off)")
        return plan

    def to_json(self) -> dict[str, Any]:
        return {
            "document": STUDY_DOCUMENT,
            "schema_version": SCHEMA_VERSION,
            "study_id": self.study_id,
            "created": utc_timestamp(),
            "types": self.kinds,
            "configurations": [configuration.__dict__ for configuration in self.configurations],
            "environments": [environment.to_json() for environment in self.environments],
            "runs": self.runs,
            "warmup": self.warmup,
            "timeout": self.timeout,
            "workload": self.workload,
            "workload_chunk": self.workload_chunk,
            "cluster_class": self.cluster_class,
            # results are meant to be shared, and so is the folder they are in: no secrets
            "cluster_kwargs": mask_secrets(self.cluster_kwargs),
            "recording": mask_secrets(self.recording),
        }

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> "Plan":
        kinds = document.get("types") or [document["kind"]]  # a manifest of one type had "kind"
        return cls(
            document["study_id"], kinds,
            [Configuration(**{"kind": kinds[0], **configuration}) for configuration in document["configurations"]],
            document["runs"], document["warmup"], document["timeout"], document["workload"],
            document["workload_chunk"], document.get("cluster_class"), document.get("cluster_kwargs"),
            [Environment.from_json(environment) for environment in document.get("environments", [])],
            dict(document.get("recording") or {}),
        )

    def schedule(self) -> list[tuple[Configuration, int, bool]]:
        """(configuration, run number, warmup?) in the order to run: warmups, then rounds."""
        order = [(configuration, run, True) for run in range(1, self.warmup + 1) for configuration in self.configurations]
        order += [(configuration, run, False) for run in range(1, self.runs + 1) for configuration in self.configurations]
        return order

    def environment(self, name: str | None) -> Environment | None:
        return next((environment for environment in self.environments if environment.name == name), None)

    def cluster(self, kind: str, python: str) -> tuple[str, dict[str, Any]]:
        """The cluster class and arguments of a managed type's runs under interpreter ``python``."""
        return cluster_for(kind, self.cluster_class, self.cluster_kwargs, python)

    def required_modules(self) -> tuple[str, ...]:
        """What every environment's interpreter must have: a run's requirements, and the cluster's module."""
        clusters = [self.cluster(kind, sys.executable)[0] for kind in self.kinds if kind in MANAGED_TYPES]
        return tuple(dict.fromkeys([*RUN_MODULES, *(name.split(":")[0].split(".")[0] for name in clusters)]))


def cluster_for(kind: str, cluster_class: str | None, cluster_kwargs: dict[str, Any] | None,
                python: str) -> tuple[str, dict[str, Any]]:
    """A managed type's cluster class and arguments; Slurm's jobs run the run's own interpreter."""
    if kind == TYPE_SLURM:
        return SLURM_CLASS, {**SLURM_DEFAULTS, "python": python, **(cluster_kwargs or {})}
    return cluster_class, dict(cluster_kwargs or {})


def knob_values(kind: str, values: dict[str, Any]) -> list[list[Any]]:
    """The start methods, dashboard settings and isolation settings a kind's configurations take."""
    if kind in MANAGED_TYPES:  # set in the cluster's own arguments
        return [[None], ["on"], [None]]
    isolation = values["nanny"] if kind == KIND_DISTRIBUTED else values["processes"]
    return [values["start_method"] or [None], values["dashboard"] or ["on"], isolation or [None]]


def check_knobs(kinds: list[str], values: dict[str, Any]) -> None:
    """Each knob given must apply to one of the study's types (the others do without it)."""
    if values["nanny"] and KIND_DISTRIBUTED not in kinds:
        raise UsageError("--nanny is for --type distributed; for local use --processes")
    if values["processes"] and KIND_LOCAL not in kinds:
        raise UsageError("--processes is for --type local; for distributed use --nanny")
    knobs = [name for name in KNOBS if values[name]]
    if knobs and all(kind in MANAGED_TYPES for kind in kinds):
        raise UsageError(f"--{knobs[0].replace('_', '-')} is not for --type {kinds[0]}: "
                         "set it in the cluster's own arguments (--cluster-kwargs)")


def managed_cluster(kinds: list[str], values: dict[str, Any]) -> tuple[str | None, dict[str, Any] | None]:
    """The cluster class (of --type cluster) and the arguments of the managed types; usage errors for misfits."""
    if not any(kind in MANAGED_TYPES for kind in kinds):
        if values["cluster_class"] or values["cluster_kwargs"]:
            raise UsageError("--cluster-class and --cluster-kwargs go with --type slurm or --type cluster")
        return None, None
    if values["cluster_class"] and TYPE_CLUSTER not in kinds:
        raise UsageError("--type slurm uses dask_jobqueue:SLURMCluster; for another class use --type cluster")
    if TYPE_CLUSTER in kinds and not values["cluster_class"]:
        raise UsageError("--type cluster needs --cluster-class MODULE:CLASS")
    cluster_class, cluster_kwargs = values["cluster_class"], dict(values["cluster_kwargs"] or {})
    for kind in kinds:
        if kind in MANAGED_TYPES:
            try:
                check_cluster_arguments(*cluster_for(kind, cluster_class, cluster_kwargs, sys.executable))
            except ValueError as error:
                raise UsageError(f"--cluster-class: {error}") from None
    return cluster_class, cluster_kwargs


def manifest_path(folder: str, study_id: str) -> str:
    return os.path.join(folder, f"study_{study_id}.json")


def find_manifest(folder: str, study_id: str) -> str:
    """The manifest of ``study_id`` in ``folder`` ('latest': the newest one)."""
    if study_id != "latest":
        path = manifest_path(folder, study_id)
        if not os.path.exists(path):
            raise UsageError(f"no study {study_id} in {folder} (no {os.path.basename(path)})")
        return path
    manifests = sorted(name for name in os.listdir(folder) if name.startswith("study_") and name.endswith(".json"))
    if not manifests:
        raise UsageError(f"no study to resume in {folder}: no study_*.json manifest")
    return os.path.join(folder, manifests[-1])


class Study:
    """Runs the schedule, one fresh process per run."""

    def __init__(self, plan: Plan, output_dir: str, plot: bool, prog: str, invocation: list[str],
                 fail_if_slower: float | None = None, verdict_json: str | None = None,
                 recorder: Recorder | None = None, label: str | None = None, revision: str | None = None,
                 detail: str = CONCISE) -> None:
        self.plan = plan
        self.detail = detail  # how much of the analysis is printed at the end (present.analysis.DETAILS)
        self.recorder = recorder  # with --db: records each run's file once it is written
        self.tags = [*(["--label", label] if label else []), *(["--revision", revision] if revision else [])]
        self.prog = prog
        self.invocation = invocation  # the command that runs the study command again
        self.output_dir = output_dir
        self.plot = plot
        self.fail_if_slower = fail_if_slower  # with two environments or more: the gate of their comparison
        self.verdict_json = verdict_json
        self.log_dir = os.path.join(output_dir, "logs")
        self.written: list[str] = []
        self.failed: list[str] = []
        self.stop_signal: int | None = None
        self.current: ManagedProcess | None = None
        self.package_path = ""  # with environments: a folder holding only this package, while the runs go

    def result_path(self, configuration: Configuration, run: int, warmup: bool) -> str:
        name = f"{configuration.stem()}_{'warmup' if warmup else 'run'}{run:03d}_{self.plan.study_id}.json"
        return os.path.join(self.output_dir, name)

    def _python(self, configuration: Configuration) -> str:
        environment = self.plan.environment(configuration.environment)
        return sys.executable if environment is None else environment.python

    def command(self, configuration: Configuration, output: str, warmup: bool) -> list[str]:
        plan, kind, python = self.plan, configuration.kind, self._python(configuration)
        command = [python, "-m", "dask_timing", RUN_COMMANDS[kind], *configuration.arguments(),
                   "--timeout", str(plan.timeout), "--output", output, "--study-id", plan.study_id, *self.tags]
        if plan.workload:
            command += ["--workload", plan.workload, "--workload-chunk", str(plan.workload_chunk)]
        if kind in MANAGED_TYPES:
            cluster_class, arguments = plan.cluster(kind, python)
            if kind == TYPE_SLURM:
                arguments.setdefault("cores", configuration.threads)
                arguments.setdefault("log_directory", os.path.abspath(os.path.join(self.log_dir, "slurm")))
            command += ["--cluster-class", cluster_class, "--cluster-kwargs", json.dumps(arguments)]
        if warmup:
            command.append("--warmup-run")
        return command

    def stop(self, signum: int) -> None:
        """Stop the study: pass the signal on so the current run tears down, then stop."""
        self.stop_signal = signum
        self._pass_on_signal()

    def _pass_on_signal(self) -> None:
        """Send the stop signal to the current run, if one has started and not ended."""
        run = self.current
        if self.stop_signal is not None and run is not None and run.pid is not None and run.exit_code() is None:
            os.kill(run.pid, self.stop_signal)

    def _run_environment(self, configuration: Configuration) -> dict[str, str]:
        """The run's environment variables: this package on its path, and the environment's name.

        A named environment's runs see its interpreter's packages and this one,
        nothing of the study's own (an installed copy of this package lives among
        them); the study's own interpreter's runs keep the study's path.
        """
        variables = {key: value for key, value in os.environ.items() if key != ENVIRONMENT_NAME_VARIABLE}
        path = os.environ.get("PYTHONPATH")
        if configuration.environment is None:
            variables["PYTHONPATH"] = PACKAGE_PARENT + (os.pathsep + path if path else "")
        else:
            variables.update(PYTHONPATH=self.package_path, **{ENVIRONMENT_NAME_VARIABLE: configuration.environment})
        return variables

    def is_finished(self, output: str) -> bool:
        """A finished run has a readable result that is not 'interrupted'; any other is set aside
        (kept, renamed out of the *.json globs, never over another file) and run again."""
        if not os.path.exists(output):
            return False
        try:
            finished, why = load_result(output).status != STATUS_INTERRUPTED, STATUS_INTERRUPTED
        except ResultFileError as error:
            finished, why = False, f"unreadable: {error}"
        if finished:
            self.written.append(output)
            self._record(output)  # stored once however often: a resumed study records what a failed write missed
            return True
        folder, name = os.path.split(output)
        aside = unused_path(folder, name, ".interrupted")
        os.rename(output, aside)
        print(f"Set aside {aside} ({why}); that run is done again", flush=True)
        return False

    def run_one(self, configuration: Configuration, run: int, warmup: bool) -> float:
        output = self.result_path(configuration, run, warmup)
        stem = os.path.splitext(os.path.basename(output))[0]
        self.current = ManagedProcess(stem, self.command(configuration, output, warmup),
                                      os.path.join(self.log_dir, f"{stem}.log"), env=self._run_environment(configuration))
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
            self._record(output)
        self._report(output, code, seconds)
        return seconds

    def _record(self, output: str) -> None:
        if self.recorder is not None:
            self.recorder.record_file(output)

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
        stopped_by = self.stop_signal
        if stopped_by is not None and code in (-stopped_by, signal_exit_code(stopped_by)):
            # ended by the study's own signal, passed on: stopped, not failed (--resume runs it again)
            print(f"  ■ {self.current.name} stopped by {signal.Signals(stopped_by).name} (exit code {code}); "
                  f"log: {self.current.log_path}", flush=True)
            return
        self.failed.append(self.current.name)
        why = "stopped: exceeded its deadline" if code is None else f"exit code {code}"
        print(f"  ✗ {self.current.name} failed ({why}); log: {self.current.log_path}", flush=True)
        tail = self.current.log_tail(6)
        if tail:
            print("    " + tail.replace("\n", "\n    "), flush=True)

    def execute(self) -> int:
        if not self.plan.environments:
            return self._execute()
        with package_path() as folder:
            self.package_path = folder
            return self._execute()

    def _execute(self) -> int:
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
            print(f"\n=== {index}/{len(pending)}: {configuration.stem()}, {what} "
                  f"(elapsed {elapsed:.1f} s{left}) ===", flush=True)
            durations.append(self.run_one(configuration, run, warmup))
        self.current = None
        print(f"\nStudy {plan.study_id}: {len(self.written)} result file(s) in {self.output_dir}, "
              f"{len(self.failed)} failed run(s), {time.monotonic() - began:.1f} s in all")
        if self.recorder is not None:
            missed = len(self.recorder.failed)
            print(f"Recorded in {self.recorder.database.name}: {len(self.written) - missed} run(s)"
                  + (f"; {missed} not recorded (their files are kept: import them later)" if missed else ""))
        gate = self._summarise()
        if self.stop_signal is not None:
            print(self.resume_hint(), file=sys.stderr)
            return signal_exit_code(self.stop_signal)
        if self.failed:
            print(f"{self.prog}: {len(self.failed)} of {len(pending)} run(s) failed: {', '.join(self.failed)}",
                  file=sys.stderr)
            return EXIT_FAILED
        return EXIT_OK if gate is None else gate.exit_code

    def resume_hint(self) -> str:
        """How to finish this study: its command again, with --resume and its id."""
        resume = shlex.join([*self.invocation, "--output-dir", self.output_dir, "--resume", self.plan.study_id])
        return f"{self.prog}: stopped; finish it with: {resume}"

    def _print_header(self) -> None:
        plan = self.plan
        print("=" * 64)
        print("Dask Timing Study Runner")
        print("=" * 64)
        print(f"Study type: {', '.join(plan.kinds)}")
        if plan.environments:
            print(f"Environments: {', '.join(environment.name for environment in plan.environments)} "
                  f"(the first is the reference)")
        print(f"Workers: {', '.join(str(w) for w in dict.fromkeys(c.workers for c in plan.configurations))}")
        print(f"Threads per worker: {', '.join(str(t) for t in dict.fromkeys(c.threads for c in plan.configurations))}")
        print(f"Configurations: {len(plan.configurations)}")
        for note in plan.notes:
            print(f"  ({note})")
        print(f"Number of runs: {plan.runs} of each" + (f" (after {plan.warmup} warmup run(s))" if plan.warmup else ""))
        print(f"Output directory: {self.output_dir}")
        print(f"Study id: {plan.study_id}")
        print("=" * 64, flush=True)

    def _summarise(self) -> Gate | None:
        """The statistics, the ranking, and with several environments their comparison (its gate)."""
        if not self.written:
            return None
        loaded = load(self.written)
        for warning in loaded.warnings():
            print(f"{self.prog}: warning: {warning}", file=sys.stderr)
        groups = group_results(loaded.results)
        # A resumed study summarises again, beside (never over) the earlier summary.
        summary = unused_path(self.output_dir, f"summary_{self.plan.study_id}", ".json")
        print()
        comparison = judgement = None
        if len(self.plan.environments) >= 2:
            comparison = pair_environments(groups, self.plan.environments[0].name)
        names = present(groups, len(loaded.results), self.detail, plot_dir=self.output_dir if self.plot else None,
                        summary_path=summary, plot_tag=self.plan.study_id,
                        pairs=comparison.pairs if comparison is not None else [])
        if comparison is not None:
            judgement = judge(comparison, self.fail_if_slower, self.verdict_json)
        present_end(groups, names, self.detail, self.prog, comparison=comparison, judgement=judgement)
        return None if judgement is None else judgement.gate
