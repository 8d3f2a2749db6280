"""The timing loop: one run of one deployment, phase by phase, always torn down.

Phases follow each other on one monotonic timeline, so they add up to the
total time to ready.  The run's timeout bounds the whole measurement, every
wait taking what is left of it; teardown has bounds of its own.  Whatever
happens (success, an error, a timeout, a stop request from Ctrl-C or SIGTERM),
the cluster is torn down, teardown is timed on its own, and the measurements
say how the run ended.  A stop request ends the measurement, never the
teardown.

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
from dask_timing.measure import events, waterfall
from dask_timing.measure.arrivals import WorkerArrivals, WorkerLeft
from dask_timing.measure.clock import Timeline
from dask_timing.measure.probes import ProbeSettings, run_probes
from dask_timing.measure.waterfall import WaterfallPlan, WorkerStartups
from dask_timing.measure.workloads import run_workload
from dask_timing.record.workloads import DEFAULT_CHUNK
from dask_timing.record.environment import LOAD_BEFORE_RUN, machine_load, utc_timestamp
from dask_timing.record.schema import STATUS_FAILED, STATUS_INTERRUPTED, STATUS_OK

# Seconds the client gets to close during teardown before it is abandoned.
CLIENT_CLOSE_TIMEOUT = 5.0
# Seconds to ask a batch system why workers have not come, after a timeout.
HELD_BACK_TIMEOUT = 5.0
# Seconds the deployment gets to close (its processes are killed well within it).
DEPLOYMENT_CLOSE_TIMEOUT = 20.0
# Seconds a worker's departure waits for its process's exit to be seen, which says more (code, log).
DEPARTURE_EXIT_GRACE = 0.5
# Tasks of a batch submitted at once: between two slices the run can notice its
# deadline or a stop request, however large the batch.
BATCH_SLICE = 2_000
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
    waterfall: WaterfallPlan | None = None  # each worker's startup, stamped from inside it

    def config(self) -> dict[str, Any]:
        """What defines the experiment, for the result's configuration."""
        config: dict[str, Any] = {
            "n_workers": self.n_workers,
            "wait_for_workers": self.wait_for_workers,
            "batch_size": self.batch_size,
        }
        if self.workload:
            config.update(workload=self.workload, workload_chunk=self.workload_chunk)
        if self.waterfall is not None and self.waterfall.import_profile:  # profiling slows the imports it times
            config["import_profile"] = True
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


