"""Plots of grouped results (matplotlib, imported only when plotting).

Every plot is meant to be read at a glance, at one configuration or at fifty:

* legends sit outside the data, beside or below the axes;
* labels name only what sets configurations apart: what they all share, and
  long values (cluster arguments) by a numbered key, are said once above the
  plot;
* at most ``PANEL_SIZE`` configurations share a panel and ``PAGE_SIZE`` a
  figure; more go on further pages (``name_1.png``, ``name_2.png``...) drawn
  to the same scales;
* a configuration keeps one colour, line style and marker in every plot of an
  analysis (``Look.style``), and axis titles name the metric analysed; the
  plot of a comparison's two sides gives a colour to each side instead.

Drawing is apart from saving: ``draw_all`` yields the figures (tests measure
their text), ``plot_all`` writes them.
"""

from __future__ import annotations

import io
import math
import os
import statistics
import textwrap
from typing import IO, Any, Callable, Iterator, NamedTuple, Sequence

from dask_timing.analysis.groups import Group, total_summary, total_times
from dask_timing.analysis.stats import summarize
from dask_timing.analysis.scaling import Fit, families, family_label, fit_scaling, weak_efficiency
from dask_timing.analysis.verdicts import Pair
from dask_timing.analysis.workers import median_run, representative_group, worker_phase_values
from dask_timing.phases import ALL_PHASES, REGISTERED_BOUNDARY, WORKER_BOUNDARIES, WORKER_PHASES, phase_order
from dask_timing.present.report import total_label
from dask_timing.record.files import unused_path, write_bytes
from dask_timing.record.schema import RunResult

DPI = 120
WIDTH = 10.0  # inches: 1200 pixels at DPI
MIN_HEIGHT = 3.2  # inches: never a thin strip
PANEL_SIZE = 8  # lines (configurations or families) in one panel
PAGE_SIZE = 16  # configurations or families in one figure
LABEL_WIDTH = 34  # characters per line of a configuration's label
LINE_WIDTH = 110  # characters per line of a heading or key across the figure
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
PHASE_PALETTE = "Set2"  # phases are not configurations: colours of their own
WORKER_PHASE_PALETTE = "Dark2"  # nor are the phases inside a worker, which differ from the run's
# The two sides of a comparison, baseline then new: a colour each (Paul Tol's blue and orange, told apart
# by colour-blind readers too) and a place within the configuration's row (baseline above).
SIDE_COLOURS = ("#4477aa", "#ee7733")
SIDE_OFFSETS = (-0.18, 0.18)
WATERFALL_ROWS = 40  # workers drawn in a waterfall: more are sampled evenly, the slowest always kept


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


def legend(axes, **options) -> None:
    """A legend, when something drawn has a label (matplotlib warns otherwise)."""
    if axes.get_legend_handles_labels()[0]:
        axes.legend(**options)


# -- Naming and styling configurations ---------------------------------------------------------------------------


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


def line_count(text: str) -> int:
    return text.count("\n") + 1


def chunks(items: Sequence[Any], size: int) -> list[list[Any]]:
    """``items`` in as few chunks of at most ``size`` as possible, evenly filled (17 by 16: 9 and 8)."""
    if not items:
        return []
    count = math.ceil(len(items) / size)
    per_chunk = math.ceil(len(items) / count)
    return [list(items[start:start + per_chunk]) for start in range(0, len(items), per_chunk)]


# -- Figures: heading, key, pages, shared scales -----------------------------------------------------------------


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


def seconds(value: float) -> str:
    """Seconds with three significant digits and a true minus sign."""
    return f"{value:.3g}".replace("-", MINUS)


def fit_text(fit: Fit) -> str:
    """The fitted law as people write it: ``0.077 s − 0.008 s × workers``."""
    sign = MINUS if fit.slope < 0 else "+"
    return f"{seconds(fit.intercept)} s {sign} {seconds(abs(fit.slope))} s × workers"


# -- The plots ---------------------------------------------------------------------------------------------------


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


def draw_phase_breakdown(groups: list[Group], look: Look) -> list:
    """One bar per configuration, its phases stacked in run order up to the total (mean; error bar: 1 stddev)."""
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


