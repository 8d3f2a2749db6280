"""The one ranking rule: what the text comparison and every export show.

Configurations are ranked by median total time (startup times have slow
outliers; the median is not dragged by them).  Each one's *relative* value is
the ratio of its median to the fastest's, with the 95 % percentile-bootstrap
interval of that ratio of medians (each configuration's resamples drawn once,
from a seed fixed by what it is: the same files always give the same
interval, whatever other configurations are ranked with them).  The fastest is the
reference: relative exactly 1, no interval.  Nor has a ratio with a single run
on either side: resampling one run gives no spread, so its interval would show
only the other side's and look precise (what each setting costs says the same).

A failure is a result too: configurations without a successful run that
reached ready have no rank and come last, in their usual order, and every
configuration carries its failure count and first error.
"""

from __future__ import annotations

import msgspec

from dask_timing.analysis.groups import Group, total_summary, total_times
from dask_timing.record.statistics import Summary
from dask_timing.analysis.inference import percentile_interval


SINGLE_RUN = "none: a single run"  # a ratio's interval when a side has one run


class Standing(msgspec.Struct, frozen=True):
    """One configuration's place in the ranking."""

    group: Group
    rank: int | None = None  # None: no successful run reached ready
    total: Summary | None = None
    relative: float | None = None
    relative_low: float | None = None  # the interval is None for the fastest, the reference
    relative_high: float | None = None

    @property
    def n_ready(self) -> int:
        """The successful runs that reached ready: what the statistics are of."""
        return 0 if self.total is None else self.total.n

    @property
    def n_failed(self) -> int:
        return len(self.group.failed_runs)

    @property
    def n_runs(self) -> int:
        """The runs that count (warmup runs left out unless asked for), failed ones included."""
        return len(self.group.ok_runs) + self.n_failed

    @property
    def first_error(self) -> str | None:
        """The first line of the error of the earliest failed run (None when none failed)."""
        if not self.group.failed_runs:
            return None
        earliest = min(self.group.failed_runs, key=lambda run: run.timestamp)
        lines = (earliest.error or "").strip().splitlines()
        return lines[0] if lines else "no error message recorded"

    @property
    def failures(self) -> str:
        """How many runs failed, as every presentation says it."""
        return f"{self.n_failed} of {self.n_runs} run(s) failed"

    @property
    def interval_text(self) -> str:
        """The interval as the text report and the HTML page print it ("" when unranked)."""
        if self.relative_low is None or self.relative_high is None:
            return {None: "", 1: "reference"}.get(self.rank, SINGLE_RUN)
        return f"[{self.relative_low:.2f}, {self.relative_high:.2f}]"

    @property
    def tied_with_fastest(self) -> bool:
        """Ranked below the fastest, but its interval of the ratio to it includes 1: the runs cannot tell them apart."""
        return self.rank != 1 and self.relative_low is not None and self.relative_low <= 1 <= self.relative_high

    @property
    def interval_spread(self) -> float | None:
        """The farther end of the interval from the ratio: ``relative ± spread`` covers the interval."""
        if self.relative_low is None or self.relative_high is None or self.relative is None:
            return None
        return max(abs(self.relative - self.relative_low), abs(self.relative_high - self.relative))


def rank(groups: list[Group]) -> list[Standing]:
    """Every configuration: the ranked ones by median total time, then those that never reached ready."""
    timed = sorted((group for group in groups if total_times(group)),
                   key=lambda group: total_summary(group).median)  # stable: ties keep their order
    standings = []
    if timed:
        fastest, fastest_summary = timed[0], total_summary(timed[0])
        standings.append(Standing(fastest, 1, fastest_summary, 1.0))
        for position, group in enumerate(timed[1:], start=2):
            summary = total_summary(group)
            low = high = None
            if min(summary.n, fastest_summary.n) > 1:
                low, high = percentile_interval(group.resampled_total_medians / fastest.resampled_total_medians)
            standings.append(Standing(group, position, summary, summary.median / fastest_summary.median, low, high))
    standings.extend(Standing(group) for group in groups if not total_times(group))
    return standings
