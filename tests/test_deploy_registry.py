"""A new kind of deployment is one class and one registry line: the same loop times it."""

from __future__ import annotations

import asyncio
import math
from typing import Any

import pytest

from dask_timing import deploy, phases
from dask_timing.deploy.base import ClusterRequest, Deployment, LaunchSettings
from dask_timing.measure import events
from dask_timing.measure.assemble import assemble_result
from dask_timing.measure.run import Run, RunPlan


class InProcessDeployment(Deployment):
    """A distributed Scheduler and Workers as objects in this process: no cluster manager at all."""

    kind = "in-process"
    title = "Timing a Scheduler and Workers in this process"
    scheduler_phase = phases.SCHEDULER_START
    workers_phase = phases.WORKERS_START
    scheduler_readiness = "Scheduler start awaited"

    def __init__(self, launch: LaunchSettings) -> None:
        super().__init__()
        self.launch = launch
        self.scheduler: Any = None
        self.workers: list[Any] = []
        self.starting: list[asyncio.Task] = []

    @classmethod
    def from_request(cls, request: ClusterRequest) -> InProcessDeployment:
        return cls(request.launch)

    def header(self, n_workers: int) -> list[tuple[str, Any]]:
        return self.launch.header(n_workers)

    def config(self) -> dict[str, Any]:
        return self.launch.config()

    async def start_scheduler(self) -> None:
        from distributed import Scheduler

        self.scheduler = Scheduler(host=self.launch.host, port=0, dashboard=False)
        await self.scheduler
        self.address = self.scheduler.address

    @property
    def client_target(self) -> Any:
        return self.address

    async def request_workers(self, n_workers: int) -> None:
        from distributed import Worker

        for index in range(len(self.workers), n_workers):
            worker = Worker(self.address, name=f"in-process-{index}", nthreads=self.launch.threads_per_worker,
                            host=self.launch.host, local_directory=self.launch.workdir)
            self.workers.append(worker)
            self.starting.append(asyncio.ensure_future(worker.start()))  # registers in the background

    def expected_worker_names(self, n_workers: int) -> set[str] | None:
        return {f"in-process-{index}" for index in range(n_workers)}

    async def close(self) -> list[int]:
        await asyncio.gather(*self.starting, return_exceptions=True)
        await asyncio.gather(*(worker.close() for worker in self.workers), return_exceptions=True)
        if self.scheduler is not None:
            await self.scheduler.close()
        return []


@pytest.mark.timeout(60)
def test_a_registered_kind_is_timed_by_the_same_loop(monkeypatch, tmp_path):
    monkeypatch.setitem(deploy.BUILDERS, InProcessDeployment.kind, f"{__name__}:InProcessDeployment")
    launch = LaunchSettings(threads_per_worker=1, workdir=str(tmp_path))
    deployment = deploy.build_deployment(ClusterRequest(InProcessDeployment.kind, launch))
    assert isinstance(deployment, InProcessDeployment)

    plan = RunPlan(n_workers=2, batch_size=5, timeout=30)
    seen: list[events.RunEvent] = []
    measured = asyncio.run(Run(deployment, plan, [seen.append]).execute())
    result = assemble_result(measured, deployment, plan, options={}, before_start={})

    assert result.status == "ok", result.error
    assert result.kind == "in-process"
    assert result.config == {"n_workers": 2, "wait_for_workers": True, "batch_size": 5, **launch.config()}
    # The deployment's own phases, in run order, tiling the total exactly.
    assert list(result.phases) == ["scheduler_start", "client_connect", "workers_start", "first_task"]
    assert all(seconds > 0 for seconds in result.phases.values())
    assert math.isclose(sum(result.phases.values()), result.total_time, rel_tol=1e-9)
    assert sorted(worker["name"] for worker in result.workers) == ["in-process-0", "in-process-1"]
    assert all(0 < worker["arrival_time"] <= result.total_time for worker in result.workers)
    assert result.after_ready["batch_5_tasks"] > 0 and result.teardown_time > 0
    # Observers heard every phase start and finish, the batch and teardown after the total.
    finished = [event.phase for event in seen if isinstance(event, events.PhaseFinished)]
    assert finished == [phases.SCHEDULER_START, phases.CLIENT_CONNECT, phases.WORKERS_START, phases.FIRST_TASK,
                        phases.BATCH, phases.TEARDOWN]
    assert sum(isinstance(event, events.PhaseStarted) for event in seen) == len(finished)
    assert isinstance(seen[0], events.RunStarted) and seen[0].title == InProcessDeployment.title


def test_an_unknown_kind_is_refused_by_name(tmp_path):
    request = ClusterRequest("no-such-kind", LaunchSettings(threads_per_worker=1, workdir=str(tmp_path)))
    with pytest.raises(ValueError, match="no deployment of kind 'no-such-kind'; known: local, distributed"):
        deploy.build_deployment(request)
