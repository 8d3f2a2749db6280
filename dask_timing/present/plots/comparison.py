"""Both sides of a comparison (--baseline, --baseline-env): per compared configuration, baseline against new."""

from __future__ import annotations

from typing import Any, Sequence

from dask_timing.analysis.computed import Analysis
from dask_timing.analysis.groups import total_summary, total_times
from dask_timing.analysis.verdicts import Pair
from dask_timing.present.plots.base import Plot
from dask_timing.present.plots.layout import LABEL_WIDTH, POINT_MARKER, Look, item_row_figures, wrap_parts

# The two sides of a comparison, baseline then new: a colour each (Paul Tol's blue and orange, told apart
# by colour-blind readers too) and a place within the configuration's row (baseline above).
SIDE_COLOURS = ("#4477aa", "#ee7733")
SIDE_OFFSETS = (-0.18, 0.18)


def side_runs(pair: Pair) -> tuple[list[float], list[float]]:
    """The total times of a compared configuration's two sides: baseline, then new."""
    return total_times(pair.baseline), total_times(pair.new)


def comparable(pair: Pair) -> bool:
    return all(side_runs(pair))


def compared_pairs(analysis: Analysis) -> list[Pair]:
    """The pairs of the analysis's comparison whose sides both have total times (none without a comparison)."""
    return [pair for pair in analysis.comparison.pairs if comparable(pair)] if analysis.comparison else []


def side_names(pairs: Sequence[Pair], side: str) -> str:
    """A side as the legend names it: "baseline", or "baseline: A" when the study named it (--baseline-env)."""
    names = list(dict.fromkeys(getattr(pair, f"{side}_name") for pair in pairs))
    return side if names == [side] else f"{side}: {', '.join(names)}"


def side_marks(color: str) -> tuple[dict[str, Any], ...]:
    """How a side draws, in the plot and its legend alike: its 5th to 95th percentile as a line, its runs as
    dots over it, its median as a bar over them."""
    return ({"color": color, "linewidth": 2, "alpha": 0.6, "zorder": 1},
            {"marker": POINT_MARKER, "linestyle": "", "color": color, "alpha": 0.7, "markersize": 5, "zorder": 2},
            {"marker": "|", "linestyle": "", "color": color, "markersize": 15, "markeredgewidth": 3, "zorder": 3})


def draw_comparison(analysis: Analysis, look: Look) -> list:
    """Per compared configuration, the baseline's and the new total times side by side (baseline above):
    every run a dot, the median a bar, the 5th to 95th percentile a line, in the side's colour."""
    from matplotlib.legend_handler import HandlerTuple
    from matplotlib.lines import Line2D

    shown = compared_pairs(analysis)

    def name(pair: Pair) -> str:
        baseline, new = side_runs(pair)
        counts = f"{pair.baseline_name} n={len(baseline)}, {pair.new_name} n={len(new)}"
        return wrap_parts([*look.shown_parts(pair.label), counts], LABEL_WIDTH)

    def draw(axes, page: list[Pair]) -> None:
        for row, pair in enumerate(page):
            for offset, color, side, values in zip(SIDE_OFFSETS, SIDE_COLOURS, (pair.baseline, pair.new),
                                                   side_runs(pair)):
                summary, at = total_summary(side), row + offset
                interval, runs, median = side_marks(color)
                axes.plot([summary.p5, summary.p95], [at, at], **interval)
                axes.plot(values, [at] * len(values), **runs)
                axes.plot([summary.median], [at], **median)
            if row:
                axes.axhline(row - 0.5, color="#cccccc", linewidth=0.8, zorder=0)  # between configurations
        handles = [tuple(Line2D([], [], **mark) for mark in side_marks(color)) for color in SIDE_COLOURS]
        axes.figure.legend(handles, [side_names(page, side) for side in ("baseline", "new")],
                           loc="outside lower center", ncols=2, fontsize="small", frameon=False,
                           handler_map={tuple: HandlerTuple(ndivide=1)})

    return item_row_figures(look, f"Both sides of the comparison: {look.metric.lower()}, baseline against new",
                            shown, lambda pair: pair.label, name, draw,
                            f"{look.metric.lower()} (seconds; dots: runs, bar: median, line: 5th to 95th percentile)",
                            extra=0.35, row_inches=0.6)


COMPARISON = Plot("timing_comparison", "Both sides of the comparison: per compared configuration, the baseline's "
                  "and the new total times side by side, every run a dot, the median a bar and the 5th to 95th "
                  "percentile a line", lambda analysis: bool(compared_pairs(analysis)), draw_comparison)
