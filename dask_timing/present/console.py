"""What a timing run prints, in the layout of the specification."""

from __future__ import annotations

import sys
from typing import Any, TextIO

from dask_timing import phases
from dask_timing.phases import Phase
from dask_timing.record.schema import RunResult

RULE = "=" * 60
THIN_RULE = "-" * 60
LABEL_WIDTH = 29
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

    def line(self, text: str = "") -> None:
        print(text, file=self.stream, flush=True)

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

    def summary(self, result: RunResult, phase_list: list[Phase], fields: dict[str, Any]) -> None:
        """The TIMING SUMMARY block: phases, then the total, then what is outside it."""
        self.line()
        self.line(RULE)
        self.line("TIMING SUMMARY")
        self.line(RULE)
        for phase in phase_list:
            if phase.key in result.phases:
                self.line(summary_line(phase.summary_label, result.phases[phase.key]))
        self.line(THIN_RULE)
        if result.total_time is not None:
            self.line(summary_line(phases.TOTAL_LABEL, result.total_time))
        else:
            self.line(f"{phases.TOTAL_LABEL + ':':<{LABEL_WIDTH}}not reached ({result.status})")
        labels = {phases.batch_key(fields["n_tasks"]): phases.BATCH.summary_label.format(**fields)}
        if fields.get("workload"):
            labels[phases.workload_key(fields["workload"])] = phases.WORKLOAD.summary_label.format(**fields)
        for key, value in result.after_ready.items():
            self.line(summary_line(labels.get(key, key), value, "   (after ready; not in total)"))
        if phases.INTERPRETER_AND_IMPORTS in result.before_start:
            self.line(summary_line(phases.INTERPRETER_AND_IMPORTS_LABEL,
                                   result.before_start[phases.INTERPRETER_AND_IMPORTS], "   (before the start)"))
        if result.teardown_time is not None:
            self.line(summary_line(phases.TEARDOWN.summary_label, result.teardown_time, "   (not in total)"))
        self.line(RULE)