def draw_total_distribution(groups: list[Group], look: Look) -> list:
    """Per configuration, a box of its total times with every run drawn as a dot, in the configuration's colour."""
    from matplotlib.colors import to_rgba

    def draw(axes, page: list[Group]) -> None:
        data = [total_times(group) for group in page]
        boxes = axes.boxplot(data, positions=range(len(page)), orientation="horizontal", widths=0.6,
                             patch_artist=True, showfliers=False, manage_ticks=False, medianprops={"color": "black"})
        for row, (box, group, values) in enumerate(zip(boxes["boxes"], page, data)):
            color = look.style(group).color
            box.set(facecolor=to_rgba(color, 0.35), edgecolor=color)
            spread = min(len(values), 5)  # dots on up to five lines, centred on the box
            offsets = [row + 0.07 * (k % spread - (spread - 1) / 2) for k in range(len(values))]
            axes.plot(values, offsets, POINT_MARKER, color=color, alpha=0.8, markersize=4)

    return row_figures(look, f"{look.metric}: distribution per configuration", groups, draw,
                       f"{look.metric.lower()} (seconds; box: quartiles and median, dots: runs)")


def side_runs(pair: Pair) -> tuple[list[float], list[float]]:
    """The total times of a compared configuration's two sides: baseline, then new."""
    return total_times(pair.baseline), total_times(pair.new)


def comparable(pair: Pair) -> bool:
    return all(side_runs(pair))


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


def draw_comparison(pairs: Sequence[Pair], look: Look) -> list:
    """Per compared configuration, the baseline's and the new total times side by side (baseline above):
    every run a dot, the median a bar, the 5th to 95th percentile a line, in the side's colour."""
    from matplotlib.legend_handler import HandlerTuple
    from matplotlib.lines import Line2D

    shown = [pair for pair in pairs if comparable(pair)]

    def name(pair: Pair) -> str:
        baseline, new = side_runs(pair)
        counts = f"{pair.baseline_name} n={len(baseline)}, {pair.new_name} n={len(new)}"
        return wrap_parts([*look.shown_parts(pair.label), counts], LABEL_WIDTH)

    def draw(axes, page: list[Pair]) -> None:
        for row, pair in enumerate(page):
            for offset, color, values in zip(SIDE_OFFSETS, SIDE_COLOURS, side_runs(pair)):
                summary, at = summarize(values), row + offset
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


def arrival_times(run: RunResult) -> list[float]:
    """Seconds from the request for workers to each registration, in order."""
    if not run.arrivals or run.arrivals.get("requested_at") is None:
        return []
    requested = run.arrivals["requested_at"]
    return sorted(worker["arrival_time"] - requested for worker in run.workers if worker.get("arrival_time") is not None)


def runs_arrivals(group: Group) -> list[list[float]]:
    return [times for times in map(arrival_times, group.ok_runs) if times]


def draw_arrivals(groups: list[Group], look: Look) -> list:
    """Workers registered against seconds since they were requested, one line per configuration.

    The line is the median over runs of the k-th worker's arrival; the light
    band spans the fastest and slowest run's k-th arrival.  Bands go under
    every line, so no line hides under another's band.
    """
    def draw(axes, group: Group, name: str) -> Entry:
        per_run = runs_arrivals(group)
        count = min(len(times) for times in per_run)
        ranks = list(range(count + 1))  # from none registered at the request
        kth = [[0.0] * len(per_run)] + [[times[k] for times in per_run] for k in range(count)]
        style = look.style(group)
        axes.fill_betweenx(ranks, [min(values) for values in kth], [max(values) for values in kth], step="pre",
                           alpha=0.12, color=style.color, linewidth=0, zorder=1)
        line, = axes.step([statistics.median(values) for values in kth], ranks, where="post", color=style.color,
                          linestyle=style.linestyle, marker=style.marker or None, linewidth=2, zorder=2)
        return line, name

    usable = [group for group in groups if runs_arrivals(group)]
    return panel_figures(look, "Worker arrival: median over runs, band from the fastest to the slowest run", usable,
                         lambda group: group.label, lambda group: look.name(group.label, len(runs_arrivals(group))),
                         draw, "seconds since the workers were requested", "workers registered",
                         lambda axes: axes.yaxis.get_major_locator().set_params(integer=True), shared_y=False)


def memory_runs(group: Group) -> list[list[list[float]]]:
    return [run.memory_samples["samples"] for run in group.ok_runs if run.memory_samples]


