"""Ways of getting a cluster: each starts a scheduler, asks for workers and closes.

The runner times a deployment without knowing how it makes its cluster, so a
new way (an existing scheduler, any Dask cluster manager) is one more subclass
of ``Deployment`` and nothing else changes.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from abc import ABC, abstractmethod
from typing import Any

import psutil

from . import phases
from .phases import Phase
from .processes import ManagedProcess, terminate
from .result import KIND_DISTRIBUTED, KIND_LOCAL

# How often the scheduler file is looked for while a scheduler process starts.
SCHEDULER_FILE_POLL_INTERVAL = 0.002
# How often started processes are checked for an early death (failure detection only).
PROCESS_WATCH_INTERVAL = 0.05
# Seconds a SIGTERM'd process gets before SIGKILL.
TERMINATE_GRACE = 3.0
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
    scheduler_phase: Phase
    workers_phase: Phase
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

    @abstractmethod
    async def close(self) -> list[int]:
        """Stop everything started; return pids of processes that survived."""


class LocalClusterDeployment(Deployment):
    """A ``distributed.LocalCluster`` in this process, worker processes spawned by it.

    The cluster is created with no workers, so creating it times the scheduler
    (and dashboard) alone; ``scale`` then starts the workers, timed until each
    has registered.  Both go through the same code as ``LocalCluster(n_workers=N)``.
    """

    kind = KIND_LOCAL
    title = "Timing Dask LocalCluster Startup"
    scheduler_phase = phases.CLUSTER_INIT
    workers_phase = phases.WAIT_FOR_WORKERS
    scheduler_readiness = "LocalCluster start awaited"
    connect_to = "cluster"

    def __init__(self, *args: Any, processes: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.processes = processes
        self.cluster: Any = None
        self._children_before: set[int] = set()

    def config(self) -> dict[str, Any]:
        return {**super().config(), "processes": self.processes}

    async def start_scheduler(self) -> None:
        import dask.config
        from distributed import LocalCluster

        # How the nannies start worker processes; read by distributed when it spawns them.
        dask.config.set({START_METHOD_SETTING: self.start_method})

        self._children_before = {child.pid for child in psutil.Process().children(recursive=True)}
        # Made first and started by awaiting it, so close() can reach a half-started cluster.
        # Worker threads in this process talk over inproc, as LocalCluster(processes=False) does.
        network = dict(host=self.host, scheduler_port=0) if self.processes else {}
        self.cluster = LocalCluster(
            n_workers=0,
            threads_per_worker=self.threads_per_worker,
            processes=self.processes,
            dashboard_address=f"{self.host}:0" if self.with_dashboard else None,
            local_directory=self.workdir,
            asynchronous=True,
            **network,
        )
        await self.cluster
        self.address = self.cluster.scheduler_address
        self.dashboard = self.cluster.dashboard_link if self.with_dashboard else None

    @property
    def client_target(self) -> Any:
        return self.cluster

    async def request_workers(self, n_workers: int) -> None:
        self.cluster.scale(n_workers)

    def expected_worker_names(self, n_workers: int) -> set[str] | None:
        return {str(index) for index in range(n_workers)}

    async def close(self) -> list[int]:
        if self.cluster is not None:
            await self.cluster.close()
        # The cluster's worker processes are our children: none may outlive close().
        leftovers = [
            child
            for child in _living_children()
            if child.pid not in self._children_before and not _is_resource_tracker(child)
        ]
        for child in leftovers:
            child.kill()
        return [child.pid for child in leftovers]


def _living_children() -> list[psutil.Process]:
    living = []
    for child in psutil.Process().children(recursive=True):
        try:
            if child.status() != psutil.STATUS_ZOMBIE:
                living.append(child)
        except psutil.NoSuchProcess:
            pass
    return living


def _is_resource_tracker(process: psutil.Process) -> bool:
    """multiprocessing's resource tracker: it lives as long as this process, by design."""
    try:
        return any("resource_tracker" in part for part in process.cmdline())
    except psutil.NoSuchProcess:
        return False


