"""Plots of an analysis (matplotlib, imported only when drawing), as the exports are: one kind per module.

Every kind draws the one ``Analysis`` (``analysis.computed``) and computes no
statistic: what a plot shows that is not a run's own value (a median, a fit,
the run drawn worker by worker) is a field of the analysis, computed once for
every output.  ``layout`` is the kit every plot is drawn with (sizes, a
configuration's style in every plot, labels, headings, pages at shared
scales); ``base`` the interface of a kind and the registry; ``drawing`` draws
every kind the analysis allows, in registration order, and saves each page
under a name not yet taken.  The comparison's plot (both sides of
``--baseline`` or ``--baseline-env``) is drawn last (``comparison.COMPARISON``).

Adding a kind of plot takes one module and one line:

1. a module in this package, say ``queue_depth.py``, with a function
   ``draw(analysis, look) -> list`` of figures (one per page, laid out with
   ``layout.row_figures`` or ``layout.panel_figures``) and
   ``PLOT = Plot("timing_queue_depth", "what it shows, in words", wanted, draw)``,
   ``wanted(analysis)`` saying whether the analysis allows it (a statistic the
   plot needs first becomes a field of the ``Analysis``);
2. the line ``register(queue_depth.PLOT)`` below.
"""

from __future__ import annotations

from dask_timing.present.plots.base import PLOTS, Plot, register
from dask_timing.present.plots import (
    arrivals, memory, phases, scaling, total_time, waterfall, weak_scaling, worker_phases,
)
from dask_timing.present.plots.comparison import COMPARISON, SIDE_COLOURS
from dask_timing.present.plots.drawing import Drawing, PlotFile, draw_all, plot_all
from dask_timing.present.plots.layout import PANEL_SIZE, Look, label_parts, legend, pyplot, save
from dask_timing.present.plots.scaling import fit_text

register(phases.PLOT)
register(total_time.PLOT)
register(arrivals.PLOT)
register(memory.PLOT)
register(scaling.PLOT)
register(weak_scaling.PLOT)
register(worker_phases.PLOT)
register(waterfall.PLOT)

__all__ = ["COMPARISON", "PANEL_SIZE", "PLOTS", "SIDE_COLOURS", "Drawing", "Look", "Plot", "PlotFile", "draw_all",
           "fit_text", "label_parts", "legend", "plot_all", "pyplot", "register", "save"]
