"""What a run tells its observers as it goes: one small record per event.

The timing loop (``measure.run``) never prints nor writes files; it hands
these events to its observers (the console, ``present.console.RunConsole``;
output steps of the command line, such as the task-stream file).  Observers
are called between the timed phases, never inside one's awaited work.
"""

from __future__ import annotations

from typing import Any, Callable, Union

import msgspec

from dask_timing.phases import Phase


class RunStarted(msgspec.Struct, frozen=True):
    title: str
    settings: list[tuple[str, Any]]  # (name, value) pairs that describe the run


class PhaseStarted(msgspec.Struct, frozen=True):
    phase: Phase
    fields: dict[str, Any]  # what the phase's messages may name (``n_workers``...)


class PhaseFinished(msgspec.Struct, frozen=True):
    phase: Phase
    seconds: float
    fields: dict[str, Any]


class SchedulerFound(msgspec.Struct, frozen=True):
    address: str | None
    dashboard: str | None


class ProbesStarted(msgspec.Struct, frozen=True):
    pass


class ProbesMeasured(msgspec.Struct, frozen=True):
    probes: dict[str, Any]  # the figures, as recorded in the result
    task_stream: list[dict[str, Any]]  # Dask's raw task stream of the probes


class PerformanceReportSaved(msgspec.Struct, frozen=True):
    path: str


class WorkersFound(msgspec.Struct, frozen=True):
    workers: list[dict[str, Any]]


class JobsFound(msgspec.Struct, frozen=True):
    jobs: list[dict[str, Any]]  # batch-queue records of the worker jobs


class VersionsDiffer(msgspec.Struct, frozen=True):
    mismatch: str  # distributed's own description of the differences


RunEvent = Union[
    RunStarted, PhaseStarted, PhaseFinished, SchedulerFound, ProbesStarted, ProbesMeasured,
    PerformanceReportSaved, WorkersFound, JobsFound, VersionsDiffer,
]
RunObserver = Callable[[RunEvent], None]
