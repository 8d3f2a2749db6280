"""Where the time goes: each configuration's phases, stacked in run order."""

from __future__ import annotations

from dask_timing.analysis.computed import Analysis
from dask_timing.analysis.groups import Group, total_times
from dask_timing.phases import ALL_PHASES, phase_order
from dask_timing.present.plots.base import Plot
from dask_timing.present.plots.layout import Look, pyplot, row_figures

PHASE_PALETTE = "Set2"  # phases are not configurations: colours of their own


def draw_phase_breakdown(analysis: Analysis, look: Look) -> list:
    """One bar per configuration, its phases stacked in run order up to the total (mean; error bar: 1 stddev)."""
    groups = analysis.groups
    colors = pyplot().get_cmap(PHASE_PALETTE)
    shown = [phase for phase in ALL_PHASES if any(phase.flat_key in group.summaries() for group in groups)]

    def draw(axes, page: list[Group]) -> None:
        for row, group in enumerate(page):
            left = 0.0
            for phase in shown:
                summary = group.summaries().get(phase.flat_key)
                if summary is None:
                    continue
                axes.barh(row, summary.mean, left=left, xerr=summary.stddev or 0.0, capsize=3, height=0.6,
                          color=colors(phase_order(phase.key)), edgecolor="white", ecolor="#333333")
                left += summary.mean
        handles = [pyplot().Rectangle((0, 0), 1, 1, color=colors(phase_order(phase.key))) for phase in shown]
        axes.figure.legend(handles, [phase.summary_label for phase in shown], loc="outside lower center",
                           ncols=len(shown), fontsize="small", frameon=False)
        axes.set_xlim(left=0)

    return row_figures(look, f"Where the time goes: the phases of the {look.metric.lower()}", groups, draw,
                       "seconds (phase mean; error bar: 1 stddev)", extra=0.35)


PLOT = Plot("timing_phases", "Where the time goes: each configuration's phases, stacked in run order (mean; error bar: "
            "one standard deviation)", lambda analysis: any(map(total_times, analysis.groups)), draw_phase_breakdown)
