"""The layout kit every plot is drawn with: sizes, styles, names, headings, pages and shared scales.

Every plot is meant to be read at a glance, at one configuration or at fifty:

* legends sit outside the data, beside or below the axes;
* labels name only what sets configurations apart: what they all share, and
  long values (cluster arguments) by a numbered key, are said once above the
  plot;
* at most ``PANEL_SIZE`` configurations share a panel and ``PAGE_SIZE`` a
  figure; more go on further pages drawn to the same scales;
* a configuration keeps one colour, line style and marker in every plot of an
  analysis (``Look.style``), and axis titles name the metric analysed.

Two page layouts cover the plots: ``row_figures`` (one row per configuration)
and ``panel_figures`` (stacked panels of lines, a legend beside each).
"""

from __future__ import annotations

import io
import math
import os
import textwrap
from typing import IO, Any, Callable, NamedTuple, Sequence

from dask_timing.analysis.groups import Group, total_times
from dask_timing.phases import WORKER_PHASES
from dask_timing.present.report import total_label
from dask_timing.record.files import write_bytes
from dask_timing.record.text import printable

DPI = 120
WIDTH = 10.0  # inches: 1200 pixels at DPI
MIN_HEIGHT = 3.2  # inches: never a thin strip
PANEL_SIZE = 8  # lines (configurations or families) in one panel
PAGE_SIZE = 16  # configurations or families in one figure
MULTIPLES_COLUMNS = 4  # small multiples (one panel per configuration) in a row
MULTIPLE_HEIGHT = 1.9  # inches per row of small multiples
LABEL_WIDTH = 34  # characters per line of a configuration's label
LINE_WIDTH = 110  # characters per line of a heading or key across a figure WIDTH wide
LONG_VALUE = 24  # a setting's value longer than this is named by a key
TEXT_LINE = 0.15  # inches per line of small text, spacing included
MINUS = "\N{MINUS SIGN}"

# Twenty colours that stand out on white: tab10, then ten darker or brighter ones unlike any of them.
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf", "#393b79", "#843c39", "#637939", "#bd9e39", "#7b4173", "#000000", "#008080", "#6b6ecf",
           "#e7969c", "#ff00ff")
LINE_STYLES = ("-", "--", "-.", ":")
MARKERS = ("", "o", "s", "^", "D", "v")  # lines get markers only once colours and line styles come round again
POINT_MARKER = "o"
WORKER_PHASE_PALETTE = "Dark2"  # the phases inside a worker: colours of their own, the same in every plot


def pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only: no display needed
    import matplotlib.pyplot as plt

    return plt


def save(figure, path: str | IO[bytes]) -> str | IO[bytes]:
    """Lay out (unless the figure lays itself out), write and close a figure (to a file, or a stream such as
    the HTML report's buffer); return where it went.

    A file is drawn in memory first and then written atomically, never over another file: a plot
    interrupted while it is written (Ctrl-C, SIGTERM, a full disk) leaves no half an image under its name.
    """
    _as_data(figure)
    if figure.get_layout_engine() is None:
        figure.tight_layout()
    if isinstance(path, str):
        image = io.BytesIO()
        figure.savefig(image, dpi=DPI, format=os.path.splitext(path)[1][1:] or "png")
        write_bytes(path, image.getvalue())
    else:
        figure.savefig(path, dpi=DPI)
    pyplot().close(figure)
    return path


def _as_data(figure) -> None:
    """Every text of a figure shown as the characters it holds (labels and settings are read from files):
    control characters escaped as in every output, and a ``$`` never starting matplotlib's mathematics."""
    from matplotlib.text import Text
    from matplotlib.ticker import FixedFormatter

    for axes in figure.axes:
        for axis in (axes.xaxis, axes.yaxis):
            formatter = axis.get_major_formatter()
            if isinstance(formatter, FixedFormatter):  # names given as ticks: drawn from here, not from the texts
                formatter.seq = [plot_text(str(name)) for name in formatter.seq]
    for text in figure.findobj(Text):
        text.set_text(plot_text(text.get_text()))


def plot_text(text: str) -> str:
    """Text as a figure shows it: its own line breaks kept, any other control character escaped, ``$`` a
    dollar sign."""
    return printable(text, "\n").replace("$", "\\$")


