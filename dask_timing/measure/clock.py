"""Monotonic timing of a run's phases.

All durations come from ``time.perf_counter`` (monotonic, the finest clock
Python offers).  The wall-clock time of the run's origin is kept beside it only
to place events stamped by the scheduler's own (wall) clock on the run's
timeline.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Iterator

CLOCK_NAME = "time.perf_counter"


class Timeline:
    """Seconds since the run's origin (the start of its first phase), and its phases."""

    def __init__(self) -> None:
        self.origin = time.perf_counter()
        self.origin_wall = time.time()
        self.phases: dict[str, float] = {}
        self.extras: dict[str, float] = {}
        self.excluded: dict[str, float] = {}
        self.first_start: float | None = None
        self.last_end: float | None = None
        self.cursor: float | None = None  # where the next phase starts

    def now(self) -> float:
        """Seconds elapsed since the origin, on the monotonic clock."""
        return time.perf_counter() - self.origin

    def wall_to_run_time(self, wall_timestamp: float) -> float:
        """Place a wall-clock timestamp (e.g. the scheduler's) on the run's timeline."""
        return wall_timestamp - self.origin_wall

    @contextmanager
    def phase(self, key: str) -> Iterator[None]:
        """Time the block as phase ``key`` of the time to ready (recorded if it completes).

        The first phase's start becomes the run's origin: time zero.  Each later
        phase starts where the previous phase (or excluded block) ended, so the
        phases tile the run without gaps: whatever happens between two blocks
        (a progress line, a garbage collection) counts in the next phase, and the
        phases add up to the total exactly.
        """
        if self.first_start is None:
            self.origin = time.perf_counter()
            self.origin_wall = time.time()
            self.first_start = self.cursor = 0.0
        start = self.cursor
        yield
        self.cursor = self.last_end = self.now()
        self.phases[key] = self.last_end - start

    @contextmanager
    def measure(self, key: str) -> Iterator[None]:
        """Time the block as ``key`` outside the time to ready (e.g. teardown)."""
        start = self.now()
        yield
        self.extras[key] = self.now() - start

    @contextmanager
    def exclude(self, key: str) -> Iterator[None]:
        """Time a block between phases that is not part of the run (e.g. a diagnostic's
        setup); it is taken out of the total, so the phases still add up to it."""
        start = self.now() if self.cursor is None else self.cursor
        yield
        self.cursor = self.now()
        self.excluded[key] = self.cursor - start

    def total(self) -> float | None:
        """Seconds from the start of the first phase to the end of the last one,
        less the excluded blocks between them."""
        if self.first_start is None or self.last_end is None:
            return None
        return self.last_end - self.first_start - sum(self.excluded.values())
