"""Weak scaling: efficiency E(n) = T(n0) / T(n) per family against the ideal E = 1."""

from __future__ import annotations

from dask_timing.analysis.groups import Group
from dask_timing.analysis.scaling import families, family_label, weak_efficiency
from dask_timing.present.plots.base import Plot
from dask_timing.present.plots.layout import POINT_MARKER, Entry, Look, panel_figures, worker_ticks


def draw_weak_scaling(groups: list[Group], look: Look) -> list:
    """Weak-scaling efficiency E(n) per family against the ideal E = 1 (dashed)."""
    def draw(axes, family: list[Group], name: str) -> Entry:
        style = look.family_style(family)
        efficiency = weak_efficiency(family)
        line, = axes.plot([w for w, _, _ in efficiency], [e for _, _, e in efficiency], color=style.color,
                          linestyle=style.linestyle, marker=style.marker or POINT_MARKER)
        return line, name

    found = [family for family in families(groups) if weak_efficiency(family)]
    highest = max((e for family in found for _, _, e in weak_efficiency(family)), default=1.0)
    ticks = worker_ticks(found)

    def finish(axes) -> None:
        axes.axhline(1.0, color="gray", linestyle="--", linewidth=1, zorder=0)
        axes.set_ylim(0, max(1.2, highest * 1.1))
        ticks(axes)

    return panel_figures(look, "Weak scaling (weak-array workload): efficiency against the ideal E = 1 (dashed)",
                         found, family_label, lambda family: look.name(family_label(family)), draw,
                         "workers (work per worker fixed)", "efficiency E(n) = T(n0) / T(n)", finish)


PLOT = Plot("timing_weak_scaling", "Weak scaling: efficiency E(n) = T(n0) / T(n) per family, 1 being ideal",
            lambda groups: any(map(weak_efficiency, families(groups))), draw_weak_scaling)
