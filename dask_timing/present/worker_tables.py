"""Inside the workers, as tables: every worker phase per configuration (median / p95 across workers and runs).

One table, built once (``worker_phase_table``), shown by the text analysis,
the Markdown and the HTML exports alike; the CSV has the same statistics as
rows of its tidy table (``analysis.workers.worker_phase_summaries``).
"""

from __future__ import annotations

from typing import Callable

from dask_timing.analysis.groups import Group
from dask_timing.analysis.workers import import_profile, shown_worker_phases, worker_label, worker_phase_values
from dask_timing.record.statistics import summarize
from dask_timing.phases import REGISTERED_BOUNDARY
from dask_timing.present.import_profile import describe_import_profile
from dask_timing.present.text_table import aligned

TITLE = "Worker startup phases"
UNITS = "seconds; median/p95 across workers and runs"
IMPORTS_TITLE = "Worker imports (seconds per worker; the packages whose modules took longest to import)"
MISSING = "-"
Write = Callable[[str], None]


def worker_phase_table(groups: list[Group], short: bool = False) -> tuple[list[str], list[list[str]]] | None:
    """(header, rows): a row per configuration with waterfalls, a ``median/p95`` cell per worker phase
    (``short``: one-word column names); None when no configuration has any (older results)."""
    keys = shown_worker_phases(groups)
    if not keys:
        return None
    header = ["configuration", "workers", *(worker_label(key, short) for key in keys)]
    rows = []
    for group in groups:
        values = worker_phase_values(group)
        if not values:
            continue
        cells = []
        for key in keys:
            summary = summarize(values[key]) if key in values else None
            cells.append(MISSING if summary is None else f"{summary.median:.3f}/{summary.p95:.3f}")
        rows.append([group.label, str(len(values.get(REGISTERED_BOUNDARY, []))), *cells])
    return header, rows


def import_profiles(groups: list[Group]) -> list[tuple[str, str]]:
    """(configuration, its top packages in words) for the configurations whose runs profiled imports."""
    return [(group.label, describe_import_profile(found)) for group in groups if (found := import_profile(group))]


def write_worker_phases(groups: list[Group], write: Write) -> None:
    """The table in text, with the import profiles under it; nothing for results without waterfalls."""
    table = worker_phase_table(groups, short=True)
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
    profiles = import_profiles(groups)
    if profiles:
        write(f"{IMPORTS_TITLE}:")
    for label, text in profiles:
        write(f"  {label}: {text}")
    write(rule)
