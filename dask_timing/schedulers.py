"""Compare Dask's schedulers on one graph: which one to use for which kind of task?

The same ``dask.delayed`` graph (M independent tasks of d ms, then one ``sum``
over their results) is computed under the synchronous, threaded,
multiprocessing and distributed schedulers, R times each, with tasks that
release the GIL (``time.sleep``) and tasks that hold it (a Python busy loop
on the thread's CPU clock).
Only the compute call is timed; a distributed ``LocalCluster`` is started
before and closed after.  Each run is one result file the analyzer reads.

The task functions live at module level so they pickle by reference: the
worker processes of the ``processes`` and ``distributed`` schedulers import
them from this package.
"""

from __future__ import annotations

import argparse
import math
import os
import signal
import sys
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Iterator

import psutil

# Every worker process of the processes scheduler imports this module to
# unpickle a task, inside the timed compute: the heavier package modules (the
# study runner, the report, the plots) are imported only where they are used.
from . import cli
from .console import RunConsole
from .environment import collect_environment, utc_timestamp
from .result import KIND_SCHEDULERS, STATUS_FAILED, STATUS_OK, RunResult, unused_path, write_json
from .stats import Summary, summarize

SYNCHRONOUS, THREADS, PROCESSES, DISTRIBUTED = "synchronous", "threads", "processes", "distributed"
SCHEDULERS = (SYNCHRONOUS, THREADS, PROCESSES, DISTRIBUTED)
SLEEP, PYTHON = "sleep", "python"
TASK_KINDS = (SLEEP, PYTHON)
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


def sleep_task(index: int, task_ms: float) -> int:
    """Wait d ms without holding the GIL, so threads can overlap these tasks."""
    time.sleep(task_ms / 1000)
    return index


def python_task(index: int, task_ms: float) -> int:
    """Spin in Python for d ms of this thread's CPU time, holding the GIL.

    CPU time, not wall time: threads waiting for the GIL do not advance it, so
    each task is d ms of work however the threads share the GIL, and only
    separate processes overlap these tasks.
    """
    deadline = time.thread_time() + task_ms / 1000
    while time.thread_time() < deadline:
        pass
    return index


TASK_FUNCTIONS = {SLEEP: sleep_task, PYTHON: python_task}


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


