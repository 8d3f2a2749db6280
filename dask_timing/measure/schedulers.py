"""Compare Dask's schedulers on one graph: which one to use for which kind of task?

The same ``dask.delayed`` graph (M independent tasks of d ms, then one ``sum``
over their results) is computed under the synchronous, threaded,
multiprocessing and distributed schedulers, R times each, with tasks that
release the GIL (``time.sleep``) and tasks that hold it (a Python busy loop
on the thread's CPU clock).
Only the compute call is timed; a distributed ``LocalCluster`` is started
before and closed after.  Each run is one result file the analyzer reads.

The task functions live in ``scheduler_tasks`` so they pickle by reference
and the worker processes that run them import nothing else.  What the
comparison says as it goes, it hands to an observer as events
(``present.schedulers.ComparisonConsole`` prints them).
"""

from __future__ import annotations

import math
import os
import signal
import sys
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Union

import msgspec

from dask_timing.defaults import DEFAULT_HOST
from dask_timing.errors import describe_failure
from dask_timing.measure.events import RunStarted
from dask_timing.measure.scheduler_tasks import PYTHON, SLEEP, TASK_FUNCTIONS, TASK_KINDS
from dask_timing.record.environment import collect_environment, utc_timestamp
from dask_timing.record.kinds import KIND_SCHEDULERS
from dask_timing.record.schema import STATUS_FAILED, STATUS_OK, RunResult, new_study_id
from dask_timing.signals import Interrupted, StopSignals, raise_interrupted
from dask_timing.record.files import write_json
from dask_timing.record.statistics import Summary, summarize

SYNCHRONOUS, THREADS, PROCESSES, DISTRIBUTED = "synchronous", "threads", "processes", "distributed"
SCHEDULERS = (SYNCHRONOUS, THREADS, PROCESSES, DISTRIBUTED)
DEFAULT_TASKS = 8
DEFAULT_TASK_MS = 100.0
DEFAULT_RUNS = 3
DEFAULT_COMPUTE_TIMEOUT = 120.0
DEFAULT_OUTPUT_DIR = "scheduler_results"
# dask.multiprocessing sends ready tasks to its processes in batches of this many
# unless dask's "chunksize" setting says otherwise.
PROCESSES_DEFAULT_CHUNKSIZE = 6

HOW_RUN = {
    SYNCHRONOUS: "dask's synchronous scheduler: every task in this thread, one after the other",
    THREADS: "dask's threaded scheduler, num_workers threads in this process (its pool is kept between computes)",
    PROCESSES: "dask's multiprocessing scheduler, num_workers processes: a new process pool per compute "
               "(dask's default), so the pool's start is inside the timed compute",
    DISTRIBUTED: "a distributed.LocalCluster of n_workers worker processes with 1 thread each, one per task "
                 "kind shared by its runs, started before and closed after the timed computes",
}
TASK_DESCRIPTIONS = {
    SLEEP: "time.sleep(task_ms / 1000): releases the GIL",
    PYTHON: "a Python loop until task_ms of the thread's CPU time (time.thread_time) are spent: holds the GIL",
}


class ClusterStarting(msgspec.Struct, frozen=True):
    n_workers: int


class ClusterReady(msgspec.Struct, frozen=True):
    seconds: float


class ClusterClosed(msgspec.Struct, frozen=True):
    seconds: float


class ComputeTimed(msgspec.Struct, frozen=True):
    """One run's compute: its seconds and the ideal, or (``seconds`` None) why it failed."""

    scheduler: str
    task_kind: str
    run: int
    runs: int
    seconds: float | None
    ideal: float
    error: str | None


ComparisonEvent = Union[RunStarted, ClusterStarting, ClusterReady, ClusterClosed, ComputeTimed]
ComparisonObserver = Callable[[ComparisonEvent], None]


def build_graph(task_kind: str, n_tasks: int, task_ms: float) -> Any:
    """M independent tasks, then one sum over their results: a Delayed returning sum(range(M))."""
    import dask

    task = dask.delayed(TASK_FUNCTIONS[task_kind])
    return dask.delayed(sum)([task(index, task_ms) for index in range(n_tasks)])


