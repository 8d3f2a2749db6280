"""Inside the workers: the median of each phase of a worker's startup, per configuration."""

from __future__ import annotations

from dask_timing.analysis.computed import Analysis, WorkerPhases
from dask_timing.analysis.groups import total_times
from dask_timing.phases import REGISTERED_BOUNDARY
from dask_timing.present.plots.base import Plot
from dask_timing.present.plots.layout import Look, row_figures, worker_phase_colour, worker_phase_legend


def drawn_worker_phases(analysis: Analysis) -> list[WorkerPhases]:
    """The configurations drawn: those with worker phases and a total time (the rows of every time plot)."""
    return [phases for phases in analysis.worker_phases if total_times(phases.group)]


def draw_worker_phases(analysis: Analysis, look: Look) -> list:
    """One bar per configuration: the median of each worker phase (over workers and runs), stacked in order."""
    shown = drawn_worker_phases(analysis)
    keys = [key for key in analysis.shown_worker_phases if key != REGISTERED_BOUNDARY]  # stacked: phases only
    medians = {id(phases.group): phases.summaries for phases in shown}

    def draw(axes, page) -> None:
        for row, group in enumerate(page):
            left, summaries = 0.0, medians[id(group)]
            for key in keys:
                if key in summaries:
                    median = summaries[key].median
                    axes.barh(row, median, left=left, height=0.6, color=worker_phase_colour(key), edgecolor="white")
                    left += median
        worker_phase_legend(axes.figure, keys)
        axes.set_xlim(left=0)

    return row_figures(look, "Inside the workers: the median of each phase of a worker's startup",
                       [phases.group for phases in shown], draw,
                       "seconds from the request for workers (median of each phase over workers and runs)",
                       extra=0.5)


PLOT = Plot("timing_worker_phases", "Inside the workers: per configuration, the median of each phase of a worker's "
            "startup, stacked in order (medians over workers and runs: they need not add up to the median "
            "registration time)", lambda analysis: bool(drawn_worker_phases(analysis)), draw_worker_phases)
