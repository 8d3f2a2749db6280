"""Inside the workers, as tables: every worker phase per configuration (median / p95 across workers and runs).

One table, built once (``worker_phase_table``) from the analysis's worker
phases, shown by the text analysis, the Markdown and the HTML exports alike;
the CSV has the same statistics as rows of its tidy table.
"""

from __future__ import annotations

from typing import Callable

from dask_timing.analysis.computed import Analysis
from dask_timing.analysis.explain import worker_called
from dask_timing.analysis.workers import worker_label
from dask_timing.present.import_profile import describe_import_profile
from dask_timing.present.text_table import aligned

TITLE = "Worker startup phases"
UNITS = "seconds; median/p95 across workers and runs"
IMPORTS_TITLE = "Worker imports (seconds per worker; the packages whose modules took longest to import)"
MISSING = "-"
WORKER_RUNS = "worker-runs"  # the count of a row: every worker of every run
Write = Callable[[str], None]


def worker_phase_table(analysis: Analysis, short: bool = False) -> tuple[list[str], list[list[str]]] | None:
    """(header, rows): a row per configuration with waterfalls, a ``median/p95`` cell per worker phase
    (``short``: one-word column names); None when no configuration has any (older results)."""
    keys = analysis.shown_worker_phases
    if not keys:
        return None
    header = ["configuration", WORKER_RUNS, *(worker_label(key, short) for key in keys)]
    rows = []
    for phases in analysis.worker_phases:
        cells = [f"{summary.median:.3f}/{summary.p95:.3f}" if (summary := phases.summaries.get(key)) else MISSING
                 for key in keys]
        rows.append([phases.group.label, str(phases.n_workers), *cells])
    return header, rows


def import_profiles(analysis: Analysis) -> list[tuple[str, str]]:
    """(configuration, its top packages in words) for the configurations whose runs profiled imports."""
    return [(group.label, describe_import_profile(found)) for group, found in analysis.import_profiles]


def write_worker_phases(analysis: Analysis, write: Write) -> None:
    """The table in text, with the import profiles under it; nothing for results without waterfalls."""
    table = worker_phase_table(analysis, short=True)
    if table is None:
        return
    header, rows = table
    lines = aligned([header, *rows])
    rule = "=" * max(70, *map(len, lines))
    write("")
    write(rule)
    write(f"{TITLE.upper()} ({UNITS})")
    write(rule)
    for line in lines:
        write(line)
    profiles = import_profiles(analysis)
    if profiles:
        write(f"{IMPORTS_TITLE}:")
    for label, text in profiles:
        write(f"  {label}: {text}")
    for label, text in straggler_lines(analysis):
        write(f"Stragglers: {label}: {text}")
    write(rule)


def straggler_lines(analysis: Analysis) -> list[tuple[str, str]]:
    """(configuration, its stragglers in words), as a single run names them: which worker, in how many runs,
    how late, and the phase it lost its time in."""
    return [(group.label, "; ".join(
        f"{worker_called(row.worker)} in {row.runs} of {row.told} runs registered {row.excess:.3f} s after the median "
        f"worker, losing {row.phase_excess:.3f} s in {worker_label(row.phase)}" for row in rows))
        for group, rows in analysis.stragglers]
