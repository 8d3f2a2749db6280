"""The schedulers command: one graph under Dask's four schedulers (``measure.schedulers``)."""

from __future__ import annotations

import argparse
import os

from dask_timing.cli import checks
from dask_timing.cli import common as cli
from dask_timing.measure.scheduler_tasks import TASK_KINDS
from dask_timing.measure.schedulers import (
    DEFAULT_COMPUTE_TIMEOUT, DEFAULT_OUTPUT_DIR, DEFAULT_RUNS, DEFAULT_TASK_MS, DEFAULT_TASKS, SCHEDULERS, Comparison,
    ComparisonSettings, SignalGuard,
)
from dask_timing.present.schedulers import ComparisonConsole, plot_comparison, write_table
from dask_timing.record.files import unused_path
from dask_timing.signals import Interrupted


def positive_milliseconds(text: str) -> float:
    """argparse type: a duration in milliseconds, above zero."""
    try:
        return cli.positive_seconds(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"expected a number of milliseconds above 0, got {text!r}") from None


DESCRIPTION = ("Compute one dask.delayed graph (M tasks of d ms, then a sum) under Dask's synchronous, threads, "
               "processes and distributed schedulers, with GIL-releasing (sleep) and GIL-holding (python) tasks; "
               "time each compute and compare with the ideal.")


def build_parser(prog: str) -> cli.OneLineParser:
    parser = cli.OneLineParser(prog=prog, description=DESCRIPTION)
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


def run(argv: list[str] | None, prog: str) -> int:
    args = build_parser(prog).parse_args(argv)
    check_requests(args)
    cli.require_dask()
    checks.check_dask_config()
    cli.check_output_dir(args.output_dir)
    comparison = Comparison(ComparisonSettings(
        tasks=args.tasks, task_ms=args.task_ms, runs=args.runs, schedulers=tuple(args.schedulers),
        task_kinds=tuple(args.task_kinds), workers=args.workers, output_dir=args.output_dir, timeout=args.timeout,
    ), ComparisonConsole())
    guard = SignalGuard().install()
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


def check_requests(args: argparse.Namespace) -> None:
    """What this machine cannot do, refused before anything starts (one line, exit 2)."""
    checks.check_seconds(args.timeout, "--timeout")
    checks.check_seconds(args.task_ms / 1000, "--task-ms", f"{args.task_ms:g} ms")
    checks.check_batch(args.tasks, "--tasks")
    checks.check_run_count(args.runs * len(args.schedulers) * len(args.task_kinds),
                           "--runs x schedulers x task kinds")
    if {"processes", "distributed"} & set(args.schedulers):
        checks.check_local_workers(args.workers, processes=True)
    if "threads" in args.schedulers:
        checks.check_threads(1, args.workers, remote=False, option="--workers")


def main(argv: list[str] | None, prog: str) -> int:
    return cli.guarded(lambda args: run(args, prog), prog)(argv)
