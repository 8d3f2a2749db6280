"""What a study says as it goes: its plan, each run's start and end, and how it ended.

``StudyConsole`` is the study runner's observer (``study.runner``): the runner
calls one method per event; the lines go to standard output, what went wrong to
standard error, as a user reads them while the study runs.
"""

from __future__ import annotations

import sys
from typing import Sequence

RULE = "=" * 64


class StudyConsole:
    """Prints a study's progress, one method per thing it has to say."""

    def __init__(self, prog: str) -> None:
        self.prog = prog

    def header(self, kinds: Sequence[str], environments: Sequence[str], workers: Sequence[int],
               threads: Sequence[int], n_configurations: int, notes: Sequence[str], runs: int, warmup: int,
               output_dir: str, study_id: str) -> None:
        """The plan, before the first run."""
        print(RULE)
        print("Dask Timing Study Runner")
        print(RULE)
        print(f"Study type: {', '.join(kinds)}")
        if environments:
            print(f"Environments: {', '.join(environments)} (the first is the reference)")
        print(f"Workers: {', '.join(map(str, workers))}")
        print(f"Threads per worker: {', '.join(map(str, threads))}")
        print(f"Configurations: {n_configurations}")
        for note in notes:
            print(f"  ({note})")
        print(f"Number of runs: {runs} of each" + (f" (after {warmup} warmup run(s))" if warmup else ""))
        print(f"Output directory: {output_dir}")
        print(f"Study id: {study_id}")
        print(RULE, flush=True)

    def set_aside(self, path: str, why: str) -> None:
        """A result found unfinished when resuming, renamed out of the way."""
        print(f"Set aside {path} ({why}); that run is done again", flush=True)

    def resuming(self, done: int, scheduled: int) -> None:
        print(f"Resuming: {done} of {scheduled} run(s) already done", flush=True)

    def run_started(self, index: int, count: int, stem: str, run: int, runs: int, warmup: bool, elapsed: float,
                    left: float | None) -> None:
        """Which run starts, of how many; ``left``: the estimated seconds to the end, once a run has ended."""
        what = f"warmup {run} of {runs}" if warmup else f"run {run} of {runs}"
        estimate = f", about {left:.0f} s left" if left is not None else ""
        print(f"\n=== {index}/{count}: {stem}, {what} (elapsed {elapsed:.1f} s{estimate}) ===", flush=True)

    def run_succeeded(self, total: float, seconds: float) -> None:
        print(f"  ✓ total time to ready {total:.4f} seconds (run took {seconds:.1f} s)", flush=True)

    def run_stopped(self, name: str, signal_name: str, code: int, log_path: str) -> None:
        """A run ended by the study's own signal, passed on: stopped, not failed (--resume runs it again)."""
        print(f"  ■ {name} stopped by {signal_name} (exit code {code}); log: {log_path}", flush=True)

    def run_failed(self, name: str, code: int | None, log_path: str, tail: str) -> None:
        """A failed run (``code`` None: stopped past its deadline), with the end of its log."""
        why = "stopped: exceeded its deadline" if code is None else f"exit code {code}"
        print(f"  ✗ {name} failed ({why}); log: {log_path}", flush=True)
        if tail:
            print("    " + tail.replace("\n", "\n    "), flush=True)

    def finished(self, study_id: str, n_written: int, output_dir: str, n_failed: int, seconds: float) -> None:
        print(f"\nStudy {study_id}: {n_written} result file(s) in {output_dir}, "
              f"{n_failed} failed run(s), {seconds:.1f} s in all")

    def recorded(self, database: str, n_recorded: int, n_missed: int) -> None:
        print(f"Recorded in {database}: {n_recorded} run(s)"
              + (f"; {n_missed} not recorded (their files are kept: import them later)" if n_missed else ""))

    def analysis_follows(self) -> None:
        print()

    def warning(self, text: str) -> None:
        print(f"{self.prog}: warning: {text}", file=sys.stderr)

    def stopped(self, resume_hint: str) -> None:
        print(resume_hint, file=sys.stderr)

    def runs_failed(self, failed: Sequence[str], count: int) -> None:
        print(f"{self.prog}: {len(failed)} of {count} run(s) failed: {', '.join(failed)}", file=sys.stderr)
