"""A ``distributed.LocalCluster`` in this process, worker processes spawned by it."""

from __future__ import annotations

from typing import Any

from dask_timing.record.schema import KIND_LOCAL
from dask_timing.deploy.base import Deployment
from dask_timing.deploy.manager import ClusterManagerDeployment


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
