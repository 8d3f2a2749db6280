"""Drawing every plot the results allow, one at a time, and saving each page under a name not yet taken.

Drawing is apart from saving: ``draw_all`` yields the figures (tests measure
their text, the HTML report embeds them), ``plot_all`` writes them.
"""

from __future__ import annotations

import os
from typing import Iterator, NamedTuple

from dask_timing.analysis.computed import Analysis
from dask_timing.present.plots.base import PLOTS
from dask_timing.present.plots.comparison import COMPARISON
from dask_timing.present.plots.layout import Look, save
from dask_timing.record.files import unused_paths


class Drawing(NamedTuple):
    """A plot drawn: its file name, caption and figures (one per page)."""

    stem: str
    caption: str
    figures: list

    def captions(self) -> list[str]:
        """Each page's caption: the plot's, with its page number when there are several."""
        if len(self.figures) == 1:
            return [self.caption]
        return [f"{self.caption} (page {page} of {len(self.figures)})" for page in range(1, len(self.figures) + 1)]


def draw_all(analysis: Analysis) -> Iterator[Drawing]:
    """Every plot the analysis allows, drawn one at a time (the caller saves and closes each before the next);
    with a comparison, both of its sides last."""
    look = Look(analysis.groups)
    for plot in [*PLOTS, COMPARISON]:
        if plot.wanted(analysis):  # none of the time plots when no run reached ready
            yield Drawing(plot.stem, plot.caption, plot.draw(analysis, look))


class PlotFile(str):
    """A saved plot's path, with what it shows in words (for a caption)."""

    caption: str

    def __new__(cls, path: str, caption: str) -> "PlotFile":
        saved = super().__new__(cls, path)
        saved.caption = caption
        return saved


def page_paths(folder: str, stem: str, count: int) -> list[str]:
    """``stem.png``, or ``stem_1.png``... ``stem_N.png`` for N pages; a set of names none of which exists yet."""
    return unused_paths(folder, stem, [".png"] if count == 1 else [f"_{page}.png" for page in range(1, count + 1)])


def plot_all(analysis: Analysis, folder: str, tag: str = "") -> list[str]:
    """Draw every plot the analysis allows (with a comparison, both of its sides too) into ``folder``,
    overwriting nothing; return the paths."""
    os.makedirs(folder, exist_ok=True)
    suffix = f"_{tag}" if tag else ""
    saved: list[str] = []
    for drawing in draw_all(analysis):
        paths = page_paths(folder, drawing.stem + suffix, len(drawing.figures))
        for figure, path, caption in zip(drawing.figures, paths, drawing.captions()):
            saved.append(PlotFile(save(figure, path), caption))
    return saved
