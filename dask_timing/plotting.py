"""Plots of grouped results (matplotlib, imported only when plotting)."""

from __future__ import annotations

import os

from .analysis import Group, total_times
from .phases import ALL_PHASES, phase_order


def unused_path(folder: str, stem: str, extension: str = ".png") -> str:
    """``folder/stem.png``, or ``stem-1.png``, ``stem-2.png``... if it exists: nothing is overwritten."""
    candidate = os.path.join(folder, stem + extension)
    index = 1
    while os.path.exists(candidate):
        candidate = os.path.join(folder, f"{stem}-{index}{extension}")
        index += 1
    return candidate


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only: no display needed
    import matplotlib.pyplot as plt

    return plt


def plot_phase_breakdown(groups: list[Group], path: str) -> str:
    """One bar per configuration, its phases stacked in run order up to the total time to ready.

    Each segment is the phase's mean; its error bar is one standard deviation.
    """
    plt = _pyplot()
    usable = [group for group in groups if total_times(group)]
    figure, axes = plt.subplots(figsize=(10, 1.2 + 0.8 * len(usable)))
    colors = plt.get_cmap("tab10")
    drawn: set[str] = set()
    for row, group in enumerate(usable):
        table = group.summaries()
        left = 0.0
        for phase in ALL_PHASES:
            summary = table.get(phase.flat_key)
            if summary is None:
                continue
            axes.barh(
                row, summary.mean, left=left, xerr=summary.stddev or 0.0, capsize=3,
                color=colors(phase_order(phase.key)), edgecolor="white",
                label=None if phase.key in drawn else phase.summary_label,
            )
            drawn.add(phase.key)
            left += summary.mean
    axes.set_yticks(range(len(usable)), [f"{group.label} (n={len(group.ok_runs)})" for group in usable])
    axes.invert_yaxis()
    axes.set_xlabel("seconds (phase mean; error bar: 1 stddev)")
    axes.set_title("Where the time goes: phases of the time to ready")
    axes.grid(True, axis="x", alpha=0.3)
    axes.legend(fontsize="small", loc="lower right")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path


def plot_total_distribution(groups: list[Group], path: str) -> str:
    """Distribution of total time to ready per configuration: box plot with every run drawn."""
    plt = _pyplot()
    usable = [group for group in groups if total_times(group)]
    figure, axes = plt.subplots(figsize=(max(7, 1.6 * len(usable)), 5.5))
    data = [total_times(group) for group in usable]
    axes.boxplot(data, tick_labels=[group.label.replace(", ", "\n") for group in usable])
    for index, values in enumerate(data, start=1):
        offsets = [index + 0.08 * ((k % 5) - 2) / 2 for k in range(len(values))]
        axes.plot(offsets, values, "o", alpha=0.5, markersize=4)
    axes.set_ylabel("total time to ready (seconds)")
    axes.set_title("Total time to ready: distribution per configuration")
    axes.grid(True, axis="y", alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path


def plot_all(groups: list[Group], folder: str, tag: str = "") -> list[str]:
    """Draw every plot into ``folder`` under names that overwrite nothing; return the paths."""
    os.makedirs(folder, exist_ok=True)
    suffix = f"_{tag}" if tag else ""
    return [
        plot_phase_breakdown(groups, unused_path(folder, f"timing_phases{suffix}")),
        plot_total_distribution(groups, unused_path(folder, f"timing_total_time{suffix}")),
    ]
