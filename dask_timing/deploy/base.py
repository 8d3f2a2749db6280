"""What every way of getting a cluster offers the timing loop: start, ask for workers, close.

The timing loop (``measure.run``) times a ``Deployment`` without knowing how it
makes its cluster.  Each way is one module of this package, registered by its
kind in ``deploy/__init__.py``; the command line describes the cluster it wants
in a ``ClusterRequest`` and the registry builds the deployment from it.
"""

from __future__ import annotations

import asyncio
import json
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

from dask_timing import phases
from dask_timing.defaults import DEFAULT_HOST, DEFAULT_TIMEOUT
from dask_timing.deploy import dask_timing_worker as stamps
from dask_timing.phases import Phase

# Dask's setting for how worker processes are started (spawn, forkserver or fork).
START_METHOD_SETTING = "distributed.worker.multiprocessing-method"
START_METHODS = ("spawn", "forkserver", "fork")


# Dask's settings for modules every nanny and every worker loads at its start.
PRELOAD_SETTINGS = ("distributed.nanny.preload", "distributed.worker.preload")


def dask_environment_name(setting: str) -> str:
    """The environment variable Dask reads a setting from (``distributed.x-y`` -> ``DASK_DISTRIBUTED__X_Y``)."""
    return "DASK_" + setting.upper().replace(".", "__").replace("-", "_")


def default_start_method() -> str:
    """The start method Dask is configured to use (spawn unless set otherwise)."""
    import dask.config

    return dask.config.get(START_METHOD_SETTING, "spawn")


@dataclass(frozen=True)
class LaunchSettings:
    """How a deployment that starts a scheduler and workers starts them.

    ``start_method`` None means Dask's configured one, resolved now so the
    recorded configuration says which was used.
    """

    threads_per_worker: int
    workdir: str  # logs, scheduler file and worker scratch space
    host: str = DEFAULT_HOST
    dashboard: bool = True
    start_method: str | None = None

    def __post_init__(self) -> None:
        if self.start_method is None:
            object.__setattr__(self, "start_method", default_start_method())

    def config(self) -> dict[str, Any]:
        """The settings that define the experiment (the work folder does not)."""
        return {
            "threads_per_worker": self.threads_per_worker,
            "host": self.host,
            "dashboard": self.dashboard,
            "start_method": self.start_method,
        }

    def header(self, n_workers: int) -> list[tuple[str, Any]]:
        """What the run's console header says about the workers started."""
        return [("Workers", n_workers), ("Threads per worker", self.threads_per_worker)]


@dataclass(frozen=True)
class ClusterRequest:
    """The cluster the command line asks for; each kind of deployment reads its part."""

    kind: str  # a key of the registry, ``deploy.BUILDERS``
    launch: LaunchSettings  # read only by the kinds that start something
    death_timeout: float = DEFAULT_TIMEOUT  # workers started here give up on a lost scheduler after it
    processes: bool = True  # LocalCluster: worker processes (False: threads in this process)
    nanny: bool = True  # separate processes: each worker under a nanny
    cluster_class: str | None = None  # any cluster manager, ``module:Class``
    cluster_kwargs: dict[str, Any] = field(default_factory=dict)
    scheduler_address: str | None = None  # a cluster someone else runs...
    scheduler_file: str | None = None  # ...or its scheduler file
    tls_ca_file: str | None = None  # TLS files for the client of such a cluster
    tls_cert: str | None = None
    tls_key: str | None = None


@dataclass(frozen=True)
class WorkerInstrumentation:
    """What a deployment loads into its nannies and workers so they stamp their own startup.

    The module (``dask_timing_worker.py``) is added last to Dask's preloads,
    after the user's own; its stamps are read back by ``measure.waterfall``.
    """

    stamp_dir: str  # where the processes write their stamps (the run's work folder)
    import_profile: bool = False  # nannies start their workers with PYTHONPROFILEIMPORTTIME
    preload: str = stamps.__file__

    def preloads(self) -> dict[str, list[str]]:
        """Dask's preload settings with the stamping module added after the configured ones."""
        import dask.config

        return {setting: [*dask.config.get(setting, []), self.preload] for setting in PRELOAD_SETTINGS}

    def environment(self) -> dict[str, str]:
        """What every process of the cluster is given: the preloads as Dask reads them from the
        environment, the stamps' folder, and whether nannies profile their workers' imports."""
        found = {dask_environment_name(setting): repr(value) for setting, value in self.preloads().items()}
        found[stamps.STAMPS_VARIABLE] = self.stamp_dir
        if self.import_profile:
            found[stamps.IMPORT_PROFILE_VARIABLE] = "1"
        return found

    def nanny_arguments(self) -> list[str]:
        """For ``dask worker --nanny``, whose nanny never reads Dask's nanny preload setting."""
        return ["--preload-nanny", self.preload]

    def own_process_environment(self, name: str) -> dict[str, str]:
        """For a worker with no nanny: its name, and the import profile a nanny would have asked for."""
        found = {stamps.WORKER_VARIABLE: json.dumps({"name": name})}
        if self.import_profile:
            found["PYTHONPROFILEIMPORTTIME"] = "1"
        return found


class DeploymentError(RuntimeError):
    """The cluster could not be started as asked; the message says why."""


def common_threads(workers: list[dict[str, Any]]) -> int | None:
    """The threads per worker the workers found share, or None if they differ."""
    threads = {worker["nthreads"] for worker in workers}
    return threads.pop() if len(threads) == 1 else None


class Deployment(ABC):
    """A cluster the timing loop can time: scheduler up, workers asked for, closed."""

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
    # The console header says whether the run waits for workers even when it does
    # (otherwise only when it does not).
    header_shows_wait = False

    def __init__(self) -> None:
        self.address: str | None = None
        self.dashboard: str | None = None

    @classmethod
    @abstractmethod
    def from_request(cls, request: ClusterRequest) -> Deployment:
        """The deployment a request asks for (its registry entry builds it this way)."""

    @abstractmethod
    def header(self, n_workers: int) -> list[tuple[str, Any]]:
        """What the run's console header says about this deployment."""

    @abstractmethod
    def config(self) -> dict[str, Any]:
        """Settings of this deployment that define the experiment."""

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

    async def held_back(self) -> str | None:
        """Why workers have not registered yet, when something outside Dask holds them (a batch queue)."""
        return None

    async def job_records(self, workers: list[dict[str, Any]], wall_to_run_time: Any) -> list[dict[str, Any]] | None:
        """Batch-queue records of the worker jobs, for deployments whose workers are jobs."""
        return None

    def instrument(self, instrumentation: WorkerInstrumentation) -> str | None:
        """Load the stamping module into the nannies and workers this deployment starts (called
        before anything starts); return why it cannot, or None."""
        return "the workers were not started by this run"

    def started_worker_names(self) -> list[str]:
        """Names of the workers asked for so far (those that never registered included)."""
        return []

    def worker_log_patterns(self) -> list[str]:
        """Glob patterns of the files the worker processes' standard error goes to."""
        return []

    def worker_log_tail(self, name: str) -> str | None:
        """The last lines of a worker's log, for a worker that failed to start."""
        return None

    @abstractmethod
    async def close(self) -> list[int]:
        """Stop everything started; return pids of processes that survived."""