def parallelism(scheduler: str, n_workers: int) -> int:
    """How many tasks the scheduler can run at once (the synchronous one: one)."""
    return 1 if scheduler == SYNCHRONOUS else n_workers


def ideal_seconds(n_tasks: int, task_ms: float, tasks_at_once: int) -> float:
    """The compute time with no overhead at all: ceil(M / P) rounds of d ms."""
    return math.ceil(n_tasks / tasks_at_once) * task_ms / 1000


class ComputeTimeout(Exception):
    """A compute outlived --timeout."""


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise ComputeTimeout in this thread after ``seconds``: dask's local schedulers take no timeout."""

    def expire(_signum: int, _frame: Any) -> None:
        raise ComputeTimeout(f"the compute exceeded --timeout {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def time_compute(compute: Callable[[Any], Any], graph: Any, timeout: float) -> tuple[float, Any]:
    """The compute call's duration on the monotonic clock, and its value."""
    with time_limit(timeout):
        started = time.perf_counter()
        value = compute(graph)
        return time.perf_counter() - started, value


class SignalGuard:
    """The first stop signal (see ``signals``) raises Interrupted, so ``finally`` blocks close the cluster.

    A signal arriving while a cluster starts or closes is held until that is
    done (a half-started cluster cannot be closed).
    """

    def __init__(self) -> None:
        self.holding = False
        self.signals = StopSignals(self._stop)

    def install(self) -> "SignalGuard":
        self.signals.install()
        return self

    def _stop(self, signum: int) -> None:
        if not self.holding:
            raise_interrupted(signum)

    @contextmanager
    def held(self) -> Iterator[None]:
        """Hold a first signal until the block is done, then raise it."""
        self.holding = True
        try:
            yield
        finally:
            self.holding = False
        if self.signals.received is not None:
            raise Interrupted(self.signals.received)


@contextmanager
def scheduler_session(scheduler: str, n_workers: int, guard: SignalGuard,
                      observer: ComparisonObserver) -> Iterator[Callable[[Any], Any]]:
    """A function computing a graph on ``scheduler``; for distributed, on a LocalCluster living as long as the block."""
    if scheduler != DISTRIBUTED:
        options = {} if scheduler == SYNCHRONOUS else {"num_workers": n_workers}
        yield lambda graph: graph.compute(scheduler=scheduler, **options)
        return
    from distributed import Client, LocalCluster

    observer(ClusterStarting(n_workers))
    started = time.perf_counter()
    cluster = client = None
    try:
        with guard.held():
            cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, host=DEFAULT_HOST,
                                   scheduler_port=0, dashboard_address=None)
            client = Client(cluster)
        observer(ClusterReady(time.perf_counter() - started))
        yield lambda graph: client.compute(graph).result()
    finally:
        with guard.held():
            started = time.perf_counter()
            if client is not None:
                client.close()
            if cluster is not None:
                cluster.close()
                observer(ClusterClosed(time.perf_counter() - started))


@dataclass(frozen=True)
class Row:
    """One line of the final table: a scheduler and task kind over its runs."""

    scheduler: str
    task_kind: str
    ideal: float
    summary: Summary | None  # None when no run succeeded
    n_failed: int


def describe_measurement(scheduler: str, task_kind: str, ideal: float) -> dict[str, Any]:
    """How a run's figure was taken, and the ideal it is compared with."""
    import dask

    measurement = {
        "clock": "time.perf_counter",
        "timed": "the compute call only: graph built before, result checked after",
        "scheduler": HOW_RUN[scheduler],
        "task": TASK_DESCRIPTIONS[task_kind],
        "expected_seconds": ideal,
        "expected_seconds_means": "ceil(n_tasks / n_workers) * task_ms: all workers busy, no overhead",
    }
    if scheduler == PROCESSES:
        measurement["chunksize"] = dask.config.get("chunksize", PROCESSES_DEFAULT_CHUNKSIZE)
    return measurement