class Interrupted(KeyboardInterrupt):
    """A handled signal: stop, after the cluster (if any) is closed."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class SignalGuard:
    """Turns the first SIGINT/SIGTERM/SIGHUP into Interrupted, so ``finally`` blocks close the cluster.

    A signal arriving while a cluster starts or closes is held until that is
    done (a half-started cluster cannot be closed); a second signal kills this
    process's children and exits at once.
    """

    def __init__(self) -> None:
        self.received: int | None = None
        self.holding = False

    def install(self) -> None:
        for signum in cli.HANDLED_SIGNALS:
            signal.signal(signum, self._on_signal)

    def _on_signal(self, signum: int, _frame: Any) -> None:
        if self.received is not None:
            for child in psutil.Process().children(recursive=True):
                try:
                    child.kill()
                except psutil.NoSuchProcess:
                    pass
            os._exit(cli.signal_exit_code(self.received))
        self.received = signum
        print(f"\nReceived {signal.Signals(signum).name}: stopping and tearing down...", file=sys.stderr, flush=True)
        if not self.holding:
            raise Interrupted(signum)

    @contextmanager
    def held(self) -> Iterator[None]:
        """Hold a first signal until the block is done, then raise it."""
        self.holding = True
        try:
            yield
        finally:
            self.holding = False
        if self.received is not None:
            raise Interrupted(self.received)


@contextmanager
def scheduler_session(scheduler: str, n_workers: int, guard: SignalGuard) -> Iterator[Callable[[Any], Any]]:
    """A function computing a graph on ``scheduler``; for distributed, on a LocalCluster living as long as the block."""
    if scheduler != DISTRIBUTED:
        options = {} if scheduler == SYNCHRONOUS else {"num_workers": n_workers}
        yield lambda graph: graph.compute(scheduler=scheduler, **options)
        return
    from distributed import Client, LocalCluster

    print(f"Starting a LocalCluster ({n_workers} workers, 1 thread each; not timed)...", flush=True)
    started = time.perf_counter()
    cluster = client = None
    try:
        with guard.held():
            cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, host=cli.DEFAULT_HOST,
                                   scheduler_port=0, dashboard_address=None)
            client = Client(cluster)
        print(f"✓ LocalCluster ready: {time.perf_counter() - started:.4f} seconds", flush=True)
        yield lambda graph: client.compute(graph).result()
    finally:
        with guard.held():
            started = time.perf_counter()
            if client is not None:
                client.close()
            if cluster is not None:
                cluster.close()
                print(f"✓ LocalCluster closed: {time.perf_counter() - started:.4f} seconds", flush=True)


def positive_milliseconds(text: str) -> float:
    """argparse type: a duration in milliseconds, above zero."""
    try:
        return cli.positive_seconds(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"expected a number of milliseconds above 0, got {text!r}") from None


def build_parser(prog: str) -> cli.OneLineParser:
    parser = cli.OneLineParser(
        prog=prog,
        description="Compute one dask.delayed graph (M tasks of d ms, then a sum) under Dask's "
        "synchronous, threads, processes and distributed schedulers, with GIL-releasing (sleep) "
        "and GIL-holding (python) tasks; time each compute and compare with the ideal.",
    )
    parser.add_argument("--tasks", type=cli.positive_int, default=DEFAULT_TASKS, metavar="M",
                        help=f"independent tasks in the graph (default: {DEFAULT_TASKS})")
    parser.add_argument("--task-ms", type=positive_milliseconds, default=DEFAULT_TASK_MS, metavar="D",
                        help=f"milliseconds each task takes (default: {DEFAULT_TASK_MS:g})")
    parser.add_argument("-r", "--runs", type=cli.positive_int, default=DEFAULT_RUNS, metavar="R",
                        help=f"computes per scheduler and task kind (default: {DEFAULT_RUNS})")
    parser.add_argument("--schedulers", type=cli.comma_list(cli.one_of(SCHEDULERS)), default=list(SCHEDULERS),
                        metavar="LIST", help=f"comma-separated, among {','.join(SCHEDULERS)} (default: all)")
    parser.add_argument("--task-kinds", type=cli.comma_list(cli.one_of(TASK_KINDS)), default=list(TASK_KINDS),
                        metavar="LIST", help="sleep (releases the GIL), python (holds it); comma-separated "
                                             "(default: both)")
    parser.add_argument("-w", "--workers", type=cli.positive_int, default=os.cpu_count() or 1, metavar="N",
                        help="threads (threads), processes (processes) or single-threaded workers "
                             "(distributed) (default: the CPU count)")
    parser.add_argument("-o", "--output-dir", default=DEFAULT_OUTPUT_DIR, metavar="DIR",
                        help=f"folder for the result files and the plot (default: {DEFAULT_OUTPUT_DIR})")
    parser.add_argument("--plot", action="store_true", help="draw a bar chart of the medians into DIR")
    parser.add_argument("--timeout", type=cli.positive_seconds, default=DEFAULT_COMPUTE_TIMEOUT,
                        metavar="SECONDS", help=f"bound on each compute (default: {DEFAULT_COMPUTE_TIMEOUT:g})")
    return parser


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


class Comparison:
    """Runs every scheduler and task kind R times, writing one result file per run."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.study_id = datetime.now().strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
        self.environment = collect_environment()
        self.results: list[RunResult] = []

    def execute(self, guard: SignalGuard) -> None:
        args = self.args
        RunConsole().header("Comparing Dask schedulers", [
            ("Graph", f"{args.tasks} tasks of {args.task_ms:g} ms, then one sum"),
            ("Schedulers", ", ".join(args.schedulers)),
            ("Task kinds", ", ".join(args.task_kinds)),
            ("Workers", args.workers),
            ("Runs", args.runs),
            ("Output directory", args.output_dir),
            ("Study id", self.study_id),
        ])
        for scheduler in args.schedulers:
            for task_kind in args.task_kinds:
                with scheduler_session(scheduler, args.workers, guard) as compute:
                    for run in range(1, args.runs + 1):
                        self.run_once(compute, scheduler, task_kind, run)

    def run_once(self, compute: Callable[[Any], Any], scheduler: str, task_kind: str, run: int) -> None:
        """Build a fresh graph, time its compute, check the sum, save the result."""
        args = self.args
        graph = build_graph(task_kind, args.tasks, args.task_ms)
        tasks_at_once = parallelism(scheduler, args.workers)
        ideal = ideal_seconds(args.tasks, args.task_ms, tasks_at_once)
        expected_sum = sum(range(args.tasks))
        timestamp = utc_timestamp()
        seconds, error = None, None
        try:
            seconds, value = time_compute(compute, graph, args.timeout)
            if value != expected_sum:
                seconds, error = None, f"wrong sum: {value!r} instead of {expected_sum}"
        except Exception as failure:  # noqa: BLE001 - a failed run is recorded and the comparison goes on
            error = cli.describe_failure(failure)
        result = RunResult(
            kind=KIND_SCHEDULERS,
            config={"scheduler": scheduler, "task_kind": task_kind, "n_tasks": args.tasks,
                    "task_ms": args.task_ms, "n_workers": tasks_at_once, "threads_per_worker": 1},
            options={"timeout": args.timeout, "output_dir": args.output_dir, "study_id": self.study_id,
                     "run": run, "runs": args.runs},
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
        write_json(os.path.join(args.output_dir, name), result.to_json())
        where = f"  {scheduler:<12}{task_kind:<7} run {run} of {args.runs}:"
        if seconds is None:
            print(f"{where} ✗ failed: {error}", flush=True)
        else:
            print(f"{where} {seconds:.4f} seconds (ideal {ideal:.4f})", flush=True)

    def rows(self) -> list[Row]:
        """Per scheduler and task kind, in the order asked: statistics of the successful runs."""
        rows = []
        for scheduler in self.args.schedulers:
            for task_kind in self.args.task_kinds:
                runs = [result for result in self.results
                        if (result.config["scheduler"], result.config["task_kind"]) == (scheduler, task_kind)]
                if not runs:
                    continue
                times = [run.total_time for run in runs if run.ok]
                rows.append(Row(scheduler, task_kind, runs[0].measurement["expected_seconds"],
                                summarize(times) if times else None, len(runs) - len(times)))
        return rows


def write_table(rows: list[Row], n_tasks: int, task_ms: float, n_workers: int) -> None:
    """Per scheduler and task kind: median, mean and stddev of the compute, against the ideal."""
    from .report import WIDE_RULE, WIDE_THIN_RULE

    print()
    print(WIDE_RULE)
    print(f"SCHEDULER COMPARISON: {n_tasks} tasks of {task_ms:g} ms, then a sum; {n_workers} workers")
    print(WIDE_RULE)
    print(f"  {'scheduler':<12}{'task kind':<10}{'n':>3} {'median':>8} {'mean':>8} {'stddev':>8} "
          f"{'ideal':>8} {'median/ideal':>13}")
    print(WIDE_THIN_RULE)
    for row in rows:
        failed = f"   ({row.n_failed} failed)" if row.n_failed else ""
        head = f"  {row.scheduler:<12}{row.task_kind:<10}"
        if row.summary is None:
            print(f"{head}{0:>3} {'no successful run':>26} {row.ideal:>17.4f}{failed}")
            continue
        stats = row.summary
        stddev = "n/a" if stats.stddev is None else f"{stats.stddev:.4f}"
        print(f"{head}{stats.n:>3} {stats.median:>8.4f} {stats.mean:>8.4f} {stddev:>8} {row.ideal:>8.4f} "
              f"{stats.median / row.ideal:>12.2f}x{failed}")
    print(WIDE_THIN_RULE)
    print("  seconds per compute; ideal: ceil(tasks / workers) x task time (synchronous: 1 worker)")
    print(WIDE_RULE)


def plot_comparison(rows: list[Row], title: str, path: str) -> str:
    """Grouped bars: per scheduler, one bar per task kind (median, 1-stddev error bar), ideal dashed."""
    from .plotting import legend, pyplot, save

    plt = pyplot()
    schedulers = list(dict.fromkeys(row.scheduler for row in rows))
    kinds = list(dict.fromkeys(row.task_kind for row in rows))
    width = 0.8 / len(kinds)
    figure, axes = plt.subplots(figsize=(max(6.0, 1.8 * len(schedulers)), 5))
    colors = plt.get_cmap("tab10")
    for offset, kind in enumerate(kinds):
        drawn = [row for row in rows if row.task_kind == kind and row.summary is not None]
        centres = [schedulers.index(row.scheduler) + (offset - (len(kinds) - 1) / 2) * width for row in drawn]
        axes.bar(centres, [row.summary.median for row in drawn], width,
                 yerr=[row.summary.stddev or 0.0 for row in drawn], capsize=4, color=colors(offset),
                 label=f"{kind} tasks")
        axes.hlines([row.ideal for row in drawn], [x - width / 2 for x in centres], [x + width / 2 for x in centres],
                    colors="black", linestyles="dashed", label="ideal" if offset == 0 else None)
    axes.set_xticks(range(len(schedulers)), schedulers)
    axes.set_ylabel("seconds per compute (median; error bar: 1 stddev)")
    axes.set_title(title)
    axes.grid(True, axis="y", alpha=0.3)
    legend(axes, fontsize="small")
    return save(figure, path)


def run(argv: list[str] | None) -> int:
    prog = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "compare_schedulers.py"
    args = build_parser(prog).parse_args(argv)
    from .study import check_output_dir  # not at the top: see the note on imports there

    cli.require_dask()
    check_output_dir(args.output_dir)
    comparison = Comparison(args)
    guard = SignalGuard()
    guard.install()
    stopped_by = None
    try:
        comparison.execute(guard)
    except Interrupted as stop:
        stopped_by = stop.signum
    rows = comparison.rows()
    if rows:
        write_table(rows, args.tasks, args.task_ms, args.workers)
        print(f"{len(comparison.results)} result file(s) in {args.output_dir} (study {comparison.study_id})")
    if args.plot and any(row.summary for row in rows):
        title = f"{args.tasks} tasks of {args.task_ms:g} ms, then a sum; {args.workers} workers (dashed: ideal)"
        path = plot_comparison(rows, title, unused_path(args.output_dir, f"schedulers_{comparison.study_id}", ".png"))
        print(f"✓ Plot saved to: {path}")
    if stopped_by is not None:
        return cli.signal_exit_code(stopped_by)
    return cli.EXIT_FAILED if any(row.n_failed for row in rows) else cli.EXIT_OK


def main(argv: list[str] | None = None) -> int:
    return cli.guarded(run)(argv)
