"""The trend plot of histories: one metric against version, commit, label or time, steps marked.

Each configuration (on its machine) keeps one colour, line style and marker,
as in the analyzer's plots (``present.plots.layout.style_at``); a point is the median of
its runs, its bar the runs' 5th to 95th percentile.  A step is a thick arrow
between the two points either side, from the level before to the level after,
in the configuration's colour, with its size: a mark no series line looks like
(lines are solid, dashed, dash-dotted or dotted), drawn where that series is,
so that at 16 series each step still says whose it is.  Settings every series
shares are said once, above the plot, and the key holds only what differs.
"""

from __future__ import annotations

import textwrap
from typing import IO, Sequence

from dask_timing.history.series import MetricHistory
from dask_timing.phases import TOTAL_KEY
from dask_timing.present.plots.layout import (
    LABEL_WIDTH, TEXT_LINE, characters_across, label_parts, legend, line_count, pyplot, save, style_at, wrap_parts,
)

HEIGHT = 4.5  # inches
WIDTH_PER_POINT = 0.9  # inches per point on the axis, within the bounds below
MIN_WIDTH, MAX_WIDTH = 7.0, 18.0
STEP_LANES = 0.6  # of the space between two points, shared by the series' step arrows there
TICK_LABEL_WIDTH = 24  # characters of a point's label on the axis (a release's fits; a commit hash is cut)
KEY_ENTRY_GAP = 0.12  # inches between two entries of the key
STEP_ARROW = {"arrowstyle": "-|>", "linewidth": 2.2, "mutation_scale": 14, "shrinkA": 0, "shrinkB": 0}
MAX_STEP_LABELS = 4  # steps at one place labelled each with its size; more share one label (theirs would overlap)
STEP_TEXT_BOX = {"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none", "alpha": 0.8}


def draw_history(series: Sequence[tuple[str, MetricHistory]], order: str, path: str | IO[bytes]) -> str | IO[bytes]:
    """Draw each (configuration's name, metric history) into one PNG at ``path`` (or a stream); return it.

    A file is written as the tools write theirs (``plots.layout.save``): its folder created, atomically, never
    over another.
    """
    return save(history_figure(series, order), path)


def history_figure(series: Sequence[tuple[str, MetricHistory]], order: str):
    """The trend plot's figure, laid out, not yet saved."""
    plt = pyplot()
    labels: list[str] = []  # every point's label, in the order the histories first show them
    for _name, history in series:
        labels.extend(label for label, _summary in history.points if label not in labels)
    common, names = _shared_settings([name for name, _history in series])
    keys = [wrap_parts(parts, LABEL_WIDTH) for parts in names]
    key_height = sum(line_count(key) * TEXT_LINE + KEY_ENTRY_GAP for key in keys) + 0.6
    width = min(MAX_WIDTH, max(MIN_WIDTH, WIDTH_PER_POINT * len(labels) + 3))
    figure, axes = plt.subplots(figsize=(width, max(HEIGHT, key_height)))
    metric = series[0][1].metric if series else TOTAL_KEY
    steps_at: dict[tuple[str, str], list] = {}  # the steps found between two points, over every series
    for _name, history in series:
        for step in history.steps:
            steps_at.setdefault((step.before, step.after), []).append(step)
    for position, ((_name, history), key) in enumerate(zip(series, keys)):
        style = style_at(position)
        lane = (position - (len(series) - 1) / 2) * STEP_LANES / len(series)  # steps at one place side by side
        places = [labels.index(label) for label, _summary in history.points]
        medians = [summary.median for _label, summary in history.points]
        below = [summary.median - summary.p5 for _label, summary in history.points]
        above = [summary.p95 - summary.median for _label, summary in history.points]
        axes.errorbar(places, medians, yerr=[below, above], color=style.color, linestyle=style.linestyle,
                      marker=style.marker or "o", capsize=3, label=key)
        for step in history.steps:
            between = (labels.index(step.before) + labels.index(step.after)) / 2 + lane
            axes.annotate("", xy=(between, step.level_after), xytext=(between, step.level_before),
                          arrowprops={**STEP_ARROW, "color": style.color})
            if len(steps_at[step.before, step.after]) <= MAX_STEP_LABELS:
                axes.annotate(f"{step.size * 100:+.0f} %", (between, step.level_after), color=style.color,
                              textcoords="offset points", xytext=(5, 0), va="center", fontsize=8,
                              fontweight="bold", bbox=STEP_TEXT_BOX)
    for (before, after), found in steps_at.items():
        if len(found) > MAX_STEP_LABELS:
            sizes = sorted(step.size * 100 for step in found)
            axes.annotate(f"{len(found)} steps, {sizes[0]:+.0f} to {sizes[-1]:+.0f} %",
                          ((labels.index(before) + labels.index(after)) / 2,
                           max(max(step.level_after, step.level_before) for step in found)),
                          textcoords="offset points", xytext=(0, 8), ha="center", va="bottom", fontsize=8,
                          fontweight="bold", bbox=STEP_TEXT_BOX)
    axes.set_xticks(range(len(labels)))
    axes.set_xticklabels(_tick_labels(labels), rotation=30, ha="right", fontsize=8)
    axes.set_xlabel({"version": "release", "revision": "commit", "label": "label", "time": "study"}.get(order, order))
    axes.set_ylabel(f"{metric} (s, median; bars 5-95 %)")
    axes.set_ylim(bottom=0)
    if any(len(found) > MAX_STEP_LABELS for found in steps_at.values()):
        axes.set_ylim(top=axes.get_ylim()[1] * 1.12)  # room above the highest step for its shared label
    # across the whole figure, the key beside the axes included, in lines that fit it
    across = characters_across(width)
    title = textwrap.fill(f"History of {metric}, by {order}; arrows: steps found, with their size", across)
    if common:
        title += "\n" + textwrap.fill("All: " + ", ".join(common), across)
    figure.suptitle(title, fontsize=10)
    axes.grid(True, alpha=0.3)
    legend(axes, fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))  # beside the axes: never over a point
    figure.tight_layout()
    return figure


def _tick_labels(labels: Sequence[str]) -> list[str]:
    """The points' labels on the axis: a long one (a commit's full hash) cut to TICK_LABEL_WIDTH characters,
    unless that would make two of them alike; the text output has them whole."""
    cut = [label if len(label) <= TICK_LABEL_WIDTH else label[:TICK_LABEL_WIDTH - 1] + "\N{HORIZONTAL ELLIPSIS}"
           for label in labels]
    return cut if len(set(cut)) == len(set(labels)) else list(labels)


def _shared_settings(names: Sequence[str]) -> tuple[list[str], list[list[str]]]:
    """The settings every name holds (said once), and each name's own (its key); one name keeps all of its."""
    split = [label_parts(name) for name in names]
    if len(split) < 2:
        return [], split
    common = [part for part in split[0] if all(part in parts for parts in split[1:])]
    return common, [[part for part in parts if part not in common] or parts for parts in split]