@dataclass(frozen=True)
class ComparisonSettings:
    """What to compare: the graph, the schedulers and task kinds, how often, where results go."""

    tasks: int = DEFAULT_TASKS
    task_ms: float = DEFAULT_TASK_MS
    runs: int = DEFAULT_RUNS
    schedulers: tuple[str, ...] = SCHEDULERS
    task_kinds: tuple[str, ...] = TASK_KINDS
    workers: int = 1
    output_dir: str = DEFAULT_OUTPUT_DIR
    timeout: float = DEFAULT_COMPUTE_TIMEOUT


class Comparison:
    """Runs every scheduler and task kind R times, writing one result file per run."""

    def __init__(self, settings: ComparisonSettings, observer: ComparisonObserver) -> None:
        self.settings = settings
        self.observer = observer
        self.study_id = new_study_id()
        self.environment = collect_environment()
        self.results: list[RunResult] = []

    def execute(self, guard: SignalGuard) -> None:
        settings = self.settings
        self.observer(RunStarted("Comparing Dask schedulers", [
            ("Graph", f"{settings.tasks} tasks of {settings.task_ms:g} ms, then one sum"),
            ("Schedulers", ", ".join(settings.schedulers)),
            ("Task kinds", ", ".join(settings.task_kinds)),
            ("Workers", settings.workers),
            ("Runs", settings.runs),
            ("Output directory", settings.output_dir),
            ("Study id", self.study_id),
        ]))
        for scheduler in settings.schedulers:
            for task_kind in settings.task_kinds:
                with scheduler_session(scheduler, settings.workers, guard, self.observer) as compute:
                    for run in range(1, settings.runs + 1):
                        self.run_once(compute, scheduler, task_kind, run)

    def run_once(self, compute: Callable[[Any], Any], scheduler: str, task_kind: str, run: int) -> None:
        """Build a fresh graph, time its compute, check the sum, save the result."""
        settings = self.settings
        graph = build_graph(task_kind, settings.tasks, settings.task_ms)
        tasks_at_once = parallelism(scheduler, settings.workers)
        ideal = ideal_seconds(settings.tasks, settings.task_ms, tasks_at_once)
        expected_sum = sum(range(settings.tasks))
        timestamp = utc_timestamp()
        seconds, error = None, None
        try:
            seconds, value = time_compute(compute, graph, settings.timeout)
            if value != expected_sum:
                seconds, error = None, f"wrong sum: {value!r} instead of {expected_sum}"
        except Exception as failure:  # noqa: BLE001 - a failed run is recorded and the comparison goes on
            error = describe_failure(failure)
        result = RunResult(
            kind=KIND_SCHEDULERS,
            config={"scheduler": scheduler, "task_kind": task_kind, "n_tasks": settings.tasks,
                    "task_ms": settings.task_ms, "n_workers": tasks_at_once, "threads_per_worker": 1},
            options={"timeout": settings.timeout, "output_dir": settings.output_dir, "study_id": self.study_id,
                     "run": run, "runs": settings.runs},
            command_line=[sys.executable, *sys.argv],
            environment=self.environment,
            run_id=uuid.uuid4().hex,
            timestamp=timestamp,
            status=STATUS_OK if error is None else STATUS_FAILED,
            error=error,
            phases={} if seconds is None else {"compute": seconds},
            total_time=seconds,
            measurement=describe_measurement(scheduler, task_kind, ideal),
        )
        self.results.append(result)
        name = f"schedulers_{scheduler}_{task_kind}_run{run:03d}_{self.study_id}.json"
        write_json(os.path.join(settings.output_dir, name), result.to_json())
        self.observer(ComputeTimed(scheduler, task_kind, run, settings.runs, seconds, ideal, error))

    def rows(self) -> list[Row]:
        """Per scheduler and task kind, in the order asked: statistics of the successful runs."""
        rows = []
        for scheduler in self.settings.schedulers:
            for task_kind in self.settings.task_kinds:
                runs = [result for result in self.results
                        if (result.config["scheduler"], result.config["task_kind"]) == (scheduler, task_kind)]
                if not runs:
                    continue
                times = [run.total_time for run in runs if run.ok]
                rows.append(Row(scheduler, task_kind, runs[0].measurement["expected_seconds"],
                                summarize(times) if times else None, len(runs) - len(times)))
        return rows


