"""When workers arrive: workers registered against seconds since they were requested."""

from __future__ import annotations

import statistics

from dask_timing.analysis.groups import Group
from dask_timing.present.plots.base import Plot, ok_runs
from dask_timing.present.plots.layout import PANEL_SIZE, Entry, Look, panel_figures, small_multiples
from dask_timing.record.schema import RunResult


def arrival_times(run: RunResult) -> list[float]:
    """Seconds from the request for workers to each registration, in order."""
    if not run.arrivals or run.arrivals.get("requested_at") is None:
        return []
    requested = run.arrivals["requested_at"]
    return sorted(worker["arrival_time"] - requested for worker in run.workers if worker.get("arrival_time") is not None)


def runs_arrivals(group: Group) -> list[list[float]]:
    return [times for times in map(arrival_times, group.ok_runs) if times]


def draw_arrivals(groups: list[Group], look: Look) -> list:
    """Workers registered against seconds since they were requested, one line per configuration.

    The line is the median over runs of the k-th worker's arrival; the light
    band spans the fastest and slowest run's k-th arrival.  Bands go under
    every line, so no line hides under another's band.
    """
    def draw(axes, group: Group, name: str) -> Entry:
        per_run = runs_arrivals(group)
        count = min(len(times) for times in per_run)
        ranks = list(range(count + 1))  # from none registered at the request
        kth = [[0.0] * len(per_run)] + [[times[k] for times in per_run] for k in range(count)]
        style = look.style(group)
        axes.fill_betweenx(ranks, [min(values) for values in kth], [max(values) for values in kth], step="pre",
                           alpha=0.12, color=style.color, linewidth=0, zorder=1)
        line, = axes.step([statistics.median(values) for values in kth], ranks, where="post", color=style.color,
                          linestyle=style.linestyle, marker=style.marker or None, linewidth=2, zorder=2)
        return line, name

    usable = [group for group in groups if runs_arrivals(group)]
    layout = panel_figures if len(usable) <= PANEL_SIZE else small_multiples  # more: bands would hide each other
    return layout(look, "Worker arrival: median over runs, band from the fastest to the slowest run", usable,
                  lambda group: group.label, lambda group: look.name(group.label, len(runs_arrivals(group))),
                  draw, "seconds since the workers were requested", "workers registered",
                  lambda axes: axes.yaxis.get_major_locator().set_params(integer=True), shared_y=False)


PLOT = Plot("timing_arrivals", "When workers arrive: workers registered against seconds since they were requested "
            "(median over runs; band: fastest to slowest run)",
            lambda groups: any(arrival_times(run) for run in ok_runs(groups)), draw_arrivals)
