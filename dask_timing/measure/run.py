"""The timing loop: one run of one deployment, phase by phase, always torn down.

Phases follow each other on one monotonic timeline, so they add up to the
total time to ready.  Every wait is bounded by the run's timeout.  Whatever
happens (success, an error, a timeout, Ctrl-C or SIGTERM turned into
cancellation), the cluster is torn down, teardown is timed on its own, and the
result says how the run ended.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import operator
import sys
import uuid
from dataclasses import dataclass
from typing import Any, Awaitable

from dask_timing import phases
from dask_timing.defaults import DEFAULT_TIMEOUT
from dask_timing.errors import describe_failure
from dask_timing.measure.arrivals import DETECTION_METHOD, WorkerArrivals
from dask_timing.measure.clock import CLOCK_NAME, Timeline
from dask_timing.present.console import RunConsole
from dask_timing.deploy.base import Deployment, DeploymentError
from dask_timing.record.environment import collect_environment, utc_timestamp
from dask_timing.measure.probes import ProbeSettings, describe, run_probes
from dask_timing.deploy.managed import ChildFailed
from dask_timing.measure.workloads import DEFAULT_CHUNK, run_workload
from dask_timing.record.schema import STATUS_FAILED, STATUS_INTERRUPTED, STATUS_OK, RunResult
from dask_timing.measure.arrivals import arrival_summary

# Seconds the client gets to close during teardown before it is abandoned.
CLIENT_CLOSE_TIMEOUT = 5.0


@dataclass(frozen=True)
class Diagnostics:
    """Optional measurements after ready, and Dask's own diagnostics around them."""

    probes: ProbeSettings | None = None
    performance_report: str | None = None  # HTML file
    memory_sample_interval: float | None = None  # seconds; None: no sampling
    task_stream: str | None = None  # JSON file for the probes' raw task stream


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


