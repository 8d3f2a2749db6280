"""The timing loop: one run of one deployment, phase by phase, always torn down.

Phases follow each other on one monotonic timeline, so they add up to the
total time to ready.  Every wait is bounded by the run's timeout.  Whatever
happens (success, an error, a timeout, Ctrl-C or SIGTERM turned into
cancellation), the cluster is torn down, teardown is timed on its own, and the
measurements say how the run ended.

The loop only measures: it tells its observers what happens (``events``),
and the result is assembled from its ``Measurements`` afterwards
(``assemble``).
"""

from __future__ import annotations

import asyncio
import contextlib
import operator
from dataclasses import dataclass, field
from typing import Any, Awaitable, Sequence

from dask_timing import phases
from dask_timing.defaults import DEFAULT_TIMEOUT
from dask_timing.deploy.base import Deployment, DeploymentError
from dask_timing.deploy.managed import ChildFailed
from dask_timing.errors import describe_failure
from dask_timing.measure import events
from dask_timing.measure.arrivals import WorkerArrivals
from dask_timing.measure.clock import Timeline
from dask_timing.measure.probes import ProbeSettings, run_probes
from dask_timing.measure.workloads import DEFAULT_CHUNK, run_workload
from dask_timing.record.environment import utc_timestamp
from dask_timing.record.schema import STATUS_FAILED, STATUS_INTERRUPTED, STATUS_OK

# Seconds the client gets to close during teardown before it is abandoned.
CLIENT_CLOSE_TIMEOUT = 5.0
# The first task, as the result describes it.
FIRST_TASK_CALL = "operator.add(1, 1)"


@dataclass(frozen=True)
class Diagnostics:
    """Optional measurements after ready, and Dask's own diagnostics around them."""

    probes: ProbeSettings | None = None
    performance_report: str | None = None  # HTML file
    memory_sample_interval: float | None = None  # seconds; None: no sampling


@dataclass(frozen=True)
class RunPlan:
    """What to measure: how many workers, whether to wait, the batch, the bound on waits."""

    n_workers: int
    wait_for_workers: bool = True
    batch_size: int = 0
    timeout: float = DEFAULT_TIMEOUT
    diagnostics: Diagnostics = Diagnostics()
    workload: str | None = None
    workload_chunk: int = DEFAULT_CHUNK

    def config(self) -> dict[str, Any]:
        """What defines the experiment, for the result's configuration."""
        config: dict[str, Any] = {
            "n_workers": self.n_workers,
            "wait_for_workers": self.wait_for_workers,
            "batch_size": self.batch_size,
        }
        if self.workload:
            config.update(workload=self.workload, workload_chunk=self.workload_chunk)
        return config


def describe_with_cause(error: BaseException) -> str:
    """``Type: message``, followed by the root cause Dask wrapped it around, if any."""
    text = describe_failure(error)
    root = error
    while root.__cause__ is not None:
        root = root.__cause__
    return text if root is error else f"{text} (caused by {describe_failure(root)})"


class RunTimeout(RuntimeError):
    """A wait exceeded the run's timeout; the message names what was awaited."""


async def bounded(awaitable: Awaitable[Any], timeout: float, what: str) -> Any:
    """Await with the run's timeout, failing with a message that says what hung."""
    try:
        return await asyncio.wait_for(awaitable, timeout)
    except asyncio.TimeoutError:
        raise RunTimeout(
            f"timed out after {timeout:g} s waiting for {what}; raise --timeout if this "
            "deployment is slow"
        ) from None


async def first_of(main: Awaitable[Any], watchdog: Awaitable[Any]) -> Any:
    """Run ``main`` while ``watchdog`` looks for failures; the first to finish wins."""
    main_task = asyncio.ensure_future(main)
    watch_task = asyncio.ensure_future(watchdog)
    try:
        done, _ = await asyncio.wait({main_task, watch_task}, return_when=asyncio.FIRST_COMPLETED)
        return (main_task if main_task in done else watch_task).result()
    finally:
        for task in (main_task, watch_task):
            task.cancel()
        await asyncio.gather(main_task, watch_task, return_exceptions=True)


