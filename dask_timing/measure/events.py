"""What a run tells its observers as it goes: one small record per event.

The timing loop (``measure.run``) never prints nor writes files; it hands
these events to its observers (the console, ``present.console.RunConsole``;
output steps of the command line, such as the task-stream file).  Observers
are called between the timed phases, never inside one's awaited work.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Union

from dask_timing.phases import Phase


@dataclass(frozen=True, slots=True)
class RunStarted:
    title: str
    settings: list[tuple[str, Any]]  # (name, value) pairs that describe the run


@dataclass(frozen=True, slots=True)
class PhaseStarted:
    phase: Phase
    fields: dict[str, Any]  # what the phase's messages may name (``n_workers``...)


@dataclass(frozen=True, slots=True)
class PhaseFinished:
    phase: Phase
    seconds: float
    fields: dict[str, Any]


@dataclass(frozen=True, slots=True)
class SchedulerFound:
    address: str | None
    dashboard: str | None


@dataclass(frozen=True, slots=True)
class ProbesStarted:
    pass


@dataclass(frozen=True, slots=True)
class ProbesMeasured:
    probes: dict[str, Any]  # the figures, as recorded in the result
    task_stream: list[dict[str, Any]]  # Dask's raw task stream of the probes


@dataclass(frozen=True, slots=True)
class PerformanceReportSaved:
    path: str


@dataclass(frozen=True, slots=True)
class WorkersFound:
    workers: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class JobsFound:
    jobs: list[dict[str, Any]]  # batch-queue records of the worker jobs


@dataclass(frozen=True, slots=True)
class VersionsDiffer:
    mismatch: str  # distributed's own description of the differences


RunEvent = Union[
    RunStarted, PhaseStarted, PhaseFinished, SchedulerFound, ProbesStarted, ProbesMeasured,
    PerformanceReportSaved, WorkersFound, JobsFound, VersionsDiffer,
]
RunObserver = Callable[[RunEvent], None]
