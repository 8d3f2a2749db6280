"""The scheduler comparison as people read it: a table against the ideal, and a bar chart."""

from __future__ import annotations

from dask_timing.measure.events import RunStarted
from dask_timing.measure.schedulers import (
    ClusterClosed, ClusterReady, ClusterStarting, ComparisonEvent, ComputeTimed, Row,
)
from dask_timing.present.console import RunConsole
from dask_timing.present.plots.layout import legend, pyplot, save
from dask_timing.present.report import WIDE_RULE, WIDE_THIN_RULE


class ComparisonConsole:
    """Prints the comparison's progress as its events come (the observer of ``measure.schedulers.Comparison``)."""

    def __call__(self, event: ComparisonEvent) -> None:
        match event:
            case RunStarted(title, settings):
                RunConsole().header(title, settings)
            case ClusterStarting(n_workers):
                print(f"Starting a LocalCluster ({n_workers} workers, 1 thread each; not timed)...", flush=True)
            case ClusterReady(seconds):
                print(f"✓ LocalCluster ready: {seconds:.4f} seconds", flush=True)
            case ClusterClosed(seconds):
                print(f"✓ LocalCluster closed: {seconds:.4f} seconds", flush=True)
            case ComputeTimed(scheduler, task_kind, run, runs, seconds, ideal, error):
                where = f"  {scheduler:<12}{task_kind:<7} run {run} of {runs}:"
                if seconds is None:
                    print(f"{where} ✗ failed: {error}", flush=True)
                else:
                    print(f"{where} {seconds:.4f} seconds (ideal {ideal:.4f})", flush=True)


def write_table(rows: list[Row], n_tasks: int, task_ms: float, n_workers: int) -> None:
    """Per scheduler and task kind: median, mean and stddev of the compute, against the ideal."""
    print()
    print(WIDE_RULE)
    print(f"SCHEDULER COMPARISON: {n_tasks} tasks of {task_ms:g} ms, then a sum; {n_workers} workers")
    print(WIDE_RULE)
    print(f"  {'scheduler':<12}{'task kind':<10}{'n':>3} {'median':>8} {'mean':>8} {'stddev':>8} "
          f"{'ideal':>8} {'median/ideal':>13}")
    print(WIDE_THIN_RULE)
    for row in rows:
        failed = f"   ({row.n_failed} failed)" if row.n_failed else ""
        head = f"  {row.scheduler:<12}{row.task_kind:<10}"
        if row.summary is None:
            print(f"{head}{0:>3} {'no successful run':>26} {row.ideal:>17.4f}{failed}")
            continue
        stats = row.summary
        stddev = "n/a" if stats.stddev is None else f"{stats.stddev:.4f}"
        print(f"{head}{stats.n:>3} {stats.median:>8.4f} {stats.mean:>8.4f} {stddev:>8} {row.ideal:>8.4f} "
              f"{stats.median / row.ideal:>12.2f}x{failed}")
    print(WIDE_THIN_RULE)
    print("  seconds per compute; ideal: ceil(tasks / workers) x task time (synchronous: 1 worker)")
    print(WIDE_RULE)


def plot_comparison(rows: list[Row], title: str, path: str) -> str:
    """Grouped bars: per scheduler, one bar per task kind (median, 1-stddev error bar), ideal dashed."""
    plt = pyplot()
    schedulers = list(dict.fromkeys(row.scheduler for row in rows))
    kinds = list(dict.fromkeys(row.task_kind for row in rows))
    width = 0.8 / len(kinds)
    figure, axes = plt.subplots(figsize=(max(6.0, 1.8 * len(schedulers)), 5))
    colors = plt.get_cmap("tab10")
    for offset, kind in enumerate(kinds):
        drawn = [row for row in rows if row.task_kind == kind and row.summary is not None]
        centres = [schedulers.index(row.scheduler) + (offset - (len(kinds) - 1) / 2) * width for row in drawn]
        axes.bar(centres, [row.summary.median for row in drawn], width,
                 yerr=[row.summary.stddev or 0.0 for row in drawn], capsize=4, color=colors(offset),
                 label=f"{kind} tasks")
        axes.hlines([row.ideal for row in drawn], [x - width / 2 for x in centres], [x + width / 2 for x in centres],
                    colors="black", linestyles="dashed", label="ideal" if offset == 0 else None)
    axes.set_xticks(range(len(schedulers)), schedulers)
    axes.set_ylabel("seconds per compute (median; error bar: 1 stddev)")
    axes.set_title(title)
    axes.grid(True, axis="y", alpha=0.3)
    legend(axes, fontsize="small")
    return save(figure, path)
