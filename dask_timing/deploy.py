"""Ways of getting a cluster: each starts a scheduler, asks for workers and closes.

The runner times a deployment without knowing how it makes its cluster, so a
new way (an existing scheduler, any Dask cluster manager) is one more subclass
of ``Deployment`` and nothing else changes.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import json
import os
import sys
from abc import ABC, abstractmethod
from typing import Any

import psutil

from . import batch_jobs, phases
from .phases import Phase
from .processes import ManagedProcess, terminate
from .result import KIND_CLUSTER, KIND_DISTRIBUTED, KIND_EXISTING, KIND_LOCAL

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


class ClusterManagerDeployment(Deployment):
    """Any Dask cluster manager (``LocalCluster``, ``SubprocessCluster``, dask-jobqueue's
    ``SLURMCluster``, dask-kubernetes' ``KubeCluster``...): created with no workers,
    then ``scale(N)``.

    Creating the cluster object times its scheduler (and dashboard) alone;
    ``scale`` then starts the workers, timed until each has registered.  Both go
    through the same code as ``Cluster(n_workers=N)``.
    """

    kind = KIND_CLUSTER
    scheduler_phase = phases.CLUSTER_INIT
    workers_phase = phases.WAIT_FOR_WORKERS
    scheduler_readiness = "cluster start awaited"
    connect_to = "cluster"

    def __init__(self, cluster_class: str, cluster_kwargs: dict[str, Any], *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.cluster_class = cluster_class
        self.cluster_kwargs = cluster_kwargs
        self.cluster: Any = None
        self.observed: dict[str, Any] = {}
        self._children_before: set[int] = set()
        self._scaled_event: asyncio.Event | None = None

    @property
    def title(self) -> str:
        return f"Timing Dask Cluster Manager Startup ({self.cluster_class})"

    def header(self, n_workers: int) -> list[tuple[str, Any]]:
        return [("Workers", n_workers), ("Cluster class", self.cluster_class),
                ("Cluster arguments", json.dumps(self.cluster_kwargs))]

    def config(self) -> dict[str, Any]:
        return {
            "cluster_class": self.cluster_class,
            "cluster_kwargs": self.cluster_kwargs,
            "start_method": self.start_method,
            **self.observed,
        }

    def observe_workers(self, workers: list[dict[str, Any]]) -> None:
        """Threads per worker are set by the class's own arguments: record what came up."""
        threads = {worker["nthreads"] for worker in workers}
        self.observed = {"threads_per_worker": threads.pop() if len(threads) == 1 else None}

    async def job_records(self, workers: list[dict[str, Any]], wall_to_run_time: Any) -> list[dict[str, Any]] | None:
        return await batch_jobs.job_records(self.cluster, workers, wall_to_run_time)

    def make_cluster(self) -> Any:
        """The cluster object, not started yet (asynchronous)."""
        cls = import_cluster_class(self.cluster_class)
        arguments = cluster_defaults(cls, self.host, self.workdir)
        for name, value in self.cluster_kwargs.items():  # the user's settings win, nested ones too
            if isinstance(value, dict) and isinstance(arguments.get(name), dict):
                arguments[name] = {**arguments[name], **value}
            else:
                arguments[name] = value
        return cls(**arguments, asynchronous=True)

    async def start_scheduler(self) -> None:
        import dask.config

        # How nannies start worker processes; read by distributed when it spawns them.
        dask.config.set({START_METHOD_SETTING: self.start_method})
        self._children_before = {child.pid for child in psutil.Process().children(recursive=True)}
        # Made first and started by awaiting it, so close() can reach a half-started cluster.
        self.cluster = self.make_cluster()
        await self.cluster
        self.address = self.cluster.scheduler_address
        self.dashboard = getattr(self.cluster, "dashboard_link", None) if self.with_dashboard else None

    @property
    def client_target(self) -> Any:
        return self.cluster

    async def request_workers(self, n_workers: int) -> None:
        scaled = self.cluster.scale(n_workers)
        if inspect.isawaitable(scaled):
            await scaled
        self._scaled.set()

    @property
    def _scaled(self) -> asyncio.Event:
        if self._scaled_event is None:
            self._scaled_event = asyncio.Event()
        return self._scaled_event

    async def watch(self) -> None:
        """Fail as soon as the cluster fails to start a worker (SpecCluster-based managers).

        ``scale`` starts workers in the background and only logs their failures;
        awaiting the same correction of state here surfaces them at once, instead
        of after the whole timeout.
        """
        await self._scaled.wait()  # never while the cluster itself is starting
        correct_state = getattr(self.cluster, "_correct_state", None)
        if correct_state is not None:
            # shielded: when the run moves on and cancels this watch, the cluster's own
            # (shared) task that starts the workers must not be cancelled with it
            await asyncio.shield(correct_state())
        await super().watch()

    async def close(self) -> list[int]:
        if self.cluster is not None:
            jobs = list(batch_jobs.job_ids(self.cluster).values())
            await self.cluster.close()
            # close() cancels the cluster's jobs; cancel again any it missed (a no-op otherwise).
            await batch_jobs.cancel(self.cluster, jobs)
        # Worker processes a cluster starts here are our children: none may outlive close().
        leftovers = [
            child
            for child in _living_children()
            if child.pid not in self._children_before and not _is_resource_tracker(child)
        ]
        for child in leftovers:
            child.kill()
        return [child.pid for child in leftovers]


class LocalClusterDeployment(ClusterManagerDeployment):
    """A ``distributed.LocalCluster`` in this process, worker processes spawned by it."""

    kind = KIND_LOCAL
    title = "Timing Dask LocalCluster Startup"
    scheduler_readiness = "LocalCluster start awaited"

    def __init__(self, *args: Any, processes: bool = True, **kwargs: Any) -> None:
        super().__init__("distributed:LocalCluster", {}, *args, **kwargs)
        self.processes = processes

    def config(self) -> dict[str, Any]:
        return {**Deployment.config(self), "processes": self.processes}

    def header(self, n_workers: int) -> list[tuple[str, Any]]:
        return Deployment.header(self, n_workers)

    def make_cluster(self) -> Any:
        from distributed import LocalCluster

        # Worker threads in this process talk over inproc, as LocalCluster(processes=False) does.
        network = dict(host=self.host, scheduler_port=0) if self.processes else {}
        return LocalCluster(
            n_workers=0,
            threads_per_worker=self.threads_per_worker,
            processes=self.processes,
            dashboard_address=f"{self.host}:0" if self.with_dashboard else None,
            local_directory=self.workdir,
            asynchronous=True,
            **network,
        )

    def expected_worker_names(self, n_workers: int) -> set[str] | None:
        return {str(index) for index in range(n_workers)}

    def observe_workers(self, workers: list[dict[str, Any]]) -> None:
        """LocalCluster's threads are the ones asked for: nothing to learn."""


class ExistingClusterDeployment(Deployment):
    """A cluster someone else runs: connect, time the client and the tasks, close only the client."""

    kind = KIND_EXISTING
    title = "Timing an Existing Dask Cluster"
    scheduler_phase = None
    workers_phase = None
    starts_workers = False
    scheduler_readiness = "already running"
    teardown_phase = phases.CLIENT_CLOSE

    def __init__(self, address: str | None, scheduler_file: str | None, security: Any = None) -> None:
        super().__init__(threads_per_worker=0, host="", workdir="")
        self.given_address = address
        self.scheduler_file = scheduler_file
        self.security = security
        self.observed: dict[str, Any] = {}

    def config(self) -> dict[str, Any]:
        return {"scheduler": self.given_address or self.scheduler_file, **self.observed}

    def header(self, n_workers: int) -> list[tuple[str, Any]]:
        return [("Scheduler", self.given_address or f"from {self.scheduler_file}")]

    async def start_scheduler(self) -> None:
        """Nothing to start: find the address (from the scheduler file if given)."""
        if self.scheduler_file:
            with open(self.scheduler_file, encoding="utf-8") as stream:
                self.address = json.load(stream)["address"]
        else:
            self.address = self.given_address

    @property
    def client_target(self) -> Any:
        return self.address

    async def request_workers(self, n_workers: int) -> None:
        """The cluster's workers are whatever it has; none are asked for."""

    def observe_workers(self, workers: list[dict[str, Any]]) -> None:
        """Record the worker count and threads found, as the configuration of this run."""
        threads = {worker["nthreads"] for worker in workers}
        self.observed = {"n_workers": len(workers), "threads_per_worker": threads.pop() if len(threads) == 1 else None}

    async def close(self) -> list[int]:
        return []


def import_cluster_class(path: str) -> Any:
    """``module:Class`` (or ``module.Class``) to the class, or a factory such as
    ``SubprocessCluster``; ValueError saying what is wrong."""
    module_name, _, class_name = path.partition(":") if ":" in path else path.rpartition(".")
    if not module_name or not class_name:
        raise ValueError(f"{path!r} is not module:Class (e.g. dask_jobqueue:SLURMCluster)")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ValueError(f"cannot import {module_name} ({error}); is it installed?") from None
    cls = getattr(module, class_name, None)
    if not callable(cls):
        raise ValueError(f"{module_name} has no cluster class {class_name}")
    return cls


def cluster_defaults(cls: Any, host: str, workdir: str) -> dict[str, Any]:
    """What we pass unless the user's kwargs say otherwise, where the class takes it: no
    workers at first (LocalCluster's default is one per core), a scheduler and dashboard
    on ``host`` and free ports (some classes default to the fixed 8787), and batch jobs'
    output in the run's work folder rather than wherever the tool was started."""
    try:
        parameters = inspect.signature(cls).parameters
    except (TypeError, ValueError):
        return {}
    network = {"host": host, "scheduler_port": 0, "dashboard_address": f"{host}:0"}
    if "scheduler_options" in parameters:  # dask-jobqueue: the scheduler's settings go there
        defaults: dict[str, Any] = {"scheduler_options": {"host": host, "dashboard_address": f"{host}:0"}}
    else:
        defaults = {name: value for name, value in network.items() if name in parameters}
    if "n_workers" in parameters:
        defaults["n_workers"] = 0
    if hasattr(cls, "job_cls"):  # dask-jobqueue
        defaults["log_directory"] = workdir
    return defaults


def check_cluster_arguments(path: str, kwargs: dict[str, Any]) -> None:
    """Fail before anything starts if the class is missing or the kwargs do not fit it."""
    cls = import_cluster_class(path)
    try:
        signature = inspect.signature(cls)
    except (TypeError, ValueError):
        return
    accepts_any = any(parameter.kind is inspect.Parameter.VAR_KEYWORD for parameter in signature.parameters.values())
    unknown = [name for name in kwargs if name not in signature.parameters]
    if unknown and not accepts_any:
        raise ValueError(f"{path} takes no argument {', '.join(unknown)}")


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
