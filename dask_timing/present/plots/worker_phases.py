"""Inside the workers: the median of each phase of a worker's startup, per configuration."""

from __future__ import annotations

import statistics

from dask_timing.analysis.groups import Group, total_times
from dask_timing.analysis.workers import worker_phase_values
from dask_timing.phases import WORKER_PHASES
from dask_timing.present.plots.base import Plot
from dask_timing.present.plots.layout import Look, row_figures, worker_phase_colour, worker_phase_legend


def has_worker_phases(group: Group) -> bool:
    return bool(total_times(group) and worker_phase_values(group))


def draw_worker_phases(groups: list[Group], look: Look) -> list:
    """One bar per configuration: the median of each worker phase (over workers and runs), stacked in order."""
    keys = [phase.key for phase in WORKER_PHASES
            if any(phase.key in worker_phase_values(group) for group in groups)]

    def draw(axes, page: list[Group]) -> None:
        for row, group in enumerate(page):
            left, values = 0.0, worker_phase_values(group)
            for key in keys:
                if key in values:
                    median = statistics.median(values[key])
                    axes.barh(row, median, left=left, height=0.6, color=worker_phase_colour(key), edgecolor="white")
                    left += median
        worker_phase_legend(axes.figure, keys)
        axes.set_xlim(left=0)

    return row_figures(look, "Inside the workers: the median of each phase of a worker's startup",
                       [group for group in groups if has_worker_phases(group)], draw,
                       "seconds from the request for workers (median of each phase over workers and runs)",
                       extra=0.5)


PLOT = Plot("timing_worker_phases", "Inside the workers: per configuration, the median of each phase of a worker's "
            "startup, stacked in order (medians over workers and runs: they need not add up to the median "
            "registration time)", lambda groups: any(map(has_worker_phases, groups)), draw_worker_phases)
