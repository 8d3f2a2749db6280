"""Plots of grouped results (matplotlib, imported only when plotting)."""

from __future__ import annotations

import os
import statistics

from dask_timing.analysis.groups import Group, total_summary, total_times
from dask_timing.record.schema import RunResult
from dask_timing.record.files import unused_path
from dask_timing.analysis.scaling import families, family_label, fit_scaling, weak_efficiency
from dask_timing.phases import ALL_PHASES, phase_order


def save(figure, path: str) -> str:
    """Lay out, write and close a figure; return its path."""
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    pyplot().close(figure)
    return path


def legend(axes, **options) -> None:
    """A legend, when something drawn has a label (matplotlib warns otherwise)."""
    if axes.get_legend_handles_labels()[0]:
        axes.legend(**options)


def finish_line_plot(figure, axes, path: str, xlabel: str, ylabel: str, title: str) -> str:
    """The shared look of the line and point plots: labels, a light grid, a small legend; then save."""
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    axes.set_title(title)
    axes.grid(True, alpha=0.3)
    legend(axes, fontsize="small")
    return save(figure, path)


def pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only: no display needed
    import matplotlib.pyplot as plt

    return plt


def plot_phase_breakdown(groups: list[Group], path: str) -> str:
    """One bar per configuration, its phases stacked in run order up to the total time to ready.

    Each segment is the phase's mean; its error bar is one standard deviation.
    """
    plt = pyplot()
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
    legend(axes, fontsize="small", loc="lower right")
    return save(figure, path)


def plot_total_distribution(groups: list[Group], path: str) -> str:
    """Distribution of total time to ready per configuration: box plot with every run drawn."""
    plt = pyplot()
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
    return save(figure, path)


def arrival_times(run: RunResult) -> list[float]:
    """Seconds from the request for workers to each registration, in order."""
    if not run.arrivals or run.arrivals.get("requested_at") is None:
        return []
    requested = run.arrivals["requested_at"]
    return sorted(worker["arrival_time"] - requested for worker in run.workers if worker.get("arrival_time") is not None)


def plot_arrivals(groups: list[Group], path: str) -> str:
    """Workers registered against seconds since they were requested, one line per configuration.

    The line is the median over runs of the k-th worker's arrival; the band
    spans the fastest and slowest run's k-th arrival.
    """
    plt = pyplot()
    figure, axes = plt.subplots(figsize=(9, 5.5))
    for group in groups:
        per_run = [times for times in map(arrival_times, group.ok_runs) if times]
        if not per_run:
            continue
        count = min(len(times) for times in per_run)
        ranks = list(range(0, count + 1))  # from none registered at the request
        kth = [[0.0] * len(per_run)] + [[times[k] for times in per_run] for k in range(count)]
        line, = axes.step([statistics.median(values) for values in kth], ranks, where="post",
                          label=f"{group.label} (n={len(per_run)})")
        axes.fill_betweenx(ranks, [min(values) for values in kth], [max(values) for values in kth],
                           step="pre", alpha=0.2, color=line.get_color())
    axes.yaxis.get_major_locator().set_params(integer=True)
    return finish_line_plot(figure, axes, path, "seconds since the workers were requested",
                            "workers registered with the scheduler",
                            "Worker arrival (median over runs; band: fastest to slowest run)")


def plot_memory(groups: list[Group], path: str) -> str:
    """Cluster memory over each run (Dask's MemorySampler), one colour per configuration."""
    plt = pyplot()
    figure, axes = plt.subplots(figsize=(9, 5.5))
    colors = plt.get_cmap("tab10")
    for index, group in enumerate(groups):
        sampled = [run.memory_samples["samples"] for run in group.ok_runs if run.memory_samples]
        for number, samples in enumerate(sampled):
            axes.plot([t for t, _ in samples], [size / 2**30 for _, size in samples], color=colors(index % 10),
                      alpha=0.7, label=f"{group.label} (n={len(sampled)})" if number == 0 else None)
    return finish_line_plot(figure, axes, path, "seconds since the start of the run", "cluster process memory (GiB)",
                            "Cluster memory over the run (one line per run)")


def plot_scaling(groups: list[Group], path: str) -> str:
    """Median total time against workers per family (error bars: 1 stddev), with the fitted law."""
    plt = pyplot()
    figure, axes = plt.subplots(figsize=(9, 5.5))
    for family in families(groups):
        workers = [group.config["n_workers"] for group in family]
        summaries = [total_summary(group) for group in family]
        points = axes.errorbar(workers, [summary.median for summary in summaries],
                               yerr=[summary.stddev or 0.0 for summary in summaries],
                               fmt="o", capsize=4, label=family_label(family))
        fit = fit_scaling(family)
        if fit is not None:
            ends = [min(workers), max(workers)]
            axes.plot(ends, [fit.intercept + fit.slope * n for n in ends], "--", color=points[0].get_color(),
                      label=f"fit: {fit.intercept:.3f} s + {fit.slope:.3f} s x workers (R²={fit.r_squared:.2f})")
    return finish_line_plot(figure, axes, path, "workers", "total time to ready (seconds; median, error bar 1 stddev)",
                            "Startup scaling: fixed cost + cost per worker")


def plot_weak_scaling(groups: list[Group], path: str) -> str:
    """Weak-scaling efficiency E(n) per family against the ideal E = 1."""
    plt = pyplot()
    figure, axes = plt.subplots(figsize=(9, 5.5))
    for family in families(groups):
        efficiency = weak_efficiency(family)
        if efficiency:
            axes.plot([w for w, _, _ in efficiency], [e for _, _, e in efficiency], "o-", label=family_label(family))
    axes.axhline(1.0, color="gray", linestyle="--", label="ideal")
    axes.set_ylim(0, 1.2)
    return finish_line_plot(figure, axes, path, "workers (work per worker fixed)", "efficiency E(n) = T(n0) / T(n)",
                            "Weak scaling (weak-array workload)")


def plot_all(groups: list[Group], folder: str, tag: str = "") -> list[str]:
    """Draw every plot the results allow into ``folder``, overwriting nothing; return the paths."""
    os.makedirs(folder, exist_ok=True)
    suffix = f"_{tag}" if tag else ""
    runs = [run for group in groups for run in group.ok_runs]
    paths = []
    if any(total_times(group) for group in groups):  # none when no run reached ready
        paths.append(plot_phase_breakdown(groups, unused_path(folder, f"timing_phases{suffix}", ".png")))
        paths.append(plot_total_distribution(groups, unused_path(folder, f"timing_total_time{suffix}", ".png")))
    if any(arrival_times(run) for run in runs):
        paths.append(plot_arrivals(groups, unused_path(folder, f"timing_arrivals{suffix}", ".png")))
    if any(run.memory_samples for run in runs):
        paths.append(plot_memory(groups, unused_path(folder, f"timing_memory{suffix}", ".png")))
    found = families(groups)
    if found:
        paths.append(plot_scaling(groups, unused_path(folder, f"timing_scaling{suffix}", ".png")))
    if any(weak_efficiency(family) for family in found):
        paths.append(plot_weak_scaling(groups, unused_path(folder, f"timing_weak_scaling{suffix}", ".png")))
    return paths
