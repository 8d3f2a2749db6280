"""What every way of getting a cluster offers the timing loop: start, ask for workers, close.

The timing loop (``measure.run``) times a deployment without knowing how it
makes its cluster; each way is one module of this package.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from typing import Any

from dask_timing import phases
from dask_timing.phases import Phase

# Dask's setting for how worker processes are started (spawn, forkserver or fork).
START_METHOD_SETTING = "distributed.worker.multiprocessing-method"
START_METHODS = ("spawn", "forkserver", "fork")


def default_start_method() -> str:
    """The start method Dask is configured to use (spawn unless set otherwise)."""
    import dask.config

    return dask.config.get(START_METHOD_SETTING, "spawn")


class DeploymentError(RuntimeError):
    """The cluster could not be started as asked; the message says why."""


class Deployment(ABC):
    """A cluster the runner can time: scheduler up, workers asked for, closed."""

    kind: str
    title: str
    scheduler_phase: Phase | None  # None: the scheduler is not ours to time
    workers_phase: Phase | None
    starts_workers = True  # False: time the cluster's existing workers, ask for none
    security: Any = None  # distributed.security.Security for the client, if any
    teardown_phase: Phase = phases.TEARDOWN
    scheduler_readiness: str
    connect_to = "scheduler"  # what the client connects to, in messages
    poll_interval: float | None = None

    def __init__(
        self,
        threads_per_worker: int,
        host: str,
        workdir: str,
        dashboard: bool = True,
        start_method: str | None = None,
    ) -> None:
        self.threads_per_worker = threads_per_worker
        self.host = host
        self.workdir = workdir
        self.with_dashboard = dashboard
        self.start_method = start_method or default_start_method()
        self.address: str | None = None
        self.dashboard: str | None = None

    def header(self, n_workers: int) -> list[tuple[str, Any]]:
        """What the run's console header says about this deployment."""
        return [("Workers", n_workers), ("Threads per worker", self.threads_per_worker)]

    def config(self) -> dict[str, Any]:
        """Settings of this deployment that define the experiment."""
        return {
            "threads_per_worker": self.threads_per_worker,
            "host": self.host,
            "dashboard": self.with_dashboard,
            "start_method": self.start_method,
        }

    @abstractmethod
    async def start_scheduler(self) -> None:
        """Start the scheduler and return once it accepts connections."""

    @property
    @abstractmethod
    def client_target(self) -> Any:
        """What ``distributed.Client`` is given to connect (cluster or address)."""

    @abstractmethod
    async def request_workers(self, n_workers: int) -> None:
        """Ask for workers; return without waiting for them to register."""

    async def watch(self) -> None:
        """Raise if the cluster fails while starting; never returns otherwise."""
        await asyncio.Event().wait()

    def expected_worker_names(self, n_workers: int) -> set[str] | None:
        """Names of the workers this run starts, or None if it cannot tell."""
        return None

    def observe_workers(self, workers: list[dict[str, Any]]) -> None:
        """Learn from the workers found (for deployments whose configuration says less)."""

    async def job_records(self, workers: list[dict[str, Any]], wall_to_run_time: Any) -> list[dict[str, Any]] | None:
        """Batch-queue records of the worker jobs, for deployments whose workers are jobs."""
        return None

    @abstractmethod
    async def close(self) -> list[int]:
        """Stop everything started; return pids of processes that survived."""