class Deadline:
    """The end of a run's measurement: every wait gets what is left of the run's timeout."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.at = asyncio.get_running_loop().time() + seconds

    def left(self) -> float:
        return max(0.0, self.at - asyncio.get_running_loop().time())

    async def bounded(self, awaitable: Awaitable[Any], what: str) -> Any:
        """Await within the deadline, failing with a message that says what hung.

        Once the deadline has passed, the work is still begun before it is cancelled: cancelled before its
        first step, a coroutine never runs its cleanup, and the coroutines it was handed (``first_of``'s)
        are left never awaited, which Python reports on the terminal.
        """
        work = asyncio.ensure_future(awaitable)
        if self.left() == 0:
            await asyncio.sleep(0)
        try:
            return await asyncio.wait_for(work, self.left())
        except asyncio.TimeoutError:
            raise RunTimeout(
                f"timed out after {self.seconds:g} s (the run's --timeout) waiting for {what}; "
                "raise --timeout if this deployment is slow"
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
    startups: WorkerStartups | None = None  # what the workers stamped of their own startup
    # How busy the machine was before the run started anything: its own load is not the machine's.
    load: dict[str, Any] = field(default_factory=lambda: {**machine_load(), "sampled": LOAD_BEFORE_RUN})

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
        self.deadline: Deadline | None = None
        self._measuring: asyncio.Future | None = None
        self.stopped = False
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

    def stop(self) -> None:
        """A stop request (Ctrl-C, SIGTERM): end the measurement now; teardown and the result follow."""
        self.stopped = True
        if self._measuring is not None:
            self._measuring.cancel()

    async def execute(self) -> Measurements:
        """Time the run; tear down whatever happens; return what was measured."""
        measured = self.measured
        self._tell(events.RunStarted(self.deployment.title, self._header_settings()))
        if self.plan.waterfall is not None:
            measured.startups = WorkerStartups.prepare(self.deployment, self.plan.waterfall)
        self.deadline = Deadline(self.plan.timeout)
        self._measuring = asyncio.ensure_future(self._measure())
        if self.stopped:  # asked to stop before the measurement began
            self._measuring.cancel()
        try:
            await self._measuring
        except asyncio.CancelledError:
            if not self.stopped:
                raise  # not ours to handle
            measured.fail(STATUS_INTERRUPTED, "interrupted before the run finished")
        except RunTimeout as failure:
            measured.fail(STATUS_FAILED, await self._why_timed_out(failure))
        except (DeploymentError, ChildFailed, WorkerLeft) as failure:
            measured.fail(STATUS_FAILED, str(failure))
        except Exception as failure:  # noqa: BLE001 - any failure inside Dask fails the run
            measured.fail(STATUS_FAILED, describe_with_cause(failure))
        self._measuring = None
        if measured.status != STATUS_OK and not measured.workers:  # failed or stopped: keep who had come
            await self._workers_after_failure()
        await self._teardown()
        return measured

    async def _why_timed_out(self, timeout: RunTimeout) -> str:
        """The timeout, or what held the workers back when that is known (jobs still queued)."""
        try:
            held = await asyncio.wait_for(self.deployment.held_back(), HELD_BACK_TIMEOUT)
        except Exception:  # noqa: BLE001 - only an explanation: the timeout stands without it
            held = None
        return str(timeout) if held is None else f"{held}; the run gave up at its --timeout of {self.plan.timeout:g} s"

    async def _workers_after_failure(self) -> None:
        """The workers that did register and the batch jobs' records, so that every worker's waterfall says
        how far it got (best effort, bounded on its own: the run's timeout may be spent).  A stopped run
        collects them too: they were measured before the signal."""
        if self.arrivals is not None:
            await waterfall.bounded(self._collect_after_failure())

    async def _collect_after_failure(self) -> None:
        self.measured.workers = self._worker_records(await self.client.scheduler.identity(n_workers=-1))
        self.measured.jobs = await self.deployment.job_records(self.measured.workers,
                                                               self.measured.timeline.wall_to_run_time)

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
        measured, bounded = self.measured, self.deadline.bounded
        async with contextlib.AsyncExitStack() as diagnostics:
            await self._until_ready(diagnostics)
            # a scheduler or worker process that dies now fails the run at once, not at the deadline
            await first_of(self._after_ready(), self._watch_after_ready())
        measured.workers = await self._worker_details()
        self.deployment.observe_workers(measured.workers)
        self._check_workers_are_ours()
        self._tell(events.WorkersFound(measured.workers))
        measured.jobs = await bounded(self.deployment.job_records(measured.workers, measured.timeline.wall_to_run_time),
                                      "the batch queue's job records")
        if measured.jobs:
            self._tell(events.JobsFound(measured.jobs))
        measured.versions = await bounded(self._versions(), "the versions of the cluster")

    async def _watch_after_ready(self) -> None:
        """Raise if a process of the cluster dies or, when this run started the workers, one of them leaves."""
        if not self.deployment.starts_workers:  # someone else's workers may come and go as they please
            return await self.deployment.watch()
        try:
            await first_of(self.deployment.watch(), self.arrivals.watch_departures())
        except WorkerLeft:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.deployment.watch(), DEPARTURE_EXIT_GRACE)
            raise

    async def _until_ready(self, diagnostics: contextlib.AsyncExitStack) -> None:
        """The timed phases; diagnostics are entered between them, outside the total."""
        deployment, plan, bounded = self.deployment, self.plan, self.deadline.bounded
        timeline = self.measured.timeline
        starting = bounded(first_of(deployment.start_scheduler(), deployment.watch()), "the scheduler to start")
        if deployment.scheduler_phase is None:
            await starting  # someone else's scheduler: nothing of ours to time
        else:
            await self._phase(deployment.scheduler_phase, starting)
        self._tell(events.SchedulerFound(deployment.address, deployment.dashboard))
        await self._phase(phases.CLIENT_CONNECT, bounded(self._connect(), "the client to connect"))
        self.arrivals = WorkerArrivals(self.client, timeline)
        if plan.diagnostics.memory_sample_interval is not None:
            with timeline.exclude("memory_sampler_start"):
                await bounded(self._sample_memory(diagnostics), "the memory sampler to start")
        if self._waits_for_workers:
            await self._phase(
                deployment.workers_phase,
                bounded(
                    first_of(self._start_workers_and_wait(), deployment.watch()),
                    f"{plan.n_workers} workers to register",
                ),
            )
        if plan.diagnostics.performance_report:
            with timeline.exclude("performance_report_start"):
                await bounded(self._report_performance(diagnostics), "the performance report to start")
        if self._waits_for_workers:
            await self._phase(phases.FIRST_TASK, bounded(self._one_task(), "the first task"))
        else:
            # No wait: the first task is timed from the moment workers are requested.
            await self._phase(
                phases.FIRST_TASK,
                bounded(first_of(self._request_then_one_task(), deployment.watch()), "the first task"),
            )
            await bounded(self.arrivals.start(), "the scheduler's event stream")

    async def _after_ready(self) -> None:
        """What is timed once the cluster is ready: the batch, the workload, the probes."""
        if self.plan.batch_size:
            await self._batch()
        if self.measured.startups is not None:  # between the timed blocks, while the workers' logs hold the tasks
            await self.deadline.bounded(self.measured.startups.sample(self.client), "the workers' clocks")
        if self.plan.workload:
            await self._workload()
        if self.plan.diagnostics.probes is not None:
            await self._probes()

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
        probes, stream = await self.deadline.bounded(
            run_probes(self.client, total_threads, self.plan.diagnostics.probes), "the scheduler overhead probes"
        )
        self.measured.probes = probes
        self._tell(events.ProbesMeasured(probes, stream))

    async def _connect(self) -> None:
        """Create the client first and keep it, so teardown closes it even if connecting fails."""
        from distributed import Client

        # Dask's own connect timeout, within what is left of the run's: its message says more than ours
        self.client = Client(self.deployment.client_target, asynchronous=True,
                             timeout=max(self.deadline.left() - 0.5, 0.5), security=self.deployment.security)
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
        """N independent tasks after ready, bounded by the deadline from the first submission on."""
        key, timeline = phases.batch_key(self.plan.batch_size), self.measured.timeline
        self._tell(events.PhaseStarted(phases.BATCH, self.fields))
        with timeline.measure(key):
            values = await self.deadline.bounded(self._submit_and_gather(), "the batch of tasks")
        if values != [index + 1 for index in range(self.plan.batch_size)]:
            raise RuntimeError("the batch of tasks returned wrong values")
        self._tell(events.PhaseFinished(phases.BATCH, timeline.extras[key], self.fields))

    async def _submit_and_gather(self) -> list[int]:
        """Submitted in slices: between two, the deadline or a stop request can step in, however large
        the batch (submitting is synchronous work in the client)."""
        size, futures = self.plan.batch_size, []
        for start in range(0, size, BATCH_SLICE):
            stop = min(start + BATCH_SLICE, size)
            futures += self.client.map(operator.add, range(start, stop), [1] * (stop - start), pure=False)
            await asyncio.sleep(0)
        return await self.client.gather(futures)

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
        seconds = await self.deadline.bounded(
            run_workload(plan.workload, self.client, plan.n_workers, plan.workload_chunk), f"the {plan.workload} workload"
        )
        self.measured.timeline.extras[phases.workload_key(plan.workload)] = seconds
        self._tell(events.PhaseFinished(phases.WORKLOAD, seconds, self.fields))

    async def _worker_details(self) -> list[dict[str, Any]]:
        identity = await self.deadline.bounded(self.client.scheduler.identity(n_workers=-1), "the worker list")
        return self._worker_records(identity)

    def _worker_records(self, identity: dict[str, Any]) -> list[dict[str, Any]]:
        """A record of each registered worker, in the order the scheduler registered them."""
        if self.measured.startups is not None:
            self.measured.startups.note_registrations(identity.get("workers", {}))
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

    async def _teardown(self) -> None:
        """Close the client and the cluster, timed apart from the total.

        Every step is bounded and none can stop the others: a failure is recorded
        in the result, a stop request waits for the teardown to finish.
        """
        phase, timeline = self.deployment.teardown_phase, self.measured.timeline
        self._tell(events.PhaseStarted(phase, self.fields))
        with timeline.measure(phases.TEARDOWN.key):
            closing = asyncio.ensure_future(self._close_everything())
            while not closing.done():
                try:
                    await asyncio.shield(closing)
                except asyncio.CancelledError:  # not ours (ours never cancels teardown): finish first
                    continue
        self._tell(events.PhaseFinished(phase, timeline.extras[phases.TEARDOWN.key], self.fields))

    async def _close_everything(self) -> None:
        if self.arrivals is not None:
            self.arrivals.stop()
        if self.client is not None:
            try:
                await asyncio.wait_for(self.client.close(), CLIENT_CLOSE_TIMEOUT)
            except Exception:  # noqa: BLE001 - abandoned; the cluster is closed next
                # marked closed, or Dask's finaliser would try again with no loop to run it on
                self.client.status = "closed"
        try:
            survivors = await asyncio.wait_for(self.deployment.close(), DEPLOYMENT_CLOSE_TIMEOUT)
        except asyncio.TimeoutError:
            self.measured.fail(STATUS_FAILED, f"the cluster did not close within {DEPLOYMENT_CLOSE_TIMEOUT:g} s")
        except Exception as failure:  # noqa: BLE001 - reported in the result, never instead of it
            self.measured.fail(STATUS_FAILED, f"closing the cluster failed: {describe_with_cause(failure)}")
        else:
            if survivors:
                self.measured.fail(STATUS_FAILED, f"processes {survivors} survived teardown and were killed")
