"""A ``distributed.LocalCluster`` in this process, worker processes spawned by it."""

from __future__ import annotations

from typing import Any

from dask_timing.deploy.base import ClusterRequest, LaunchSettings
from dask_timing.deploy.scaled import ScaledClusterDeployment
from dask_timing.record.kinds import KIND_LOCAL


class LocalClusterDeployment(ScaledClusterDeployment):
    """A ``distributed.LocalCluster`` in this process, worker processes spawned by it."""

    kind = KIND_LOCAL
    title = "Timing Dask LocalCluster Startup"
    scheduler_readiness = "LocalCluster start awaited"
    header_shows_wait = True

    def __init__(self, launch: LaunchSettings, processes: bool = True) -> None:
        super().__init__(launch)
        self.processes = processes

    @classmethod
    def from_request(cls, request: ClusterRequest) -> LocalClusterDeployment:
        return cls(request.launch, processes=request.processes)

    def config(self) -> dict[str, Any]:
        return {**self.launch.config(), "processes": self.processes}

    def header(self, n_workers: int) -> list[tuple[str, Any]]:
        return self.launch.header(n_workers)

    def make_cluster(self) -> Any:
        from distributed import LocalCluster

        launch = self.launch
        # Worker threads in this process talk over inproc, as LocalCluster(processes=False) does.
        network = dict(host=launch.host, scheduler_port=0) if self.processes else {}
        return LocalCluster(
            n_workers=0,
            threads_per_worker=launch.threads_per_worker,
            processes=self.processes,
            dashboard_address=f"{launch.host}:0" if launch.dashboard else None,
            local_directory=launch.workdir,
            asynchronous=True,
            **network,
        )

    def expected_worker_names(self, n_workers: int) -> set[str] | None:
        return {str(index) for index in range(n_workers)}
