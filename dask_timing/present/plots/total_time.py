"""How the total varies: per configuration, a box of its runs and every run as a dot."""

from __future__ import annotations

from dask_timing.analysis.computed import Analysis
from dask_timing.analysis.groups import Group, total_times
from dask_timing.present.plots.base import Plot
from dask_timing.present.plots.layout import POINT_MARKER, Look, row_figures


def draw_total_distribution(analysis: Analysis, look: Look) -> list:
    """Per configuration, a box of its total times with every run drawn as a dot, in the configuration's colour."""
    from matplotlib.colors import to_rgba

    def draw(axes, page: list[Group]) -> None:
        data = [total_times(group) for group in page]
        drawn = [analysis.total_boxes[id(group)] for group in page]
        boxes = axes.bxp([{"q1": box.q1, "med": box.median, "q3": box.q3, "whislo": box.low, "whishi": box.high,
                           "fliers": []} for box in drawn], positions=range(len(page)), orientation="horizontal",
                         widths=0.6, patch_artist=True, showfliers=False, manage_ticks=False,
                         boxprops={"linestyle": "solid"}, medianprops={"color": "black"})
        for row, (box, group, values) in enumerate(zip(boxes["boxes"], page, data)):
            color = look.style(group).color
            box.set(facecolor=to_rgba(color, 0.35), edgecolor=color)
            spread = min(len(values), 5)  # dots on up to five lines, centred on the box
            offsets = [row + 0.07 * (k % spread - (spread - 1) / 2) for k in range(len(values))]
            axes.plot(values, offsets, POINT_MARKER, color=color, alpha=0.8, markersize=4)

    return row_figures(look, f"{look.metric}: distribution per configuration", analysis.groups, draw,
                       f"{look.metric.lower()} (seconds; box: quartiles and median, dots: runs)")


PLOT = Plot("timing_total_time", "How the total varies: per configuration, a box of its runs (quartiles and median) "
            "and every run as a dot", lambda analysis: any(map(total_times, analysis.groups)), draw_total_distribution)
