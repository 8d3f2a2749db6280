"""How the total grows with workers: medians per worker count and the fitted law a + b × workers."""

from __future__ import annotations

from dask_timing.analysis.groups import Group, total_summary
from dask_timing.analysis.scaling import Fit, families, family_label, fit_scaling
from dask_timing.present.plots.base import Plot
from dask_timing.present.plots.layout import (
    LABEL_WIDTH, MINUS, POINT_MARKER, Entry, Look, panel_figures, worker_ticks, wrap_parts,
)


def seconds(value: float) -> str:
    """Seconds with three significant digits and a true minus sign."""
    return f"{value:.3g}".replace("-", MINUS)


def fit_text(fit: Fit) -> str:
    """The fitted law as people write it: ``0.077 s − 0.008 s × workers``."""
    sign = MINUS if fit.slope < 0 else "+"
    return f"{seconds(fit.intercept)} s {sign} {seconds(abs(fit.slope))} s × workers"


def draw_scaling(groups: list[Group], look: Look) -> list:
    """Median total time against workers per family (error bars: 1 stddev), with the fitted law a + b × workers."""
    def name(family: list[Group]) -> str:
        fit = fit_scaling(family)
        shown = look.name(family_label(family))
        if fit is None:
            return shown
        return shown + "\n" + wrap_parts([f"fit: {fit_text(fit)}", f"R² = {fit.r_squared:.2f}"], LABEL_WIDTH)

    def draw(axes, family: list[Group], name: str) -> Entry:
        style = look.family_style(family)
        workers = [group.config["n_workers"] for group in family]
        summaries = [total_summary(group) for group in family]
        points = axes.errorbar(workers, [summary.median for summary in summaries],
                               yerr=[summary.stddev or 0.0 for summary in summaries], fmt=style.marker or POINT_MARKER,
                               color=style.color, capsize=4)
        fit = fit_scaling(family)
        if fit is None:
            return points, name
        ends = [min(workers), max(workers)]
        fitted, = axes.plot(ends, [fit.intercept + fit.slope * n for n in ends], color=style.color,
                            linestyle=style.linestyle, linewidth=1.5)
        return (points, fitted), name

    found = families(groups)
    return panel_figures(look, f"Startup scaling: median {look.metric.lower()} against workers (error bar: 1 stddev)",
                         found, family_label, name, draw, "workers", f"{look.metric.lower()} (seconds)",
                         worker_ticks(found))


PLOT = Plot("timing_scaling", "How the total grows with workers: medians per worker count and the fitted line "
            "a + b × workers, per family of configurations", lambda groups: bool(families(groups)), draw_scaling)
