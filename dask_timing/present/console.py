"""What a timing run prints, in the layout of the specification.

``RunConsole`` is an observer of the timing loop: it renders the loop's events
(``measure.events``) as they come, then the command line has it print the
summary of the assembled result and where files were saved.
"""

from __future__ import annotations

import sys
import textwrap
from typing import Any, TextIO

from dask_timing import phases
from dask_timing.measure import events
from dask_timing.measure.waterfall import STRAGGLER_RULE
from dask_timing.phases import REGISTRATION_TIME_LABEL, WORKER_PHASES, WORKER_PHASES_BY_KEY, Phase
from dask_timing.present.probes import describe_probes
from dask_timing.present.import_profile import describe_import_profile
from dask_timing.record.schema import STATUS_INTERRUPTED, RunResult

RULE = "=" * 60
THIN_RULE = "-" * 60
LABEL_WIDTH = 29
WORKER_COLUMN = 15
GIB = 2**30


def seconds(value: float) -> str:
    return f"{value:.4f} seconds"


def summary_line(label: str, value: float, note: str = "") -> str:
    """One line of the timing summary: label padded, value in seconds."""
    return f"{label + ':':<{LABEL_WIDTH}}{seconds(value)}{note}"


class RunConsole:
    """Prints a run's progress as it happens, then its summary."""

    def __init__(self, stream: TextIO = sys.stdout) -> None:
        self.stream = stream

    def __call__(self, event: events.RunEvent) -> None:
        """Show one event of a run."""
        match event:
            case events.RunStarted(title, settings):
                self.header(title, settings)
            case events.PhaseStarted(phase, fields):
                self.phase_start(phase, **fields)
            case events.PhaseFinished(phase, seconds, fields):
                self.phase_done(phase, seconds, **fields)
            case events.SchedulerFound(address, dashboard):
                self.line(f"  Address: {address}")
                if dashboard:
                    self.line(f"  Dashboard: {dashboard}")
            case events.ProbesStarted():
                self.line()
                self.line("Running scheduler overhead probes...")
            case events.ProbesMeasured(probes):
                for text in describe_probes(probes):
                    self.line(text)
            case events.PerformanceReportSaved(path):
                self.line()
                self.saved("Performance report", path)
            case events.WorkersFound(workers):
                self.workers(workers)
            case events.JobsFound(jobs):
                self.jobs(jobs)
            case events.VersionsDiffer(mismatch):
                self.line()
                self.line("WARNING: client, scheduler and workers run different versions "
                          "(a known source of confusing Dask failures):")
                self.line(mismatch)

    def line(self, text: str = "") -> None:
        print(text, file=self.stream, flush=True)

    def saved(self, what: str, path: str) -> None:
        """Where a file the run produced was written."""
        self.line(f"✓ {what} saved to: {path}")

    def header(self, title: str, settings: list[tuple[str, Any]]) -> None:
        self.line(RULE)
        self.line(title)
        self.line(RULE)
        for name, value in settings:
            self.line(f"{name}: {value}")
        self.line(RULE)

    def phase_start(self, phase: Phase, **fields: Any) -> None:
        self.line()
        self.line(phase.start_message.format(**fields))

    def phase_done(self, phase: Phase, value: float, **fields: Any) -> None:
        self.line(f"{phase.done_message.format(**fields)}: {seconds(value)}")

    def workers(self, workers: list[dict[str, Any]]) -> None:
        self.line()
        self.line(f"Workers ({len(workers)}):")
        for worker in workers:
            self.line(f"  Worker: {worker['name']}")
            self.line(f"    Address: {worker['address']}")
            memory = worker.get("memory_limit")
            self.line(f"    Memory: {memory / GIB:.2f} GiB" if memory else "    Memory: no limit")
            self.line(f"    Threads: {worker['nthreads']}")
            if worker.get("arrival_time") is not None:
                self.line(f"    Registered: {seconds(worker['arrival_time'])} after the start")

    def jobs(self, jobs: list[dict[str, Any]]) -> None:
        """Each worker job: time in the batch queue apart from Dask's own start."""
        self.line()
        self.line("Worker jobs (Slurm's records, whole seconds):")
        for job in jobs:
            if "queue_wait" not in job:
                self.line(f"  Job {job['job_id']} ({job['worker']}): no record left in Slurm")
                continue
            registered = job.get("start_to_registered")
            self.line(
                f"  Job {job['job_id']} ({job['worker']}): queued {job['queue_wait']:.0f} s, "
                + ("running to registered " + seconds(registered) if registered is not None else "not registered")
            )

    def summary(self, result: RunResult) -> None:
        """The TIMING SUMMARY block: phases, then the total, then what is outside it."""
        self.line()
        self.line(RULE)
        self.line("TIMING SUMMARY")
        self.line(RULE)
        for key, value in result.phases.items():  # the phases the run completed, in run order
            phase = phases.PHASES_BY_KEY.get(key)
            self.line(summary_line(phase.summary_label if phase else key, value))
        self.line(THIN_RULE)
        if result.total_time is not None:
            self.line(summary_line(phases.TOTAL_LABEL, result.total_time))
        elif phases.FIRST_TASK.key in result.phases:  # ready, then stopped or failed: no total is recorded
            ended = "was interrupted" if result.status == STATUS_INTERRUPTED else result.status
            self.line(summary_line(phases.TOTAL_LABEL, sum(result.phases.values()),
                                   f"   (the phases' sum; not recorded: the run {ended} after ready)"))
        else:
            self.line(f"{phases.TOTAL_LABEL + ':':<{LABEL_WIDTH}}not reached ({result.status})")
        n_tasks, workload = result.config["batch_size"], result.config.get("workload")
        labels = {phases.batch_key(n_tasks): phases.BATCH.summary_label.format(n_tasks=n_tasks)}
        if workload:
            labels[phases.workload_key(workload)] = phases.WORKLOAD.summary_label.format(workload=workload)
        for key, value in result.after_ready.items():
            self.line(summary_line(labels.get(key, key), value, "   (after ready; not in total)"))
        if phases.INTERPRETER_AND_IMPORTS in result.before_start:
            self.line(summary_line(phases.INTERPRETER_AND_IMPORTS_LABEL,
                                   result.before_start[phases.INTERPRETER_AND_IMPORTS], "   (before the start)"))
        if result.teardown_time is not None:
            self.line(summary_line(phases.TEARDOWN.summary_label, result.teardown_time, "   (not in total)"))
        self.line(RULE)

    def worker_startups(self, result: RunResult) -> None:
        """After the summary: the phases of the median and of the slowest worker side by side, the
        stragglers, the workers that never registered, and the import profile."""
        waterfalls = [(worker["name"], worker["waterfall"]) for worker in result.workers if "waterfall" in worker]
        ok = sorted(((name, record) for name, record in waterfalls if "registration_time" in record),
                    key=lambda item: item[1]["registration_time"])
        failed = [(name, record) for name, record in waterfalls if record["status"] == "failed"]
        if not waterfalls:
            reason = result.measurement.get("worker_waterfall", {}).get("unavailable", {}).get("registered")
            if reason:
                self.line()
                self.line(f"Worker startup: not available ({reason})")
            return
        self.line()
        self.line("WORKER STARTUP (seconds, from the request for workers)")
        if ok:
            shown = {"median": ok[(len(ok) - 1) // 2], "slowest": ok[-1]}
            headers = [f"{role} ({name})" for role, (name, _) in shown.items()]
            width = max(WORKER_COLUMN, *(len(header) + 2 for header in headers))
            rows = [(phase.label, [record["phases"].get(phase.key) for _, record in shown.values()])
                    for phase in WORKER_PHASES]
            rows.append((REGISTRATION_TIME_LABEL, [record["registration_time"] for _, record in shown.values()]))
            self.line(f"{'phase':<{LABEL_WIDTH}}" + "".join(f"{header:>{width}}" for header in headers))
            for label, values in rows:
                if any(value is not None for value in values):
                    self.line(f"{label:<{LABEL_WIDTH}}"
                              + "".join(f"{'-' if value is None else f'{value:.4f}':>{width}}" for value in values))
        self.stragglers(result.stragglers)
        for name, record in failed:
            self.line(f"Worker {name} failed to start: it stopped after {record['last_boundary']}")
        profile = result.import_profile
        if profile and profile.get("top"):
            # wrapped between packages, never inside "numpy 0.12 s" (no-break spaces there while wrapping)
            text = describe_import_profile(profile).replace(" ", "\N{NO-BREAK SPACE}").replace(",\N{NO-BREAK SPACE}", ", ")
            text = textwrap.fill(f"Worker imports (seconds per worker, top {len(profile['top'])}): {text}", len(RULE),
                                 subsequent_indent="  ")
            self.line(text.replace("\N{NO-BREAK SPACE}", " "))
        elif profile:
            self.line(f"Worker imports: not available ({profile['unavailable']})")

    def stragglers(self, stragglers: list[dict[str, Any]] | None) -> None:
        """Each straggler with the phase that lost its time; nothing when too few workers to tell."""
        if stragglers is None:
            return
        if not stragglers:
            self.line(f"Stragglers: none (rule: {STRAGGLER_RULE})")
        for straggler in stragglers:
            phase = WORKER_PHASES_BY_KEY[straggler["phase"]].label
            self.line(f"Straggler: worker {straggler['name']} registered {straggler['excess']:.4f} s after the "
                      f"median worker; it lost {straggler['phase_excess']:.4f} s in {phase}")