class Run:
    """One timed run of a deployment; ``execute`` returns its result."""

    def __init__(
        self,
        deployment: Deployment,
        plan: RunPlan,
        options: dict[str, Any],
        console: RunConsole | None = None,
        before_start: dict[str, float] | None = None,
    ) -> None:
        self.deployment = deployment
        self.plan = plan
        self.options = options
        self.console = console or RunConsole()
        self.before_start = before_start or {}
        self.timeline = Timeline()
        self.started_at = utc_timestamp()
        self.client: Any = None
        self.arrivals: WorkerArrivals | None = None
        self.workers: list[dict[str, Any]] = []
        self.workers_requested_at: float | None = None
        self.probes: dict[str, Any] | None = None
        self.versions: dict[str, Any] | None = None
        self.jobs: list[dict[str, Any]] | None = None
        self.memory_samples: list[tuple[float, int]] | None = None
        self.fields = {
            "n_workers": plan.n_workers,
            "n_tasks": plan.batch_size,
            "connect_to": deployment.connect_to,
            "workload": plan.workload,
        }

    @property
    def phase_list(self) -> list[phases.Phase]:
        """The phases of this run, in order."""
        deployment = self.deployment
        listed = [deployment.scheduler_phase, phases.CLIENT_CONNECT]
        if self._waits_for_workers:
            listed.append(deployment.workers_phase)
        listed.append(phases.FIRST_TASK)
        return [phase for phase in listed if phase is not None]

    @property
    def _waits_for_workers(self) -> bool:
        return self.plan.wait_for_workers and self.deployment.starts_workers

    async def execute(self) -> RunResult:
        """Time the run; tear down whatever happens; return the result.

        Cancellation (how the command line delivers Ctrl-C and SIGTERM) ends the
        measurement, not the teardown: the run is closed and reported as
        interrupted.
        """
        status, error = STATUS_OK, None
        self._print_header()
        try:
            await self._measure()
        except asyncio.CancelledError:
            status, error = STATUS_INTERRUPTED, "interrupted before the run finished"
            # Handled: clear the request, so the timeouts of the teardown still behave as timeouts.
            current = asyncio.current_task()
            if current is not None:
                current.uncancel()
        except (RunTimeout, DeploymentError, ChildFailed) as failure:
            status, error = STATUS_FAILED, str(failure)
        except Exception as failure:  # noqa: BLE001 - any failure inside Dask fails the run
            status, error = STATUS_FAILED, describe_with_cause(failure)
        survivors = await self._teardown()
        if survivors:
            status = STATUS_FAILED if status == STATUS_OK else status
            error = (error + "; " if error else "") + f"processes {survivors} survived teardown and were killed"
        result = self._result(status, error)
        self.console.summary(result, self.phase_list, self.fields)
        return result

    def _print_header(self) -> None:
        settings = self.deployment.header(self.plan.n_workers)
        if self.deployment.header_shows_wait or not self._waits_for_workers:
            settings.append(("Wait for workers", self.plan.wait_for_workers))
        self.console.header(self.deployment.title, settings)

    async def _phase(self, phase: phases.Phase, work: Awaitable[Any]) -> Any:
        self.console.phase_start(phase, **self.fields)
        with self.timeline.phase(phase.key):
            value = await work
        self.console.phase_done(phase, self.timeline.phases[phase.key], **self.fields)
        return value

    async def _measure(self) -> None:
        async with contextlib.AsyncExitStack() as diagnostics:
            await self._until_ready(diagnostics)
            if self.plan.batch_size:
                await self._batch()
            if self.plan.workload:
                await self._workload()
            if self.plan.diagnostics.probes is not None:
                await self._probes()
        self.workers = await self._worker_details()
        self.deployment.observe_workers(self.workers)
        self._check_workers_are_ours()
        self.console.workers(self.workers)
        self.jobs = await bounded(self.deployment.job_records(self.workers, self.timeline.wall_to_run_time),
                                  self.plan.timeout, "the batch queue's job records")
        if self.jobs:
            self.console.jobs(self.jobs)
        self.versions = await bounded(self._versions(), self.plan.timeout, "the versions of the cluster")

    async def _until_ready(self, diagnostics: contextlib.AsyncExitStack) -> None:
        """The timed phases; diagnostics are entered between them, outside the total."""
        deployment, plan, timeout = self.deployment, self.plan, self.plan.timeout
        starting = bounded(first_of(deployment.start_scheduler(), deployment.watch()), timeout, "the scheduler to start")
        if deployment.scheduler_phase is None:
            await starting  # someone else's scheduler: nothing of ours to time
        else:
            await self._phase(deployment.scheduler_phase, starting)
        self.console.line(f"  Address: {deployment.address}")
        if deployment.dashboard:
            self.console.line(f"  Dashboard: {deployment.dashboard}")
        # Distributed's own connect timeout fires first, with its own message; ours is the backstop.
        await self._phase(phases.CLIENT_CONNECT, bounded(self._connect(), timeout + 5, "the client to connect"))
        self.arrivals = WorkerArrivals(self.client, self.timeline)
        if plan.diagnostics.memory_sample_interval is not None:
            with self.timeline.exclude("memory_sampler_start"):
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
            with self.timeline.exclude("performance_report_start"):
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
        diagnostics.callback(lambda: setattr(self, "memory_samples", sampler.samples.get("run")))
        await diagnostics.enter_async_context(
            sampler.sample("run", client=self.client, interval=self.plan.diagnostics.memory_sample_interval)
        )

    async def _report_performance(self, diagnostics: contextlib.AsyncExitStack) -> None:
        """Record the first task, batch and probes in Dask's HTML performance report."""
        from distributed import performance_report

        path = self.plan.diagnostics.performance_report
        # Registered first, so it runs once the report is written (exit order is LIFO).
        diagnostics.callback(lambda: self.console.line(f"\n✓ Performance report saved to: {path}"))
        await diagnostics.enter_async_context(performance_report(filename=path))

    async def _probes(self) -> None:
        """Scheduler overhead probes, reported beside Dask's reference figures."""
        total_threads = sum((await self.client.nthreads()).values())
        self.console.line()
        self.console.line("Running scheduler overhead probes...")
        self.probes, stream = await bounded(
            run_probes(self.client, total_threads, self.plan.diagnostics.probes),
            self.plan.timeout * 4,
            "the scheduler overhead probes",
        )
        for line in describe(self.probes):
            self.console.line(line)
        path = self.plan.diagnostics.task_stream
        if path:
            with open(path, "w", encoding="utf-8") as stream_file:
                json.dump(stream, stream_file, default=str)
            self.console.line(f"✓ Task stream of the probes saved to: {path}")

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
        self.workers_requested_at = self.timeline.now()
        await self.deployment.request_workers(self.plan.n_workers)

    async def _start_workers_and_wait(self) -> None:
        await self._request_workers()
        await self.arrivals.start()
        await self.arrivals.wait_for(self.plan.n_workers)

    async def _request_then_one_task(self) -> None:
        await self._request_workers()
        await self._one_task()

    async def _one_task(self) -> None:
        value = await self.client.submit(operator.add, 1, 1, pure=False)
        if value != 2:
            raise RuntimeError(f"the first task returned {value!r} instead of 2")

    async def _batch(self) -> None:
        key = phases.batch_key(self.plan.batch_size)
        self.console.phase_start(phases.BATCH, **self.fields)
        with self.timeline.measure(key):
            futures = self.client.map(operator.add, range(self.plan.batch_size), [1] * self.plan.batch_size, pure=False)
            values = await bounded(self.client.gather(futures), self.plan.timeout, "the batch of tasks")
        if values != [index + 1 for index in range(self.plan.batch_size)]:
            raise RuntimeError("the batch of tasks returned wrong values")
        self.console.phase_done(phases.BATCH, self.timeline.extras[key], **self.fields)

    async def _versions(self) -> dict[str, Any]:
        """Package versions of client, scheduler and workers; a clear warning when they differ."""
        from distributed.versions import error_message

        found = await self.client.get_versions(check=False)
        mismatch = error_message(found["scheduler"], found["workers"], found["client"])["warning"] or None
        if mismatch:
            self.console.line()
            self.console.line("WARNING: client, scheduler and workers run different versions "
                              "(a known source of confusing Dask failures):")
            self.console.line(mismatch)
        packages = {name: (found[name] or {}).get("packages", {}) for name in ("client", "scheduler")}
        return {**packages, "mismatch": mismatch}

    async def _workload(self) -> None:
        plan = self.plan
        key = phases.workload_key(plan.workload)
        self.console.phase_start(phases.WORKLOAD, **self.fields)
        seconds = await bounded(
            run_workload(plan.workload, self.client, plan.n_workers, plan.workload_chunk),
            plan.timeout * 4,
            f"the {plan.workload} workload",
        )
        self.timeline.extras[key] = seconds
        self.console.phase_done(phases.WORKLOAD, seconds, **self.fields)

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
        strangers = sorted(worker["name"] for worker in self.workers if worker["name"] not in expected)
        if strangers:
            raise DeploymentError(
                f"workers this run did not start joined its scheduler: {', '.join(strangers)}"
            )
        if self._waits_for_workers and len(self.workers) < self.plan.n_workers:
            raise DeploymentError(f"only {len(self.workers)} of {self.plan.n_workers} workers remained")

    async def _teardown(self) -> list[int]:
        """Close the client and the cluster, timed apart from the total."""
        self.console.phase_start(self.deployment.teardown_phase)
        survivors: list[int] = []
        with self.timeline.measure(phases.TEARDOWN.key):
            if self.arrivals is not None and self.client is not None:
                self.arrivals.stop()
            if self.client is not None:
                try:
                    await asyncio.wait_for(self.client.close(), CLIENT_CLOSE_TIMEOUT)
                except (asyncio.TimeoutError, OSError):
                    pass
            survivors = await self.deployment.close()
        self.console.phase_done(self.deployment.teardown_phase, self.timeline.extras[phases.TEARDOWN.key])
        return survivors

    def _result(self, status: str, error: str | None) -> RunResult:
        timeline, plan = self.timeline, self.plan
        ready = status == STATUS_OK
        after_ready = {key: value for key, value in timeline.extras.items() if key != phases.TEARDOWN.key}
        return RunResult(
            kind=self.deployment.kind,
            config={**plan.config(), **self.deployment.config()},
            options=self.options,
            command_line=[sys.executable, *sys.argv],
            environment=collect_environment(),
            run_id=uuid.uuid4().hex,
            timestamp=self.started_at,
            status=status,
            error=error,
            phases=dict(timeline.phases),
            total_time=timeline.total() if ready else None,
            teardown_time=timeline.extras.get(phases.TEARDOWN.key),
            after_ready=after_ready,
            before_start=self.before_start,
            arrivals=arrival_summary(self.workers, self.workers_requested_at, plan.n_workers),
            probes=self.probes,
            memory_samples=self._memory_samples(),
            workers=self.workers,
            scheduler={"address": self.deployment.address, "dashboard": self.deployment.dashboard},
            versions=self.versions,
            jobs=self.jobs,
            measurement={
                "clock": CLOCK_NAME,
                "scheduler_readiness": self.deployment.scheduler_readiness,
                "worker_readiness": DETECTION_METHOD,
                "poll_interval": self.deployment.poll_interval,
                "first_task": "operator.add(1, 1)",
                "run_started_utc": timeline.origin_wall,
                "excluded_from_total": dict(timeline.excluded),
            },
        )

    def _memory_samples(self) -> dict[str, Any] | None:
        if self.memory_samples is None:
            return None
        return {
            "measure": "process",
            "interval": self.plan.diagnostics.memory_sample_interval,
            "samples": [[self.timeline.wall_to_run_time(stamp), size] for stamp, size in self.memory_samples],
        }
