"""Running a study: its schedule of runs, each in a fresh process, then the analysis.

Runs are interleaved (every configuration once, then again; a setting's
environments one after the other) so drift on a shared machine spreads
evenly, and with two environments or more the study ends with their
comparison, the reference being the first: the comparison to trust, since
both sides ran under the same conditions.  A failed run is counted and the
study goes on; files are never overwritten (each study has its own id in every
file name); the statistics are saved beside the results.  What the study says
as it goes, its observer prints (``present.study.StudyConsole``).
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from typing import TYPE_CHECKING

from dask_timing.analysis.computed import Analysis
from dask_timing.analysis.groups import group_results
from dask_timing.analysis.load import load
from dask_timing.analysis.gate import Gate
from dask_timing.analysis.verdicts import pair_environments
from dask_timing.deploy.managed import ManagedProcess, terminate
from dask_timing.entry import COMMAND_LOCAL, COMMAND_PROCESSES
from dask_timing.errors import EXIT_FAILED, EXIT_OK, signal_exit_code
from dask_timing.measure.environments import PACKAGE_DIR, in_use, package_path
from dask_timing.present.analysis import CONCISE, present, present_end, save_verdicts
from dask_timing.present.study import StudyConsole
from dask_timing.record.environment import ENVIRONMENT_NAME_VARIABLE
from dask_timing.record.files import unused_path
from dask_timing.record.kinds import KIND_CLUSTER, KIND_DISTRIBUTED, KIND_LOCAL
from dask_timing.record.load import ResultFileError, load_result
from dask_timing.record.schema import STATUS_INTERRUPTED
from dask_timing.study.plan import MANAGED_TYPES, TYPE_SLURM, Configuration, Plan

if TYPE_CHECKING:  # imported with --db only: the database's requirements are an extra
    from dask_timing.history.recording import Recorder

# The command that times one run of each study type: ``python -m dask_timing COMMAND``.
RUN_COMMANDS = {KIND_LOCAL: COMMAND_LOCAL, KIND_DISTRIBUTED: COMMAND_PROCESSES, TYPE_SLURM: COMMAND_PROCESSES,
                KIND_CLUSTER: COMMAND_PROCESSES}
# Where the package lives, so the study's own interpreter's runs find it whether it is installed or in a clone.
PACKAGE_PARENT = os.path.dirname(PACKAGE_DIR)
# A run that outlives this many times its wait bound (plus a margin) is stopped.
RUN_DEADLINE_FACTOR = 6
RUN_DEADLINE_MARGIN = 60.0
# Seconds a stopped run gets to tear its cluster down before it is killed.
RUN_STOP_GRACE = 20.0


class Study:
    """Runs the schedule, one fresh process per run."""

    def __init__(self, plan: Plan, output_dir: str, plot: bool, prog: str, invocation: list[str],
                 fail_if_slower: float | None = None, verdict_json: str | None = None,
                 recorder: Recorder | None = None, label: str | None = None, revision: str | None = None,
                 detail: str = CONCISE, console: StudyConsole | None = None) -> None:
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
        self.console = console or StudyConsole(prog)  # the observer told what the study does, as it goes

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
        if plan.import_profile:
            command.append("--import-profile")
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
        self.console.set_aside(aside, why)
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
            self.console.run_succeeded(total, seconds)
            return
        stopped_by = self.stop_signal
        if stopped_by is not None and code in (-stopped_by, signal_exit_code(stopped_by)):
            # ended by the study's own signal, passed on: stopped, not failed (--resume runs it again)
            self.console.run_stopped(self.current.name, signal.Signals(stopped_by).name, code, self.current.log_path)
            return
        self.failed.append(self.current.name)
        self.console.run_failed(self.current.name, code, self.current.log_path, self.current.log_tail(6))

    def execute(self) -> int:
        if not self.plan.environments:
            return self._execute()
        with package_path() as folder, in_use(self.plan.environments):
            self.package_path = folder
            return self._execute()

    def _execute(self) -> int:
        plan = self.plan
        os.makedirs(self.log_dir, exist_ok=True)
        self.console.header(
            plan.kinds, [environment.name for environment in plan.environments],
            list(dict.fromkeys(configuration.workers for configuration in plan.configurations)),
            list(dict.fromkeys(configuration.threads for configuration in plan.configurations)),
            len(plan.configurations), plan.notes, plan.runs, plan.warmup, self.output_dir, plan.study_id)
        schedule = plan.schedule()
        pending = [entry for entry in schedule if not self.is_finished(self.result_path(*entry))]
        if len(pending) < len(schedule):
            self.console.resuming(len(schedule) - len(pending), len(schedule))
        began = time.monotonic()
        durations: list[float] = []
        for index, (configuration, run, warmup) in enumerate(pending, start=1):
            if self.stop_signal is not None:
                break
            left = sum(durations) / len(durations) * (len(pending) - index + 1) if durations else None
            self.console.run_started(index, len(pending), configuration.stem(), run,
                                     plan.warmup if warmup else plan.runs, warmup, time.monotonic() - began, left)
            durations.append(self.run_one(configuration, run, warmup))
        self.current = None
        self.console.finished(plan.study_id, len(self.written), self.output_dir, len(self.failed),
                              time.monotonic() - began)
        if self.recorder is not None:
            missed = len(self.recorder.failed)
            self.console.recorded(self.recorder.database.name, len(self.written) - missed, missed)
        gate = self._summarise()
        if self.stop_signal is not None:
            self.console.stopped(self.resume_hint())
            return signal_exit_code(self.stop_signal)
        if self.failed:
            self.console.runs_failed(self.failed, len(pending))
            return EXIT_FAILED
        return EXIT_OK if gate is None else gate.exit_code

    def resume_hint(self) -> str:
        """How to finish this study: its command again, with --resume and its id."""
        resume = shlex.join([*self.invocation, "--output-dir", self.output_dir, "--resume", self.plan.study_id])
        return f"{self.prog}: stopped; finish it with: {resume}"

    def _summarise(self) -> Gate | None:
        """The statistics, the ranking, and with several environments their comparison (its gate)."""
        if not self.written:
            return None
        loaded = load(self.written)
        for warning in loaded.warnings():
            self.console.warning(warning)
        groups = group_results(loaded.results)
        # A resumed study summarises again, beside (never over) the earlier summary.
        summary = unused_path(self.output_dir, f"summary_{self.plan.study_id}", ".json")
        self.console.analysis_follows()
        comparison = None
        if len(self.plan.environments) >= 2:
            comparison = pair_environments(groups, self.plan.environments[0].name)
        analysis = Analysis(groups, comparison, self.fail_if_slower)
        names = present(analysis, len(loaded.results), self.detail, plot_dir=self.output_dir if self.plot else None,
                        summary_path=summary, plot_tag=self.plan.study_id)
        if comparison is not None and self.verdict_json:
            save_verdicts(analysis, self.verdict_json)
        present_end(analysis, names, self.detail, self.prog)
        return analysis.gate
