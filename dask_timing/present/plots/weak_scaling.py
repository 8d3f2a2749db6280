"""Weak scaling: efficiency E(n) = T(n0) / T(n) per family against the ideal E = 1."""

from __future__ import annotations

from dask_timing.analysis.computed import Analysis, Scaling
from dask_timing.present.plots.base import Plot
from dask_timing.present.plots.layout import POINT_MARKER, Entry, Look, panel_figures, worker_ticks


def weak_families(analysis: Analysis) -> list[Scaling]:
    """The families whose runs timed the weak-scaling workload."""
    return [family for family in analysis.scaling if family.efficiency]


def draw_weak_scaling(analysis: Analysis, look: Look) -> list:
    """Weak-scaling efficiency E(n) per family against the ideal E = 1 (dashed)."""
    def draw(axes, family: Scaling, name: str) -> Entry:
        style = look.family_style(family.groups)
        line, = axes.plot([w for w, _, _ in family.efficiency], [e for _, _, e in family.efficiency],
                          color=style.color, linestyle=style.linestyle, marker=style.marker or POINT_MARKER)
        return line, name

    found = weak_families(analysis)
    highest = max((e for family in found for _, _, e in family.efficiency), default=1.0)
    ticks = worker_ticks([family.groups for family in found])

    def finish(axes) -> None:
        axes.axhline(1.0, color="gray", linestyle="--", linewidth=1, zorder=0)
        axes.set_ylim(0, max(1.2, highest * 1.1))
        ticks(axes)

    return panel_figures(look, "Weak scaling (weak-array workload): efficiency against the ideal E = 1 (dashed)",
                         found, lambda family: family.label, lambda family: look.name(family.label), draw,
                         "workers (work per worker fixed)", "efficiency E(n) = T(n0) / T(n)", finish)


PLOT = Plot("timing_weak_scaling", "Weak scaling: efficiency E(n) = T(n0) / T(n) per family, 1 being ideal",
            lambda analysis: bool(weak_families(analysis)), draw_weak_scaling)
