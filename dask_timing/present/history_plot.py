"""The trend plot of histories: one metric against version, commit, label or time, steps marked.

Each configuration (on its machine) keeps one colour, line style and marker,
as in the analyzer's plots (``present.plots.style_at``); a point is the median of
its runs, its bar the runs' 5th to 95th percentile; a step is a dashed line
between the two points either side, in the configuration's colour, with its size.
"""

from __future__ import annotations

from typing import IO, Sequence

from dask_timing.history import TOTAL_METRIC
from dask_timing.analysis.groups import Group, settings_key, total_times
from dask_timing.history.series import MetricHistory, metric_history, settings_name, version_key, version_label
from dask_timing.history.steps import Point
from dask_timing.present.plots import LABEL_WIDTH, legend, pyplot, save, style_at, wrap_parts, label_parts

HEIGHT = 4.5  # inches
WIDTH_PER_POINT = 0.9  # inches per point on the axis, within the bounds below
MIN_WIDTH, MAX_WIDTH = 7.0, 18.0


def release_histories(groups: Sequence[Group]) -> list[tuple[str, MetricHistory]]:
    """The total time's history of each configuration the groups hold at two releases or more, in release order.

    What the database's history (``history.series``) is by version, taken from one
    analysis's runs: the HTML report's history section, on files or a database alike.
    """
    families: dict[tuple, list[Group]] = {}
    for group in groups:
        if total_times(group):
            families.setdefault(settings_key(group.runs[0]), []).append(group)
    found = []
    for family in families.values():
        packages = {id(group): group.environment.packages for group in family}
        labelled = [(version_label(packages[id(group)].dask, packages[id(group)].distributed), group)
                    for group in family]
        labelled = [(label, group) for label, group in labelled if label is not None]
        if len({label for label, _group in labelled}) < 2 or len(labelled) != len(family):
            continue  # not a history of releases: one release, or the same release in two environments
        labelled.sort(key=lambda item: (version_key(packages[id(item[1])].distributed),
                                        version_key(packages[id(item[1])].dask)))
        points = [Point(label, tuple(total_times(group))) for label, group in labelled]
        found.append((settings_name(family[0].kind, family[0].config), metric_history(TOTAL_METRIC, points)))
    return found


def draw_history(series: Sequence[tuple[str, MetricHistory]], order: str, path: str | IO[bytes]) -> str | IO[bytes]:
    """Draw each (configuration's name, metric history) into one PNG at ``path`` (or a stream); return it."""
    plt = pyplot()
    labels: list[str] = []  # every point's label, in the order the histories first show them
    for _name, history in series:
        labels.extend(label for label, _summary in history.points if label not in labels)
    width = min(MAX_WIDTH, max(MIN_WIDTH, WIDTH_PER_POINT * len(labels) + 3))
    figure, axes = plt.subplots(figsize=(width, HEIGHT))
    metric = series[0][1].metric if series else TOTAL_METRIC
    for position, (name, history) in enumerate(series):
        style = style_at(position)
        places = [labels.index(label) for label, _summary in history.points]
        medians = [summary.median for _label, summary in history.points]
        below = [summary.median - summary.p5 for _label, summary in history.points]
        above = [summary.p95 - summary.median for _label, summary in history.points]
        axes.errorbar(places, medians, yerr=[below, above], color=style.color, linestyle=style.linestyle,
                      marker=style.marker or "o", capsize=3, label=wrap_parts(label_parts(name), LABEL_WIDTH))
        for step in history.steps:
            between = (places[step.position - 1] + places[step.position]) / 2
            axes.axvline(between, color=style.color, linestyle="--", linewidth=1)
            axes.annotate(f"{step.size * 100:+.0f} %", (between, max(medians)), color=style.color,
                          textcoords="offset points", xytext=(3, 0), fontsize=8)
    axes.set_xticks(range(len(labels)))
    axes.set_xticklabels(labels, rotation=30, ha="right", fontsize=8)
    axes.set_xlabel({"version": "release", "revision": "commit", "label": "label", "time": "study"}.get(order, order))
    axes.set_ylabel(f"{metric} (s, median; bars 5-95 %)")
    axes.set_ylim(bottom=0)
    axes.set_title(f"History of {metric}, by {order}; dashed: steps found")
    axes.grid(True, alpha=0.3)
    legend(axes, fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))  # beside the axes: never over a point
    return save(figure, path)
