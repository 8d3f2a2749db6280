"""A timing study: the same run repeated, each time in a fresh process, then statistics.

``run_timing_study.sh`` is a thin shell entry point to this module.  Every
option is checked before the first run; a failed run is counted and the study
goes on; results are never overwritten (each study has its own id in every
file name); the summary is saved beside the results.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import datetime

from . import cli
from .analysis import group_results, load
from .analyze_tool import present
from .processes import ManagedProcess, terminate
from .result import KIND_DISTRIBUTED, KIND_LOCAL, ResultFileError, load_result

PROG = "run_timing_study.sh"
REPOSITORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPTS = {
    KIND_LOCAL: os.path.join(REPOSITORY, "time_local_cluster.py"),
    KIND_DISTRIBUTED: os.path.join(REPOSITORY, "time_scheduler_workers.py"),
}
# A run that outlives this many times its wait bound (plus a margin) is stopped.
RUN_DEADLINE_FACTOR = 6
RUN_DEADLINE_MARGIN = 60.0
# Seconds a stopped run gets to tear its cluster down before it is killed.
RUN_STOP_GRACE = 20.0


def build_parser() -> cli.OneLineParser:
    parser = cli.OneLineParser(
        prog=PROG,
        description="Run a Dask timing study: RUNS runs of one timing tool, each in a fresh "
        "process, then statistics (n, mean, stddev, median, min, max per phase) saved beside "
        "the results.",
        epilog="examples:\n"
        f"  {PROG} --type local --workers 4\n"
        f"  {PROG} --type distributed --workers 8 --threads 2\n"
        f"  {PROG} --type local --runs 5 --output-dir results_dir --plot",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-t", "--type", choices=[KIND_LOCAL, KIND_DISTRIBUTED], default=KIND_LOCAL,
                        help="local: LocalCluster; distributed: separate scheduler and worker processes "
                             "(default: local)")
    parser.add_argument("-w", "--workers", type=cli.positive_int, default=4, metavar="NUM",
                        help="number of workers (default: 4)")
    parser.add_argument("-T", "--threads", type=cli.positive_int, default=1, metavar="NUM",
                        help="threads per worker (default: 1)")
    parser.add_argument("-o", "--output-dir", default="timing_results", metavar="DIR",
                        help="folder for results, logs and the summary (default: timing_results)")
    parser.add_argument("-r", "--runs", type=cli.positive_int, default=1, metavar="NUM",
                        help="number of runs (default: 1)")
    parser.add_argument("--warmup", type=cli.non_negative_int, default=0, metavar="NUM",
                        help="extra runs first, saved but marked warmup and left out of statistics (default: 0)")
    parser.add_argument("--timeout", type=cli.positive_seconds, default=cli.DEFAULT_TIMEOUT, metavar="SECONDS",
                        help=f"bound on every wait inside a run (default: {cli.DEFAULT_TIMEOUT:g})")
    parser.add_argument("--plot", action="store_true",
                        help="also draw the phase breakdown and total-time distribution into DIR")
    return parser


class Study:
    """Runs the samples one after the other, each in its own process."""

    def __init__(self, args) -> None:
        self.args = args
        self.study_id = datetime.now().strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
        self.log_dir = os.path.join(args.output_dir, "logs")
        self.written: list[str] = []
        self.failed: list[str] = []
        self.stop_signal: int | None = None
        self.current: ManagedProcess | None = None

    def result_path(self, run: int, warmup: bool) -> str:
        args = self.args
        name = f"{args.type}_w{args.workers}_t{args.threads}_{'warmup' if warmup else 'run'}{run:03d}_{self.study_id}.json"
        return os.path.join(args.output_dir, name)

    def command(self, output: str, warmup: bool) -> list[str]:
        args = self.args
        return [
            sys.executable, SCRIPTS[args.type],
            "--workers", str(args.workers),
            "--threads", str(args.threads),
            "--timeout", str(args.timeout),
            "--output", output,
            *(["--warmup-run"] if warmup else []),
        ]

    def on_signal(self, signum: int, _frame) -> None:
        """Stop the study: pass the signal on so the current run tears down, then stop."""
        if self.stop_signal is not None:
            return
        self.stop_signal = signum
        print(f"\n{PROG}: received {signal.Signals(signum).name}; stopping after the current run tears down",
              file=sys.stderr, flush=True)
        if self.current is not None and self.current.exit_code() is None:
            os.kill(self.current.pid, signum)

    def run_one(self, run: int, warmup: bool = False) -> None:
        args = self.args
        output = self.result_path(run, warmup)
        stem = os.path.splitext(os.path.basename(output))[0]
        self.current = ManagedProcess(stem, self.command(output, warmup), os.path.join(self.log_dir, f"{stem}.log"))
        started = time.monotonic()
        self.current.start()
        deadline = args.timeout * RUN_DEADLINE_FACTOR + RUN_DEADLINE_MARGIN
        try:
            code = self.current.popen.wait(timeout=deadline)
        except subprocess.TimeoutExpired:  # hung past every bound: stop it and all it started
            terminate([self.current], grace=RUN_STOP_GRACE)
            code = None
        seconds = time.monotonic() - started
        if os.path.exists(output):
            self.written.append(output)
        self._report(self.current.name, output, code, seconds)

    def _report(self, run: str, output: str, code: int | None, seconds: float) -> None:
        total = None
        if os.path.exists(output):
            try:
                total = load_result(output).total_time
            except ResultFileError:
                total = None
        if code == 0 and total is not None:
            print(f"  ✓ total time to ready {total:.4f} seconds (run took {seconds:.1f} s)", flush=True)
            return
        self.failed.append(run)
        why = "stopped: exceeded its deadline" if code is None else f"exit code {code}"
        print(f"  ✗ {run} failed ({why}); log: {self.current.log_path}", flush=True)
        tail = self.current.log_tail(6)
        if tail:
            print("    " + tail.replace("\n", "\n    "), flush=True)

    def execute(self) -> int:
        args = self.args
        os.makedirs(self.log_dir, exist_ok=True)
        self._print_header()
        began = time.monotonic()
        schedule = [(run, True) for run in range(1, args.warmup + 1)] + [(run, False) for run in range(1, args.runs + 1)]
        for run, warmup in schedule:
            if self.stop_signal is not None:
                break
            elapsed = time.monotonic() - began
            what = f"Warmup {run} of {args.warmup}" if warmup else f"Run {run} of {args.runs}"
            print(f"\n=== {what} (elapsed {elapsed:.1f} s) ===", flush=True)
            self.run_one(run, warmup)
        self.current = None
        print(f"\nStudy {self.study_id}: {len(self.written)} result file(s) in {args.output_dir}, "
              f"{len(self.failed)} failed run(s), {time.monotonic() - began:.1f} s in all")
        self._summarise()
        if self.stop_signal is not None:
            return cli.signal_exit_code(self.stop_signal)
        if self.failed:
            print(f"{PROG}: {len(self.failed)} of {args.warmup + args.runs} run(s) failed: "
                  f"{', '.join(self.failed)}", file=sys.stderr)
            return cli.EXIT_FAILED
        return cli.EXIT_OK

    def _print_header(self) -> None:
        args = self.args
        print("=" * 64)
        print("Dask Timing Study Runner")
        print("=" * 64)
        print(f"Study type: {args.type}")
        print(f"Workers: {args.workers}")
        print(f"Threads per worker: {args.threads}")
        print(f"Number of runs: {args.runs}" + (f" (after {args.warmup} warmup run(s))" if args.warmup else ""))
        print(f"Output directory: {args.output_dir}")
        print(f"Study id: {self.study_id}")
        print("=" * 64, flush=True)

    def _summarise(self) -> None:
        if not self.written:
            return
        loaded = load(self.written)
        groups = group_results(loaded.results)
        summary = os.path.join(self.args.output_dir, f"summary_{self.study_id}.json")
        plot_dir = self.args.output_dir if self.args.plot else None
        print()
        present(groups, len(loaded.results), compare=False, plot_dir=plot_dir, summary_path=summary,
                plot_tag=self.study_id)


def check_output_dir(path: str) -> None:
    if os.path.exists(path) and not os.path.isdir(path):
        raise cli.UsageError(f"--output-dir {path} is a file; give a folder")
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as error:
        raise cli.UsageError(f"cannot create --output-dir {path}: {error.strerror}") from None
    if not os.access(path, os.W_OK):
        raise cli.UsageError(f"cannot write to --output-dir {path}")


def run(argv: list[str] | None) -> int:
    args = build_parser().parse_args(argv)
    cli.require_dask()
    check_output_dir(args.output_dir)
    study = Study(args)
    for signum in cli.HANDLED_SIGNALS:
        signal.signal(signum, study.on_signal)
    return study.execute()


def main(argv: list[str] | None = None) -> int:
    return cli.guarded(run)(argv)


if __name__ == "__main__":
    sys.exit(main())
