"""The plot kind's interface and the registry of the kinds drawn for every analysis.

A kind draws what the ``Analysis`` (``analysis.computed``) holds and computes no statistic itself.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

from dask_timing.analysis.computed import Analysis
from dask_timing.analysis.groups import Group
from dask_timing.present.plots.layout import Look
from dask_timing.record.schema import RunResult


class Plot(NamedTuple):
    """One kind of plot: its file name, what it shows in words, whether the analysis allows it, how to draw it."""

    stem: str
    caption: str
    wanted: Callable[[Analysis], bool]
    draw: Callable[[Analysis, Look], list]  # the figures, one per page


PLOTS: list[Plot] = []  # the kinds drawn from every analysis, in the order they are drawn and shown


def register(plot: Plot) -> Plot:
    """Draw a kind of plot for every analysis whose results allow it; each file name is one kind's."""
    if any(known.stem == plot.stem for known in PLOTS):
        raise ValueError(f"{plot.stem} is already the file name of another kind of plot")
    PLOTS.append(plot)
    return plot


def ok_runs(groups: list[Group]) -> list[RunResult]:
    """The successful runs of every configuration."""
    return [run for group in groups for run in group.ok_runs]
