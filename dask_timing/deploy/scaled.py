"""A Dask cluster object made in this process with no workers, then ``scale(N)``.

The same code path as ``Cluster(n_workers=N)``, timed in two phases: creating
the cluster object times its scheduler (and dashboard) alone; ``scale`` then
starts the workers, timed until each has registered.
"""

from __future__ import annotations

import asyncio
import inspect
from abc import abstractmethod
from typing import Any

import psutil

from dask_timing import phases
from dask_timing.deploy import batch_jobs
from dask_timing.deploy.base import START_METHOD_SETTING, Deployment, LaunchSettings


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

    @abstractmethod
    def make_cluster(self) -> Any:
        """The cluster object, not started yet (asynchronous)."""

    async def held_back(self) -> str | None:
        return await batch_jobs.queued(self.cluster)

    async def job_records(self, workers: list[dict[str, Any]], wall_to_run_time: Any) -> list[dict[str, Any]] | None:
        return await batch_jobs.job_records(self.cluster, workers, wall_to_run_time)

    async def start_scheduler(self) -> None:
        import dask.config

        # How nannies start worker processes; read by distributed when it spawns them.
        dask.config.set({START_METHOD_SETTING: self.launch.start_method})
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
            from distributed.core import Status

            jobs = list(batch_jobs.job_ids(self.cluster).values())
            if self.cluster.status != Status.created:  # a cluster that never started has nothing to close
                try:
                    await self.cluster.close()
                except AssertionError:
                    # SpecCluster asserts at the very end of close() that every worker it made has closed;
                    # one whose start failed (a missing qsub, say) stays "created". All else is closed by then.
                    if not any(worker.status == Status.created for worker in getattr(self.cluster, "_created", ())):
                        raise
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
