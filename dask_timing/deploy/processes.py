"""A ``dask scheduler`` process and one ``dask worker`` process per worker, started here."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from typing import Any

from dask_timing import phases
from dask_timing.deploy.base import (
    START_METHOD_SETTING, ClusterRequest, Deployment, LaunchSettings, WorkerInstrumentation, dask_environment_name,
)
from dask_timing.deploy.managed import ManagedProcess, kill_now
from dask_timing.record.kinds import KIND_DISTRIBUTED

# How often the scheduler file is looked for while a scheduler process starts.
SCHEDULER_FILE_POLL_INTERVAL = 0.002
# How often started processes are checked for an early death (failure detection only).
PROCESS_WATCH_INTERVAL = 0.05


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

    def __init__(self, launch: LaunchSettings, death_timeout: float, nanny: bool = True) -> None:
        super().__init__()
        self.launch = launch
        self.death_timeout = death_timeout
        self.nanny = nanny
        self.scheduler: ManagedProcess | None = None
        self.workers: list[ManagedProcess] = []
        self.scheduler_file = os.path.join(launch.workdir, "scheduler.json")
        self.instrumentation: WorkerInstrumentation | None = None
        self._env = {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            # Dask's environment form of its setting: how nannies start worker processes.
            dask_environment_name(START_METHOD_SETTING): launch.start_method,
        }

    @classmethod
    def from_request(cls, request: ClusterRequest) -> SeparateProcessDeployment:
        return cls(request.launch, death_timeout=request.death_timeout, nanny=request.nanny)

    def config(self) -> dict[str, Any]:
        return {**self.launch.config(), "nanny": self.nanny}

    def header(self, n_workers: int) -> list[tuple[str, Any]]:
        return self.launch.header(n_workers)

    def instrument(self, instrumentation: WorkerInstrumentation) -> str | None:
        """Every process started here gets the stamping module through Dask's environment variables."""
        self.instrumentation = instrumentation
        self._env.update(instrumentation.environment())
        return None

    def _spawn(self, name: str, module: str, arguments: list[str], env: dict[str, str] | None = None) -> ManagedProcess:
        process = ManagedProcess(
            name,
            [sys.executable, "-m", module, *arguments],
            os.path.join(self.launch.workdir, f"{name}.log"),
            env=env or self._env,
            cwd=self.launch.workdir,
        )
        process.start()
        return process

    async def start_scheduler(self) -> None:
        # a scheduler file left by an earlier run killed in the same --log-dir names a dead scheduler
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.scheduler_file)
        self.scheduler = self._spawn(
            "scheduler",
            "distributed.cli.dask_scheduler",
            [
                "--host", self.launch.host,
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
        self.dashboard = f"http://{self.launch.host}:{dashboard_port}/status" if dashboard_port else None

    def _dashboard_arguments(self) -> list[str]:
        return ["--dashboard-address", f"{self.launch.host}:0"] if self.launch.dashboard else ["--no-dashboard"]

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
            name = f"worker-{index}"
            self.workers.append(
                self._spawn(
                    name,
                    "distributed.cli.dask_worker",
                    [
                        self.address,
                        "--name", name,
                        "--nthreads", str(self.launch.threads_per_worker),
                        "--host", self.launch.host,
                        *self._dashboard_arguments(),
                        "--death-timeout", str(self.death_timeout),
                        "--local-directory", self.launch.workdir,
                        "--nanny" if self.nanny else "--no-nanny",
                        *(self.instrumentation.nanny_arguments() if self.instrumentation and self.nanny else []),
                    ],
                    self._worker_environment(name),
                )
            )

    def _worker_environment(self, name: str) -> dict[str, str] | None:
        """A worker with no nanny is its own process: it is told its name (a nanny would tell it)."""
        if self.instrumentation is None or self.nanny:
            return None
        return {**self._env, **self.instrumentation.own_process_environment(name)}

    def started_worker_names(self) -> list[str]:
        return [process.name for process in self.workers]

    def worker_log_patterns(self) -> list[str]:
        return [os.path.join(self.launch.workdir, "worker-*.log")]

    def worker_log_tail(self, name: str) -> str | None:
        return next((process.log_tail() for process in self.workers if process.name == name), None)

    def expected_worker_names(self, n_workers: int) -> set[str] | None:
        return {f"worker-{index}" for index in range(n_workers)}

    async def watch(self) -> None:
        while True:
            for process in [self.scheduler, *self.workers]:
                if process is not None and process.exit_code() is not None:
                    raise process.failure(f"exited with code {process.exit_code()}")
            await asyncio.sleep(PROCESS_WATCH_INTERVAL)

    async def close(self) -> list[int]:
        """Kill the scheduler and the workers at once: the run's figures are taken, nothing is left to save."""
        started = [process for process in [*self.workers, self.scheduler] if process is not None]
        survivors = await asyncio.to_thread(kill_now, started)
        try:  # a killed scheduler leaves its file: remove it, so no later run in --log-dir reads a dead address
            os.remove(self.scheduler_file)
        except FileNotFoundError:
            pass
        return survivors
