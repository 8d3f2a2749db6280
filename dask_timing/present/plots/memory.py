"""Cluster memory over each run (Dask's MemorySampler), one line per run."""

from __future__ import annotations

from dask_timing.analysis.computed import Analysis
from dask_timing.analysis.groups import Group
from dask_timing.present.plots.base import Plot, ok_runs
from dask_timing.present.plots.layout import Entry, Look, panel_figures


def memory_runs(group: Group) -> list[list[list[float]]]:
    return [run.memory_samples["samples"] for run in group.ok_runs if run.memory_samples]


def draw_memory(analysis: Analysis, look: Look) -> list:
    """Cluster memory over each run (Dask's MemorySampler), one line per run in its configuration's style."""
    def draw(axes, group: Group, name: str) -> Entry:
        style = look.style(group)
        lines = [axes.plot([t for t, _ in samples], [size / 2**30 for _, size in samples], color=style.color,
                           linestyle=style.linestyle, marker=style.marker or None,
                           markevery=max(1, len(samples) // 8), alpha=0.75)[0]
                 for samples in memory_runs(group)]
        return lines[0], name

    usable = [group for group in analysis.groups if memory_runs(group)]
    return panel_figures(look, "Cluster memory over the run (one line per run)", usable, lambda group: group.label,
                         lambda group: look.name(group.label, len(memory_runs(group))), draw,
                         "seconds since the start of the run", "cluster process memory (GiB)")


PLOT = Plot("timing_memory", "Cluster memory over each run, one line per run",
            lambda analysis: any(run.memory_samples for run in ok_runs(analysis.groups)), draw_memory)
