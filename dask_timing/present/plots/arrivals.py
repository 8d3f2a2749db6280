"""When workers arrive: workers registered against seconds since they were requested."""

from __future__ import annotations

from dask_timing.analysis.computed import Analysis
from dask_timing.analysis.workers import Arrivals
from dask_timing.present.plots.base import Plot
from dask_timing.present.plots.layout import PANEL_SIZE, Entry, Look, panel_figures, small_multiples


def draw_arrivals(analysis: Analysis, look: Look) -> list:
    """Workers registered against seconds since they were requested, one line per configuration.

    The line is the median over runs of the k-th worker's arrival; the light
    band spans the fastest and slowest run's k-th arrival.  Bands go under
    every line, so no line hides under another's band.
    """
    def draw(axes, arrivals: Arrivals, name: str) -> Entry:
        ranks = list(range(len(arrivals.median)))  # from none registered at the request
        style = look.style(arrivals.group)
        axes.fill_betweenx(ranks, arrivals.fastest, arrivals.slowest, step="pre",
                           alpha=0.12, color=style.color, linewidth=0, zorder=1)
        line, = axes.step(arrivals.median, ranks, where="post", color=style.color,
                          linestyle=style.linestyle, marker=style.marker or None, linewidth=2, zorder=2)
        return line, name

    usable = analysis.arrivals
    layout = panel_figures if len(usable) <= PANEL_SIZE else small_multiples  # more: bands would hide each other
    return layout(look, "Worker arrival: median over runs, band from the fastest to the slowest run", usable,
                  lambda arrivals: arrivals.group.label,
                  lambda arrivals: look.name(arrivals.group.label, arrivals.n_runs),
                  draw, "seconds since the workers were requested", "workers registered",
                  lambda axes: axes.yaxis.get_major_locator().set_params(integer=True), shared_y=False)


PLOT = Plot("timing_arrivals", "When workers arrive: workers registered against seconds since they were requested "
            "(median over runs; band: fastest to slowest run)", lambda analysis: bool(analysis.arrivals), draw_arrivals)