@dataclass
class Measurements:
    """Everything one run measured, in one place; the result is assembled from it."""

    timeline: Timeline = field(default_factory=Timeline)
    started_at: str = field(default_factory=utc_timestamp)
    status: str = STATUS_OK
    error: str | None = None
    workers: list[dict[str, Any]] = field(default_factory=list)
    workers_requested_at: float | None = None  # seconds on the timeline
    probes: dict[str, Any] | None = None
    memory_samples: list[tuple[float, int]] | None = None  # (wall-clock stamp, bytes) from Dask's sampler
    versions: dict[str, Any] | None = None
    jobs: list[dict[str, Any]] | None = None

    def fail(self, status: str, error: str) -> None:
        """Record how the run ended; an earlier failure keeps its status and its reason comes first."""
        if self.status == STATUS_OK:
            self.status = status
        self.error = f"{self.error}; {error}" if self.error else error


class Run:
    """One timed run of a deployment; ``execute`` returns what it measured."""

    def __init__(self, deployment: Deployment, plan: RunPlan, observers: Sequence[events.RunObserver] = ()) -> None:
        self.deployment = deployment
        self.plan = plan
        self.observers = tuple(observers)
        self.measured = Measurements()
        self.client: Any = None
        self.arrivals: WorkerArrivals | None = None
        self.fields = {
            "n_workers": plan.n_workers,
            "n_tasks": plan.batch_size,
            "connect_to": deployment.connect_to,
            "workload": plan.workload,
        }

    @property
    def _waits_for_workers(self) -> bool:
        return self.plan.wait_for_workers and self.deployment.starts_workers

    def _tell(self, event: events.RunEvent) -> None:
        for observer in self.observers:
            observer(event)

    async def execute(self) -> Measurements:
        """Time the run; tear down whatever happens; return what was measured.

        Cancellation (how the command line delivers Ctrl-C and SIGTERM) ends the
        measurement, not the teardown: the run is closed and reported as
        interrupted.
        """
        measured = self.measured
        self._tell(events.RunStarted(self.deployment.title, self._header_settings()))
        try:
            await self._measure()
        except asyncio.CancelledError:
            measured.fail(STATUS_INTERRUPTED, "interrupted before the run finished")
            # Handled: clear the request, so the timeouts of the teardown still behave as timeouts.
            current = asyncio.current_task()
            if current is not None:
                current.uncancel()
        except (RunTimeout, DeploymentError, ChildFailed) as failure:
            measured.fail(STATUS_FAILED, str(failure))
        except Exception as failure:  # noqa: BLE001 - any failure inside Dask fails the run
            measured.fail(STATUS_FAILED, describe_with_cause(failure))
        survivors = await self._teardown()
        if survivors:
            measured.fail(STATUS_FAILED, f"processes {survivors} survived teardown and were killed")
        return measured

    def _header_settings(self) -> list[tuple[str, Any]]:
        settings = self.deployment.header(self.plan.n_workers)
        if self.deployment.header_shows_wait or not self._waits_for_workers:
            settings.append(("Wait for workers", self.plan.wait_for_workers))
        return settings

    async def _phase(self, phase: phases.Phase, work: Awaitable[Any]) -> Any:
        self._tell(events.PhaseStarted(phase, self.fields))
        with self.measured.timeline.phase(phase.key):
            value = await work
        self._tell(events.PhaseFinished(phase, self.measured.timeline.phases[phase.key], self.fields))
        return value

    async def _measure(self) -> None:
        measured, timeout = self.measured, self.plan.timeout
        async with contextlib.AsyncExitStack() as diagnostics:
            await self._until_ready(diagnostics)
            if self.plan.batch_size:
                await self._batch()
            if self.plan.workload:
                await self._workload()
            if self.plan.diagnostics.probes is not None:
                await self._probes()
        measured.workers = await self._worker_details()
        self.deployment.observe_workers(measured.workers)
        self._check_workers_are_ours()
        self._tell(events.WorkersFound(measured.workers))
        measured.jobs = await bounded(self.deployment.job_records(measured.workers, measured.timeline.wall_to_run_time),
                                      timeout, "the batch queue's job records")
        if measured.jobs:
            self._tell(events.JobsFound(measured.jobs))
        measured.versions = await bounded(self._versions(), timeout, "the versions of the cluster")

    async def _until_ready(self, diagnostics: contextlib.AsyncExitStack) -> None:
        """The timed phases; diagnostics are entered between them, outside the total."""
        deployment, plan, timeout = self.deployment, self.plan, self.plan.timeout
        timeline = self.measured.timeline
        starting = bounded(first_of(deployment.start_scheduler(), deployment.watch()), timeout, "the scheduler to start")
        if deployment.scheduler_phase is None:
            await starting  # someone else's scheduler: nothing of ours to time
        else:
            await self._phase(deployment.scheduler_phase, starting)
        self._tell(events.SchedulerFound(deployment.address, deployment.dashboard))
        # Distributed's own connect timeout fires first, with its own message; ours is the backstop.
        await self._phase(phases.CLIENT_CONNECT, bounded(self._connect(), timeout + 5, "the client to connect"))
        self.arrivals = WorkerArrivals(self.client, timeline)
        if plan.diagnostics.memory_sample_interval is not None:
            with timeline.exclude("memory_sampler_start"):
                await bounded(self._sample_memory(diagnostics), timeout, "the memory sampler to start")
        if self._waits_for_workers:
            await self._phase(
                deployment.workers_phase,
                bounded(
                    first_of(self._start_workers_and_wait(), deployment.watch()),
                    timeout,
                    f"{plan.n_workers} workers to register",
                ),
            )
        if plan.diagnostics.performance_report:
            with timeline.exclude("performance_report_start"):
                await bounded(self._report_performance(diagnostics), timeout, "the performance report to start")
        if self._waits_for_workers:
            await self._phase(phases.FIRST_TASK, bounded(self._one_task(), timeout, "the first task"))
        else:
            # No wait: the first task is timed from the moment workers are requested.
            await self._phase(
                phases.FIRST_TASK,
                bounded(first_of(self._request_then_one_task(), deployment.watch()), timeout, "the first task"),
            )
            await bounded(self.arrivals.start(), timeout, "the scheduler's event stream")

    async def _sample_memory(self, diagnostics: contextlib.AsyncExitStack) -> None:
        """Sample cluster memory (Dask's MemorySampler) from now until the measurements end."""
        from distributed.diagnostics import MemorySampler

        sampler = MemorySampler()
        # Registered first, so it runs after the sampler has stopped (exit order is LIFO).
        diagnostics.callback(lambda: setattr(self.measured, "memory_samples", sampler.samples.get("run")))
        await diagnostics.enter_async_context(
            sampler.sample("run", client=self.client, interval=self.plan.diagnostics.memory_sample_interval)
        )

    async def _report_performance(self, diagnostics: contextlib.AsyncExitStack) -> None:
        """Record the first task, batch and probes in Dask's HTML performance report."""
        from distributed import performance_report

        path = self.plan.diagnostics.performance_report
        # Registered first, so it runs once the report is written (exit order is LIFO).
        diagnostics.callback(lambda: self._tell(events.PerformanceReportSaved(path)))
        await diagnostics.enter_async_context(performance_report(filename=path))

    async def _probes(self) -> None:
        """Scheduler overhead probes, reported beside Dask's reference figures."""
        total_threads = sum((await self.client.nthreads()).values())
        self._tell(events.ProbesStarted())
        probes, stream = await bounded(
            run_probes(self.client, total_threads, self.plan.diagnostics.probes),
            self.plan.timeout * 4,
            "the scheduler overhead probes",
        )
        self.measured.probes = probes
        self._tell(events.ProbesMeasured(probes, stream))

    async def _connect(self) -> None:
        """Create the client first and keep it, so teardown closes it even if connecting fails."""
        from distributed import Client

        self.client = Client(self.deployment.client_target, asynchronous=True, timeout=self.plan.timeout,
                             security=self.deployment.security)
        try:
            await self.client
        except OSError as error:
            raise DeploymentError(
                f"cannot connect to the scheduler at {self.deployment.address}: {error}; check the address, "
                "that the scheduler runs and is reachable from here (and the TLS options for tls://)"
            ) from None

    async def _request_workers(self) -> None:
        self.measured.workers_requested_at = self.measured.timeline.now()
        await self.deployment.request_workers(self.plan.n_workers)

    async def _start_workers_and_wait(self) -> None:
        await self._request_workers()
        await self.arrivals.start()
        await self.arrivals.wait_for(self.plan.n_workers)

    async def _request_then_one_task(self) -> None:
        await self._request_workers()
        await self._one_task()

    async def _one_task(self) -> None:
        """The task that proves the cluster useful: ``FIRST_TASK_CALL``."""
        value = await self.client.submit(operator.add, 1, 1, pure=False)
        if value != 2:
            raise RuntimeError(f"the first task returned {value!r} instead of 2")

    async def _batch(self) -> None:
        key, timeline = phases.batch_key(self.plan.batch_size), self.measured.timeline
        self._tell(events.PhaseStarted(phases.BATCH, self.fields))
        with timeline.measure(key):
            futures = self.client.map(operator.add, range(self.plan.batch_size), [1] * self.plan.batch_size, pure=False)
            values = await bounded(self.client.gather(futures), self.plan.timeout, "the batch of tasks")
        if values != [index + 1 for index in range(self.plan.batch_size)]:
            raise RuntimeError("the batch of tasks returned wrong values")
        self._tell(events.PhaseFinished(phases.BATCH, timeline.extras[key], self.fields))

    async def _versions(self) -> dict[str, Any]:
        """Package versions of client, scheduler and workers, and how they differ, if they do."""
        from distributed.versions import error_message

        found = await self.client.get_versions(check=False)
        mismatch = error_message(found["scheduler"], found["workers"], found["client"])["warning"] or None
        if mismatch:
            self._tell(events.VersionsDiffer(mismatch))
        packages = {name: (found[name] or {}).get("packages", {}) for name in ("client", "scheduler")}
        return {**packages, "mismatch": mismatch}

    async def _workload(self) -> None:
        plan = self.plan
        self._tell(events.PhaseStarted(phases.WORKLOAD, self.fields))
        seconds = await bounded(
            run_workload(plan.workload, self.client, plan.n_workers, plan.workload_chunk),
            plan.timeout * 4,
            f"the {plan.workload} workload",
        )
        self.measured.timeline.extras[phases.workload_key(plan.workload)] = seconds
        self._tell(events.PhaseFinished(phases.WORKLOAD, seconds, self.fields))

    async def _worker_details(self) -> list[dict[str, Any]]:
        identity = await bounded(self.client.scheduler.identity(n_workers=-1), self.plan.timeout, "the worker list")
        arrivals = {arrival.address: arrival for arrival in self.arrivals.ordered()}
        details = []
        for address, info in identity.get("workers", {}).items():
            arrival = arrivals.get(address)
            details.append(
                {
                    "name": str(info.get("name")),
                    "address": address,
                    "nthreads": info.get("nthreads"),
                    "memory_limit": info.get("memory_limit"),
                    "nanny": info.get("nanny"),
                    "arrival_time": None if arrival is None else arrival.scheduler_time,
                    "seen_time": None if arrival is None else arrival.seen_time,
                }
            )
        details.sort(key=lambda worker: (worker["arrival_time"] is None, worker["arrival_time"] or 0.0))
        return details

    def _check_workers_are_ours(self) -> None:
        expected = self.deployment.expected_worker_names(self.plan.n_workers)
        if expected is None:
            return
        workers = self.measured.workers
        strangers = sorted(worker["name"] for worker in workers if worker["name"] not in expected)
        if strangers:
            raise DeploymentError(
                f"workers this run did not start joined its scheduler: {', '.join(strangers)}"
            )
        if self._waits_for_workers and len(workers) < self.plan.n_workers:
            raise DeploymentError(f"only {len(workers)} of {self.plan.n_workers} workers remained")

    async def _teardown(self) -> list[int]:
        """Close the client and the cluster, timed apart from the total."""
        phase, timeline = self.deployment.teardown_phase, self.measured.timeline
        self._tell(events.PhaseStarted(phase, self.fields))
        survivors: list[int] = []
        with timeline.measure(phases.TEARDOWN.key):
            if self.arrivals is not None and self.client is not None:
                self.arrivals.stop()
            if self.client is not None:
                try:
                    await asyncio.wait_for(self.client.close(), CLIENT_CLOSE_TIMEOUT)
                except (asyncio.TimeoutError, OSError):
                    pass
            survivors = await self.deployment.close()
        self._tell(events.PhaseFinished(phase, timeline.extras[phases.TEARDOWN.key], self.fields))
        return survivors
