"""Inside the workers: one run drawn worker by worker, each worker's phases as a Gantt chart."""

from __future__ import annotations

import textwrap
from typing import Any

from dask_timing.analysis.computed import Analysis
from dask_timing.phases import REGISTERED_BOUNDARY, WORKER_BOUNDARIES, WORKER_PHASES
from dask_timing.present.plots.base import Plot
from dask_timing.present.plots.layout import (
    LINE_WIDTH, MIN_HEIGHT, Look, heading_height, new_figure, worker_phase_colour, worker_phase_legend,
)

WATERFALL_ROWS = 40  # workers drawn in a waterfall: more are sampled evenly, the slowest always kept


def waterfall_rows(workers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The workers a waterfall shows, first registered on top: all of them, or WATERFALL_ROWS sampled
    evenly in registration order (the first and the slowest kept)."""
    ordered = sorted((worker for worker in workers if worker.get("waterfall", {}).get("phases")),
                     key=lambda worker: worker["waterfall"].get("registration_time", float("inf")))
    if len(ordered) <= WATERFALL_ROWS:
        return ordered
    step = (len(ordered) - 1) / (WATERFALL_ROWS - 1)
    return [ordered[round(index * step)] for index in range(WATERFALL_ROWS)]


def has_waterfall(analysis: Analysis) -> bool:
    return analysis.waterfall is not None and bool(waterfall_rows(analysis.waterfall[1].workers))


def draw_waterfall(analysis: Analysis, look: Look) -> list:
    """A Gantt chart of one run (``Analysis.waterfall``: the median run of the configuration whose workers take
    longest to register): one row per worker, its phases as coloured segments from the request for workers."""
    group, run = analysis.waterfall
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


PLOT = Plot("timing_waterfall", "Inside the workers: one run drawn worker by worker, each worker's phases from the "
            "request to its registration (tick: its first task); the run is the median one, by total time, of the "
            "configuration whose workers take longest to register", has_waterfall, draw_waterfall)
