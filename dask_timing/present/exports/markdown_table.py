"""Markdown, as hyperfine's: total time per configuration, in ranking order, relative to the fastest.

The last column is the ranking's ratio of medians, ``± d`` where d is the
distance from the ratio to the farther end of its 95 % bootstrap interval
(the interval itself is in the CSV and HTML exports).  Configurations whose
runs all failed are rows too, and each configuration's first error is listed
under the table.
"""

from __future__ import annotations

from dask_timing.analysis.ranking import Standing
from dask_timing.present.exports.base import Analysis, Exporter
from dask_timing.present.worker_tables import TITLE, UNITS, worker_phase_table

HEADER = (
    "| Configuration | Runs | Failed | Mean [s] | Median [s] | Min [s] | Max [s] | Relative |",
    "|:---|---:|---:|---:|---:|---:|---:|---:|",
)
MISSING = "–"
NOTE = ("Ranked by median total time. Relative: ratio of medians to the fastest, ± the distance to the "
        "farther end of its 95 % bootstrap interval.")


def _cell(text: str) -> str:
    """Text that cannot break the table: no pipe, no line break."""
    return " ".join(text.split()).replace("|", "\\|")


def _row(standing: Standing) -> str:
    summary = standing.total
    cells = [_cell(standing.group.label), str(standing.n_ready), str(standing.n_failed)]
    if summary is None:
        cells += [MISSING] * 5
    else:
        spread = "" if summary.stddev is None else f" ± {summary.stddev:.4f}"
        relative = f"{standing.relative:.2f}"
        if standing.interval_spread is not None:
            relative += f" ± {standing.interval_spread:.2f}"
        cells += [f"{summary.mean:.4f}{spread}", f"{summary.median:.4f}", f"{summary.min:.4f}",
                  f"{summary.max:.4f}", relative]
    return "| " + " | ".join(cells) + " |"


def render(analysis: Analysis) -> str:
    """The table, a note on the relative column, and the failures with their first error."""
    lines = [*HEADER, *map(_row, analysis.ranking), "", NOTE]
    failed = [standing for standing in analysis.ranking if standing.n_failed]
    if failed:
        lines += ["", "Failed runs (first error of each configuration):", ""]
    for standing in failed:
        error = standing.first_error.replace("`", "'")  # one line, shown as code
        lines.append(f"- {standing.group.label}: {standing.failures}: `{error}`")
    return "\n".join(lines + _worker_phases(analysis)) + "\n"


def _worker_phases(analysis: Analysis) -> list[str]:
    """The worker startup phases, a second table (none for results without waterfalls)."""
    table = worker_phase_table(analysis.groups)
    if table is None:
        return []
    header, rows = table
    return ["", f"{TITLE} ({UNITS}):", "", "| " + " | ".join(map(_cell, header)) + " |",
            "|:---|" + "---:|" * (len(header) - 1), *("| " + " | ".join(map(_cell, row)) + " |" for row in rows)]


EXPORTER = Exporter(
    option="markdown", saved_as="Markdown", render=render,
    help="save a Markdown table of total time per configuration, ranked, with a relative column and "
         "the failures",
)
