"""Any Dask cluster manager (LocalCluster, SubprocessCluster, dask-jobqueue, dask-kubernetes...).

Created with no workers, then ``scale(N)``: the same code path as
``Cluster(n_workers=N)``, timed in two phases.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import json
from typing import Any

import psutil

from dask_timing import phases
from dask_timing.record.schema import KIND_CLUSTER
from dask_timing.deploy import batch_jobs
from dask_timing.deploy.base import START_METHOD_SETTING, Deployment


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
