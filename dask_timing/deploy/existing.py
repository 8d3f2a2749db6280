"""A cluster someone else runs: connect, time the client and the tasks, close only the client."""

from __future__ import annotations

import json
from typing import Any

from dask_timing import phases
from dask_timing.deploy.base import ClusterRequest, Deployment, common_threads
from dask_timing.record.kinds import KIND_EXISTING


def client_security(ca_file: str | None, cert: str | None, key: str | None) -> Any:
    """distributed's Security for a client of a TLS scheduler, or None without TLS files."""
    files = {"tls_ca_file": ca_file, "tls_client_cert": cert, "tls_client_key": key}
    if not any(files.values()):
        return None
    from distributed.security import Security

    return Security(require_encryption=True, **{name: path for name, path in files.items() if path})


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
        super().__init__()
        self.given_address = address
        self.scheduler_file = scheduler_file
        self.security = security
        self.observed: dict[str, Any] = {}

    @classmethod
    def from_request(cls, request: ClusterRequest) -> ExistingClusterDeployment:
        security = client_security(request.tls_ca_file, request.tls_cert, request.tls_key)
        return cls(request.scheduler_address, request.scheduler_file, security)

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
        self.observed = {"n_workers": len(workers), "threads_per_worker": common_threads(workers)}

    async def close(self) -> list[int]:
        return []
