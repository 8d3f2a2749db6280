"""A cluster someone else runs: connect, time the client and the tasks, close only the client."""

from __future__ import annotations

import json
from typing import Any

from dask_timing import phases
from dask_timing.record.schema import KIND_EXISTING
from dask_timing.deploy.base import Deployment


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