def legend(axes, **options) -> None:
    """A legend, when something drawn has a label (matplotlib warns otherwise)."""
    if axes.get_legend_handles_labels()[0]:
        axes.legend(**options)


class Style(NamedTuple):
    """How one configuration (or family) is drawn, in every plot."""

    color: str
    linestyle: str
    marker: str


def style_at(position: int) -> Style:
    """The style of the configuration at ``position``: distinct for the first 120."""
    return Style(PALETTE[position % len(PALETTE)], LINE_STYLES[position % len(LINE_STYLES)],
                 MARKERS[position // len(PALETTE) % len(MARKERS)])


def label_parts(label: str) -> list[str]:
    """A group label's settings: split at ", " outside brackets (cluster arguments hold commas too)."""
    parts, depth, start = [], 0, 0
    for index, character in enumerate(label):
        if character in "([{":
            depth += 1
        elif character in ")]}":
            depth = max(0, depth - 1)
        elif depth == 0 and label.startswith(", ", index):
            parts.append(label[start:index])
            start = index + 2
    parts.append(label[start:])
    return parts


def wrap_parts(parts: Sequence[str], width: int) -> str:
    """Whole settings per line where they fit, a line break between them rather than inside one."""
    lines: list[str] = []
    for part in parts:
        if lines and len(lines[-1]) + 2 + len(part) <= width:
            lines[-1] += ", " + part
        else:
            if lines:
                lines[-1] += ","
            lines.extend(textwrap.wrap(part, width) or [part])
    return "\n".join(lines)


class Look:
    """How the configurations of one analysis are named and drawn, the same in every plot.

    A configuration's style follows its position in the sorted groups; a
    family takes the style of its first (fewest workers) configuration.
    """

    def __init__(self, groups: list[Group]):
        self.metric = total_label(groups)
        self._styles = {id(group): style_at(position) for position, group in enumerate(groups)}
        split = [label_parts(group.label) for group in groups]
        self.common = [part for part in split[0] if all(part in parts for parts in split[1:])] if len(split) > 1 else []
        self.keys: dict[str, int] = {}  # a long setting -> its number in the key
        for parts in split:
            for part in parts:
                _, equals, value = part.partition("=")
                if equals and len(value) > LONG_VALUE and part not in self.common:
                    self.keys.setdefault(part, len(self.keys) + 1)

    def style(self, group: Group) -> Style:
        return self._styles[id(group)]

    def family_style(self, family: list[Group]) -> Style:
        return self.style(family[0])

    def shown_parts(self, label: str) -> list[str]:
        """The settings of ``label`` worth showing: shared ones left out, long values by their key number."""
        parts = [part for part in label_parts(label) if part not in self.common] or label_parts(label)
        return [f"{part.partition('=')[0]}=[{self.keys[part]}]" if part in self.keys else part for part in parts]

    def name(self, label: str, runs: int | None = None) -> str:
        """The label as a plot shows it: shared settings left out, long values keyed, wrapped."""
        parts = self.shown_parts(label)
        if runs is not None:
            parts[-1] += f" (n={runs})"
        return wrap_parts(parts, LABEL_WIDTH)

    def heading(self, labels: Sequence[str]) -> str:
        """What the given labels leave out, said once above the plot: the shared settings, then the long values."""
        lines = [textwrap.fill("All configurations: " + ", ".join(self.common), LINE_WIDTH)] if self.common else []
        used = {part for label in labels for part in label_parts(label) if part in self.keys}
        lines += [textwrap.fill(f"[{self.keys[part]}] {part}", LINE_WIDTH, subsequent_indent="      ")
                  for part in sorted(used, key=self.keys.get)]
        return "\n".join(lines)


def characters_across(width: float) -> int:
    """Characters per line of a heading across a figure ``width`` inches wide (LINE_WIDTH across WIDTH)."""
    return int(LINE_WIDTH * width / WIDTH)


def line_count(text: str) -> int:
    return text.count("\n") + 1


def chunks(items: Sequence[Any], size: int) -> list[list[Any]]:
    """``items`` in as few chunks of at most ``size`` as possible, evenly filled (17 by 16: 9 and 8)."""
    if not items:
        return []
    count = math.ceil(len(items) / size)
    per_chunk = math.ceil(len(items) / count)
    return [list(items[start:start + per_chunk]) for start in range(0, len(items), per_chunk)]


def new_figure(look: Look, title: str, height: float, panels: int = 1, labels: Sequence[str] = (),
               shared_y: bool = True):
    """A figure laid out by matplotlib (nothing cut, legends outside), with its title and heading.

    ``labels``: of the configurations or families drawn, for the heading;
    ``shared_y``: whether the panels share the y scale (they always share x).
    """
    figure = pyplot().figure(figsize=(WIDTH, height), dpi=DPI, layout="constrained")
    axes = list(figure.subplots(panels, 1, sharex=True, sharey=shared_y, squeeze=False)[:, 0])
    figure.suptitle(title, fontweight="bold")
    axes[0].set_title(look.heading(labels), loc="left", fontsize="small")
    return figure, axes


def heading_height(look: Look, labels: Sequence[str]) -> float:
    """Inches the title and heading take."""
    heading = look.heading(labels)
    return 0.5 + (line_count(heading) * TEXT_LINE + 0.1 if heading else 0)


def share_scales(figures: list, x: bool = True, y: bool = True) -> None:
    """The same limits on every page, so pages compare at a glance."""
    axes = [each for figure in figures for each in figure.axes if each.has_data()]
    if len(figures) < 2 or not axes:
        return
    for shared, get, put in ((x, "get_xlim", "set_xlim"), (y, "get_ylim", "set_ylim")):
        if shared:
            limits = [getattr(each, get)() for each in axes]
            low, high = min(limit[0] for limit in limits), max(limit[1] for limit in limits)
            for each in axes:
                getattr(each, put)(low, high)


def rows_height(labels: Sequence[str], least: float = 0.45) -> float:
    """Inches for one row per configuration, each as tall as its wrapped label and at least ``least``."""
    return sum(max(least, line_count(label) * TEXT_LINE + 0.12) for label in labels)


def row_figures(look: Look, title: str, groups: list[Group], draw: Callable[[Any, list[Group]], None], xlabel: str,
                extra: float = 0.0) -> list:
    """Pages of one row per configuration with a total time, labelled by short names, on one x scale.

    ``draw(axes, page)`` draws row k for ``page[k]``; ``extra``: inches for a legend below.
    """
    return item_row_figures(look, title, [group for group in groups if total_times(group)],
                            lambda group: group.label, lambda group: look.name(group.label, len(group.ok_runs)),
                            draw, xlabel, extra)


def item_row_figures(look: Look, title: str, items: list, label_of: Callable[[Any], str],
                     name_of: Callable[[Any], str], draw: Callable[[Any, list], None], xlabel: str,
                     extra: float = 0.0, row_inches: float = 0.45) -> list:
    """``row_figures`` of any items (configurations, compared pairs): ``label_of`` gives an item's
    configuration label (for the heading), ``name_of`` its row's name; ``row_inches``: a row's least height."""
    figures = []
    for page in chunks(items, PAGE_SIZE):
        names = [name_of(item) for item in page]
        labels = [label_of(item) for item in page]
        height = max(MIN_HEIGHT, heading_height(look, labels) + rows_height(names, row_inches) + 0.9 + extra)
        figure, (axes,) = new_figure(look, title, height, labels=labels)
        axes.set_yticks(range(len(page)), names, fontsize="small")
        axes.set_ylim(len(page) - 0.5, -0.5)  # first configuration on top
        axes.grid(True, axis="x", alpha=0.3)
        draw(axes, page)
        axes.set_xlabel(xlabel)
        figures.append(figure)
    share_scales(figures, y=False)
    return figures


def panel_height(names: Sequence[str]) -> float:
    """Inches for a panel: at least readable axes, and room for its legend beside them."""
    return max(MIN_HEIGHT, sum(line_count(name) * TEXT_LINE + 0.08 for name in names) + 0.4)


Entry = tuple[Any, str]  # a legend entry: what was drawn (an artist, or a tuple of them) and its label


def panel_figures(look: Look, title: str, items: list, label_of: Callable[[Any], str], name_of: Callable[[Any], str],
                  draw: Callable[[Any, Any, str], Entry], xlabel: str, ylabel: str,
                  finish: Callable[[Any], None] = lambda axes: None, shared_y: bool = True) -> list:
    """Pages of stacked panels, at most PANEL_SIZE items each, legends beside them, the same scales throughout.

    ``draw(axes, item, name)`` draws one item (a configuration or a family)
    into its panel and returns its legend entry; ``finish(axes)`` completes
    each panel once everything is drawn; ``shared_y``: one y scale for every
    panel and page (worker counts are not shared: 2 workers and 64 differ).
    """
    from matplotlib.legend_handler import HandlerTuple

    figures = []
    for page in chunks(items, PAGE_SIZE):
        panels = chunks(page, PANEL_SIZE)
        names = [[name_of(item) for item in panel] for panel in panels]
        labels = [label_of(item) for item in page]
        height = heading_height(look, labels) + sum(map(panel_height, names)) + 0.6
        figure, axes_list = new_figure(look, title, height, len(panels), labels, shared_y)
        for axes, panel, panel_names in zip(axes_list, panels, names):
            entries = [draw(axes, item, name) for item, name in zip(panel, panel_names)]
            axes.legend([handle for handle, _ in entries], [name for _, name in entries], loc="upper left",
                        bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, fontsize="small",
                        handler_map={tuple: HandlerTuple(ndivide=None)})
            axes.grid(True, alpha=0.3)
            axes.set_ylabel(ylabel)
            finish(axes)
        axes_list[-1].set_xlabel(xlabel)
        figures.append(figure)
    share_scales(figures, y=shared_y)
    return figures


def small_multiples(look: Look, title: str, items: list, label_of: Callable[[Any], str], name_of: Callable[[Any], str],
                    draw: Callable[[Any, Any, str], Entry], xlabel: str, ylabel: str,
                    finish: Callable[[Any], None] = lambda axes: None, shared_y: bool = True) -> list:
    """Pages of a small panel per item, MULTIPLES_COLUMNS a row, at most PAGE_SIZE a page, each titled by its
    item's name: ``panel_figures``' arguments, for more items than one panel shows apart."""
    figures = []
    for page in chunks(items, PAGE_SIZE):
        rows = math.ceil(len(page) / MULTIPLES_COLUMNS)
        names = [name_of(item) for item in page]
        height = heading_height(look, [label_of(item) for item in page]) + rows * MULTIPLE_HEIGHT + 0.6
        figure = pyplot().figure(figsize=(WIDTH, height), dpi=DPI, layout="constrained")
        grid = figure.subplots(rows, MULTIPLES_COLUMNS, sharex=True, sharey=shared_y, squeeze=False)
        figure.suptitle(f"{title}\n{look.heading([label_of(item) for item in page])}".strip(), fontweight="bold",
                        fontsize="medium")
        for index, axes in enumerate(grid.flat):
            if index >= len(page):
                axes.set_visible(False)
                continue
            draw(axes, page[index], names[index])
            axes.set_title(names[index], fontsize="x-small", loc="left")
            axes.grid(True, alpha=0.3)
            axes.tick_params(labelsize="x-small")
            finish(axes)
        figure.supxlabel(xlabel, fontsize="small")
        figure.supylabel(ylabel, fontsize="small")
        figures.append(figure)
    share_scales(figures, y=shared_y)
    return figures


def worker_ticks(found: list[list[Group]]) -> Callable[[Any], None]:
    """Finishes a panel with ticks at the worker counts of the families."""
    from matplotlib.ticker import MaxNLocator

    counts = sorted({group.config["n_workers"] for family in found for group in family})

    def finish(axes) -> None:
        if len(counts) <= 10:
            axes.set_xticks(counts)
        else:
            axes.xaxis.set_major_locator(MaxNLocator(integer=True))

    return finish


def worker_phase_colour(key: str):
    """The colour of a worker phase, the same in every plot."""
    return pyplot().get_cmap(WORKER_PHASE_PALETTE)([phase.key for phase in WORKER_PHASES].index(key))


def worker_phase_legend(figure, keys: Sequence[str], extra: Sequence[tuple[Any, str]] = ()) -> None:
    """One legend of the worker phases drawn, below the axes (outside the data)."""
    labels = {phase.key: phase.label for phase in WORKER_PHASES}
    handles = [pyplot().Rectangle((0, 0), 1, 1, color=worker_phase_colour(key)) for key in keys]
    entries = [*zip(handles, [labels[key] for key in keys]), *extra]
    figure.legend([handle for handle, _ in entries], [label for _, label in entries], loc="outside lower center",
                  ncols=min(len(entries), 4), fontsize="small", frameon=False)