class SeparateProcessDeployment(Deployment):
    """A ``dask scheduler`` process and one ``dask worker`` process per worker.

    They run on this interpreter (``python -m distributed.cli...``), so their
    versions always match the client's; each gets a process group and a log file.
    """

    kind = KIND_DISTRIBUTED
    title = "Timing Dask Scheduler and Workers (Separate Processes)"
    scheduler_phase = phases.SCHEDULER_START
    workers_phase = phases.WORKERS_START
    scheduler_readiness = "scheduler file polled"
    poll_interval = SCHEDULER_FILE_POLL_INTERVAL

    def __init__(self, *args: Any, death_timeout: float, nanny: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.death_timeout = death_timeout
        self.nanny = nanny
        self.scheduler: ManagedProcess | None = None
        self.workers: list[ManagedProcess] = []
        self.scheduler_file = os.path.join(self.workdir, "scheduler.json")
        self._env = {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            # Dask's environment form of its setting: how nannies start worker processes.
            "DASK_" + START_METHOD_SETTING.upper().replace(".", "__").replace("-", "_"): self.start_method,
        }

    def config(self) -> dict[str, Any]:
        return {**super().config(), "nanny": self.nanny}

    def _spawn(self, name: str, module: str, arguments: list[str]) -> ManagedProcess:
        process = ManagedProcess(
            name,
            [sys.executable, "-m", module, *arguments],
            os.path.join(self.workdir, f"{name}.log"),
            env=self._env,
            cwd=self.workdir,
        )
        process.start()
        return process

    async def start_scheduler(self) -> None:
        self.scheduler = self._spawn(
            "scheduler",
            "distributed.cli.dask_scheduler",
            [
                "--host", self.host,
                "--port", "0",
                *self._dashboard_arguments(),
                "--scheduler-file", self.scheduler_file,
            ],
        )
        while True:
            identity = self._read_scheduler_file()
            if identity is not None:
                break
            if self.scheduler.exit_code() is not None:
                raise self.scheduler.failure(f"exited with code {self.scheduler.exit_code()} while starting")
            await asyncio.sleep(SCHEDULER_FILE_POLL_INTERVAL)
        self.address = identity["address"]
        dashboard_port = identity.get("services", {}).get("dashboard")
        self.dashboard = f"http://{self.host}:{dashboard_port}/status" if dashboard_port else None

    def _dashboard_arguments(self) -> list[str]:
        return ["--dashboard-address", f"{self.host}:0"] if self.with_dashboard else ["--no-dashboard"]

    def _read_scheduler_file(self) -> dict | None:
        try:
            with open(self.scheduler_file, encoding="utf-8") as stream:
                identity = json.load(stream)
        except (FileNotFoundError, json.JSONDecodeError):  # not yet, or half written
            return None
        return identity if "address" in identity else None

    @property
    def client_target(self) -> Any:
        return self.address

    async def request_workers(self, n_workers: int) -> None:
        for index in range(len(self.workers), n_workers):
            self.workers.append(
                self._spawn(
                    f"worker-{index}",
                    "distributed.cli.dask_worker",
                    [
                        self.address,
                        "--name", f"worker-{index}",
                        "--nthreads", str(self.threads_per_worker),
                        "--host", self.host,
                        *self._dashboard_arguments(),
                        "--death-timeout", str(self.death_timeout),
                        "--local-directory", self.workdir,
                        "--nanny" if self.nanny else "--no-nanny",
                    ],
                )
            )

    def expected_worker_names(self, n_workers: int) -> set[str] | None:
        return {f"worker-{index}" for index in range(n_workers)}

    async def watch(self) -> None:
        while True:
            for process in [self.scheduler, *self.workers]:
                if process is not None and process.exit_code() is not None:
                    raise process.failure(f"exited with code {process.exit_code()}")
            await asyncio.sleep(PROCESS_WATCH_INTERVAL)

    async def close(self) -> list[int]:
        started = [process for process in [*self.workers, self.scheduler] if process is not None]
        return await asyncio.to_thread(terminate, started, TERMINATE_GRACE)