def draw_memory(groups: list[Group], look: Look) -> list:
    """Cluster memory over each run (Dask's MemorySampler), one line per run in its configuration's style."""
    def draw(axes, group: Group, name: str) -> Entry:
        style = look.style(group)
        lines = [axes.plot([t for t, _ in samples], [size / 2**30 for _, size in samples], color=style.color,
                           linestyle=style.linestyle, marker=style.marker or None,
                           markevery=max(1, len(samples) // 8), alpha=0.75)[0]
                 for samples in memory_runs(group)]
        return lines[0], name

    usable = [group for group in groups if memory_runs(group)]
    return panel_figures(look, "Cluster memory over the run (one line per run)", usable, lambda group: group.label,
                         lambda group: look.name(group.label, len(memory_runs(group))), draw,
                         "seconds since the start of the run", "cluster process memory (GiB)")


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


def has_worker_phases(group: Group) -> bool:
    return bool(total_times(group) and worker_phase_values(group))


def draw_worker_phases(groups: list[Group], look: Look) -> list:
    """One bar per configuration: the median of each worker phase (over workers and runs), stacked in order."""
    keys = [phase.key for phase in WORKER_PHASES
            if any(phase.key in worker_phase_values(group) for group in groups)]

    def draw(axes, page: list[Group]) -> None:
        for row, group in enumerate(page):
            left, values = 0.0, worker_phase_values(group)
            for key in keys:
                if key in values:
                    median = statistics.median(values[key])
                    axes.barh(row, median, left=left, height=0.6, color=worker_phase_colour(key), edgecolor="white")
                    left += median
        worker_phase_legend(axes.figure, keys)
        axes.set_xlim(left=0)

    return row_figures(look, "Inside the workers: the median of each phase of a worker's startup",
                       [group for group in groups if has_worker_phases(group)], draw,
                       "seconds from the request for workers (median of each phase over workers and runs)",
                       extra=0.5)


def waterfall_rows(workers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The workers a waterfall shows, first registered on top: all of them, or WATERFALL_ROWS sampled
    evenly in registration order (the first and the slowest kept)."""
    ordered = sorted((worker for worker in workers if worker.get("waterfall", {}).get("phases")),
                     key=lambda worker: worker["waterfall"].get("registration_time", float("inf")))
    if len(ordered) <= WATERFALL_ROWS:
        return ordered
    step = (len(ordered) - 1) / (WATERFALL_ROWS - 1)
    return [ordered[round(index * step)] for index in range(WATERFALL_ROWS)]


def has_waterfall(groups: list[Group]) -> bool:
    group = representative_group(groups)
    return group is not None and bool(waterfall_rows(median_run(group).workers))


def draw_waterfall(groups: list[Group], look: Look) -> list:
    """A Gantt chart of one run (the median run of the configuration whose workers take longest to
    register): one row per worker, its phases as coloured segments from the request for workers."""
    group = representative_group(groups)
    run = median_run(group)
    rows = waterfall_rows(run.workers)
    stragglers = {straggler["name"] for straggler in run.stragglers or []}
    names = [f"{worker['name']}" + (" (straggler)" if worker["name"] in stragglers else "") for worker in rows]
    height = max(MIN_HEIGHT, heading_height(look, [group.label]) + 0.22 * len(rows) + 1.6)
    title = f"Inside the workers: the median run of {look.name(group.label).replace(chr(10), ' ')}"
    figure, (axes,) = new_figure(look, textwrap.fill(title, LINE_WIDTH - 20), height, labels=[group.label])
    drawn: list[str] = []
    first_task = None
    for row, worker in enumerate(rows):
        record = worker["waterfall"]
        boundaries, start = record["boundaries"], record["boundaries"]["requested"]
        previous = None
        for name in WORKER_BOUNDARIES:
            if name not in boundaries:
                continue
            phase = next((phase for phase in WORKER_PHASES if phase.ends_at == name), None)
            if previous is not None and phase is not None:
                axes.barh(row, boundaries[name] - boundaries[previous], left=boundaries[previous] - start,
                          height=0.7, color=worker_phase_colour(phase.key), linewidth=0)
                drawn.append(phase.key)
            if name == REGISTERED_BOUNDARY:
                break
            previous = name
        if "first_task" in boundaries:
            first_task, = axes.plot([boundaries["first_task"] - start], [row], "k|", markersize=9)
    axes.set_yticks(range(len(rows)), names, fontsize="small")
    axes.set_ylim(len(rows) - 0.5, -0.5)
    axes.set_ylabel(f"worker ({len(rows)} of {len(run.workers)})" if len(rows) < len(run.workers) else "worker")
    axes.set_xlabel("seconds from the request for workers")
    axes.set_xlim(left=0)
    axes.grid(True, axis="x", alpha=0.3)
    worker_phase_legend(figure, [key for key in dict.fromkeys(phase.key for phase in WORKER_PHASES)
                                 if key in drawn], [(first_task, "first task")] if first_task else [])
    return [figure]


class Plot(NamedTuple):
    """One kind of plot: its file name, what it shows in words, whether the results allow it, how to draw it."""

    stem: str
    caption: str
    wanted: Callable[[Any], bool]  # of the groups (of the comparison's pairs for COMPARISON)
    draw: Callable[[Any, Look], list]


def _ok_runs(groups: list[Group]) -> list[RunResult]:
    return [run for group in groups for run in group.ok_runs]


PLOTS = (
    Plot("timing_phases", "Where the time goes: each configuration's phases, stacked in run order (mean; error bar: "
         "one standard deviation)", lambda groups: any(map(total_times, groups)), draw_phase_breakdown),
    Plot("timing_total_time", "How the total varies: per configuration, a box of its runs (quartiles and median) and "
         "every run as a dot", lambda groups: any(map(total_times, groups)), draw_total_distribution),
    Plot("timing_arrivals", "When workers arrive: workers registered against seconds since they were requested "
         "(median over runs; band: fastest to slowest run)",
         lambda groups: any(arrival_times(run) for run in _ok_runs(groups)), draw_arrivals),
    Plot("timing_memory", "Cluster memory over each run, one line per run",
         lambda groups: any(run.memory_samples for run in _ok_runs(groups)), draw_memory),
    Plot("timing_scaling", "How the total grows with workers: medians per worker count and the fitted line "
         "a + b × workers, per family of configurations", lambda groups: bool(families(groups)), draw_scaling),
    Plot("timing_weak_scaling", "Weak scaling: efficiency E(n) = T(n0) / T(n) per family, 1 being ideal",
         lambda groups: any(map(weak_efficiency, families(groups))), draw_weak_scaling),
    Plot("timing_worker_phases", "Inside the workers: per configuration, the median of each phase of a worker's "
         "startup, stacked in order (medians over workers and runs: they need not add up to the median "
         "registration time)", lambda groups: any(map(has_worker_phases, groups)), draw_worker_phases),
    Plot("timing_waterfall", "Inside the workers: one run drawn worker by worker, each worker's phases from the "
         "request to its registration (tick: its first task); the run is the median one, by total time, of the "
         "configuration whose workers take longest to register", has_waterfall, draw_waterfall),
)

COMPARISON = Plot("timing_comparison", "Both sides of the comparison: per compared configuration, the baseline's "
                  "and the new total times side by side, every run a dot, the median a bar and the 5th to 95th "
                  "percentile a line", lambda pairs: any(map(comparable, pairs)), draw_comparison)


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


def draw_all(groups: list[Group], pairs: Sequence[Pair] = ()) -> Iterator[Drawing]:
    """Every plot the results allow, drawn one at a time (the caller saves and closes each before the next);
    with the pairs of a comparison, both of its sides last."""
    look = Look(groups)
    for plot in PLOTS:
        if plot.wanted(groups):  # none of the time plots when no run reached ready
            yield Drawing(plot.stem, plot.caption, plot.draw(groups, look))
    if COMPARISON.wanted(pairs):
        yield Drawing(COMPARISON.stem, COMPARISON.caption, COMPARISON.draw(pairs, look))


class PlotFile(str):
    """A saved plot's path, with what it shows in words (for a caption)."""

    caption: str

    def __new__(cls, path: str, caption: str) -> "PlotFile":
        saved = super().__new__(cls, path)
        saved.caption = caption
        return saved


def page_paths(folder: str, stem: str, count: int) -> list[str]:
    """``stem.png``, or ``stem_1.png``... ``stem_N.png`` for N pages; a set of names none of which exists yet."""
    if count == 1:
        return [unused_path(folder, stem, ".png")]
    candidate, index = stem, 0
    while True:
        paths = [os.path.join(folder, f"{candidate}_{page}.png") for page in range(1, count + 1)]
        if not any(map(os.path.exists, paths)):
            return paths
        index += 1
        candidate = f"{stem}-{index}"


def plot_all(groups: list[Group], folder: str, tag: str = "", pairs: Sequence[Pair] = ()) -> list[str]:
    """Draw every plot the results allow (with ``pairs``, both sides of the comparison too) into ``folder``,
    overwriting nothing; return the paths."""
    os.makedirs(folder, exist_ok=True)
    suffix = f"_{tag}" if tag else ""
    saved: list[str] = []
    for drawing in draw_all(groups, pairs):
        paths = page_paths(folder, drawing.stem + suffix, len(drawing.figures))
        for figure, path, caption in zip(drawing.figures, paths, drawing.captions()):
            saved.append(PlotFile(save(figure, path), caption))
    return saved
