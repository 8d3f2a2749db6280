"""How the total grows with workers: medians per worker count and the fitted law a + b × workers."""

from __future__ import annotations

from dask_timing.analysis.computed import Analysis, Scaling
from dask_timing.analysis.groups import total_summary
from dask_timing.analysis.scaling import Fit
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


def draw_scaling(analysis: Analysis, look: Look) -> list:
    """Median total time against workers per family (error bars: 1 stddev), with the fitted law a + b × workers
    (or, with too few worker counts, the family's ``no_fit``: in its legend entry, or once under the title when
    no family has a fit, rather than in every entry)."""
    said_once = analysis.scaling[0].no_fit if all(family.fit is None for family in analysis.scaling) else None

    def name(family: Scaling) -> str:
        fit = family.fit
        said = [f"fit: {fit_text(fit)}", f"R² = {fit.r_squared:.2f}"] if fit is not None else [family.no_fit]
        return look.name(family.label) + ("" if said_once else "\n" + wrap_parts(said, LABEL_WIDTH))

    def draw(axes, family: Scaling, name: str) -> Entry:
        style = look.family_style(family.groups)
        workers = [group.config["n_workers"] for group in family.groups]
        summaries = [total_summary(group) for group in family.groups]
        points = axes.errorbar(workers, [summary.median for summary in summaries],
                               yerr=[summary.stddev or 0.0 for summary in summaries], fmt=style.marker or POINT_MARKER,
                               color=style.color, capsize=4)
        fit = family.fit
        if fit is None:
            return points, name
        ends = [min(workers), max(workers)]
        fitted, = axes.plot(ends, [fit.intercept + fit.slope * n for n in ends], color=style.color,
                            linestyle=style.linestyle, linewidth=1.5)
        return (points, fitted), name

    title = f"Startup scaling: median {look.metric.lower()} against workers (error bar: 1 stddev)"
    return panel_figures(look, title + (f"\n{said_once}" if said_once else ""),
                         analysis.scaling, lambda family: family.label, name, draw, "workers",
                         f"{look.metric.lower()} (seconds)",
                         worker_ticks([family.groups for family in analysis.scaling]))


PLOT = Plot("timing_scaling", "How the total grows with workers: medians per worker count and the fitted line "
            "a + b × workers, per family of configurations", lambda analysis: bool(analysis.scaling), draw_scaling)
