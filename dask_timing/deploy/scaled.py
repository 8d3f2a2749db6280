"""A Dask cluster object made in this process with no workers, then ``scale(N)``.

The same code path as ``Cluster(n_workers=N)``, timed in two phases: creating
the cluster object times its scheduler (and dashboard) alone; ``scale`` then
starts the workers, timed until each has registered.
"""

from __future__ import annotations

import asyncio
import glob
import inspect
import os
from abc import abstractmethod
from typing import Any

import psutil

from dask_timing import phases
from dask_timing.deploy import batch_jobs
from dask_timing.deploy.base import START_METHOD_SETTING, Deployment, LaunchSettings, WorkerInstrumentation
from dask_timing.record.dask_log import LOG_NAME, log_tail

# Set by Dask's nannies in their own process (here) before they start a worker: restored after the run too.
SPAWN_VARIABLES = ("PYTHONPROFILEIMPORTTIME",)


class ScaledClusterDeployment(Deployment):
    """A cluster object (``LocalCluster``, any cluster manager) created empty, then scaled."""

    scheduler_phase = phases.CLUSTER_INIT
    workers_phase = phases.WAIT_FOR_WORKERS
    scheduler_readiness = "cluster start awaited"
    connect_to = "cluster"

    def __init__(self, launch: LaunchSettings) -> None:
        super().__init__()
        self.launch = launch
        self.cluster: Any = None
        self._children_before: set[int] = set()
        self._scaled_event: asyncio.Event | None = None
        self.instrumentation: WorkerInstrumentation | None = None
        self._saved_environment: dict[str, str | None] = {}
        self._requested_names: list[str] = []  # kept: closing the cluster forgets its workers...
        self._job_ids: dict[str, str] = {}  # ...and their batch jobs

    @abstractmethod
    def make_cluster(self) -> Any:
        """The cluster object, not started yet (asynchronous)."""

    async def held_back(self) -> str | None:
        return await batch_jobs.queued(self.cluster)

    async def job_records(self, workers: list[dict[str, Any]], wall_to_run_time: Any) -> list[dict[str, Any]] | None:
        return await batch_jobs.job_records(self.cluster, workers, wall_to_run_time)

    def instrument(self, instrumentation: WorkerInstrumentation) -> str | None:
        """Nannies and workers made here read Dask's settings of this process; worker processes started
        from it (spawned, forked, subprocesses) inherit its environment: both get the stamping module."""
        self.instrumentation = instrumentation
        return None

    def _apply_instrumentation(self) -> None:
        import dask.config

        dask.config.set(self.instrumentation.preloads())
        environment = self.instrumentation.environment()
        self._saved_environment = {name: os.environ.get(name) for name in [*environment, *SPAWN_VARIABLES]}
        os.environ.update(environment)

    def _restore_environment(self) -> None:
        for name, value in self._saved_environment.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

    async def start_scheduler(self) -> None:
        import dask.config

        # How nannies start worker processes; read by distributed when it spawns them.
        dask.config.set({START_METHOD_SETTING: self.launch.start_method})
        if self.instrumentation is not None:
            self._apply_instrumentation()
        self._children_before = {child.pid for child in psutil.Process().children(recursive=True)}
        # Made first and started by awaiting it, so close() can reach a half-started cluster.
        self.cluster = self.make_cluster()
        await self.cluster
        self.address = self.cluster.scheduler_address
        self.dashboard = getattr(self.cluster, "dashboard_link", None) if self.launch.dashboard else None

    @property
    def client_target(self) -> Any:
        return self.cluster

    async def request_workers(self, n_workers: int) -> None:
        scaled = self.cluster.scale(n_workers)
        self._requested_names = [str(name) for name in getattr(self.cluster, "worker_spec", None) or {}]
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
        try:
            await self._close_cluster()
        finally:  # also when the run gives up on close() at its bound (a stopped worker process can hold it)
            # Worker processes a cluster starts here are our children: none may outlive close().
            leftovers = [
                child
                for child in _living_children()
                if child.pid not in self._children_before and not _is_multiprocessing_server(child)
            ]
            for child in leftovers:
                child.kill()
            self._restore_environment()
        return [child.pid for child in leftovers]

    async def _close_cluster(self) -> None:
        if self.cluster is not None:
            from distributed.core import Status

            self._job_ids = batch_jobs.job_ids(self.cluster)
            if self.cluster.status != Status.created:  # a cluster that never started has nothing to close
                try:
                    await self.cluster.close()
                except AssertionError:
                    # SpecCluster asserts at the very end of close() that every worker it made has closed;
                    # one whose start failed (a missing qsub, say) stays "created". All else is closed by then.
                    if not any(worker.status == Status.created for worker in getattr(self.cluster, "_created", ())):
                        raise
            # close() cancels the cluster's jobs; cancel again any it missed (a no-op otherwise).
            await batch_jobs.cancel(self.cluster, list(self._job_ids.values()))

    def started_worker_names(self) -> list[str]:
        return self._requested_names

    def worker_log_patterns(self) -> list[str]:
        """Batch jobs write their own files; workers started here write to this process's standard
        error, which the run sends to its dask.log."""
        if hasattr(self.cluster, "job_cls"):  # dask-jobqueue
            return [os.path.join(self.launch.workdir, "*.err")]
        return [os.path.join(self.launch.workdir, LOG_NAME)]

    def worker_log_tail(self, name: str) -> str | None:
        job_id = self._job_ids.get(name)
        pattern = f"*-{job_id}.err" if job_id else LOG_NAME
        paths = glob.glob(os.path.join(self.launch.workdir, pattern))
        return log_tail(paths[0]) if paths else None


def _living_children() -> list[psutil.Process]:
    living = []
    for child in psutil.Process().children(recursive=True):
        try:
            if child.status() != psutil.STATUS_ZOMBIE:
                living.append(child)
        except psutil.NoSuchProcess:
            pass
    return living


def _is_multiprocessing_server(process: psutil.Process) -> bool:
    """multiprocessing's resource tracker, or the fork server that starts workers with ``forkserver``: each
    lives as long as this process, by design (the workers it forked are still found, as its children)."""
    try:
        return any("resource_tracker" in part or "forkserver" in part for part in process.cmdline())
    except psutil.NoSuchProcess:
        return False
