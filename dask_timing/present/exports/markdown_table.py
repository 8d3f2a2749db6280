"""Markdown, as hyperfine's: total time per configuration, in ranking order, relative to the fastest;
with a comparison, its table and the gate's conclusion; the worker phases, and what each setting of a
sweep costs.

The last column is the ranking's ratio of medians, ``± d`` where d is the
distance from the ratio to the farther end of its 95 % bootstrap interval
(the interval itself is in the CSV and HTML exports).  Configurations whose
runs all failed are rows too, and each configuration's first error is listed
under the table.
"""

from __future__ import annotations

from dask_timing.analysis.ranking import SINGLE_RUN, Standing
from dask_timing.present import knob_table
from dask_timing.present.explain import WHY_HEADER, chains, shown_causes, why_row
from dask_timing.present.exports.base import COMPARISON_HEADER, Analysis, Exporter, comparison_rows, gate_summary
from dask_timing.present.worker_tables import TITLE, UNITS, worker_phase_table
from dask_timing.record.text import printable

HEADER = (
    "| Configuration | Runs | Failed | Mean [s] | Median [s] | Min [s] | Max [s] | Relative |",
    "|:---|---:|---:|---:|---:|---:|---:|---:|",
)
MISSING = "–"
NOTE = ("Ranked by median total time. Relative: ratio of medians to the fastest, ± the distance to the "
        "farther end of its 95 % bootstrap interval.")


def _cell(text: str) -> str:
    """Text that cannot break the table nor the page: no pipe, no line break, no HTML tag (GitHub renders
    tags in Markdown: a setting's value read from a file must show as the text it is)."""
    return " ".join(printable(text).split()).replace("|", "\\|").replace("<", "&lt;")  # no "<", no tag


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
        elif standing.rank != 1:
            relative += f" ({SINGLE_RUN})"
        cells += [f"{summary.mean:.4f}{spread}", f"{summary.median:.4f}", f"{summary.min:.4f}",
                  f"{summary.max:.4f}", relative]
    return "| " + " | ".join(cells) + " |"


def _table_line(cells: list[str]) -> str:
    return "| " + " | ".join(_cell(cell) for cell in cells) + " |"


def _comparison(analysis: Analysis) -> list[str]:
    """The comparison's table and the gate's conclusion, ready for a pull-request comment."""
    if analysis.verdicts is None:
        return []
    lines = ["", "Comparison: ratio of medians (new / baseline) ± its bootstrap standard error, 95 % bootstrap "
             "interval, Mann-Whitney U p.", "", _table_line(COMPARISON_HEADER),
             "|:---|:---|:---|---:|---:|---:|---:|:---|---:|:---|", *map(_table_line, comparison_rows(analysis))]
    if analysis.gate is not None:
        lines += ["", f"**Gate: {_cell(gate_summary(analysis.gate))}**"]
    return lines + _why(analysis)


def _why(analysis: Analysis) -> list[str]:
    """The Why blocks: the causes of each pair that has any, a row each, then the pairs without."""
    rows, quiet, noise = [], [], 0
    for (label, baseline_name, new_name), chain in chains(analysis.explanations).items():
        shown = shown_causes(chain)
        noise += sum(1 for item in chain if item.noise)
        if not shown:
            quiet.append(label)
        rows += [[label, f"{new_name} / {baseline_name}", *why_row(item)] for item in shown]
    if not rows and not quiet:
        return []
    lines = ["", "Why the sides differ: each cause the runs tell from noise, the difference of medians (new - "
             "baseline), its 95 % bootstrap interval and its share of the total time's difference.", ""]
    lines += _table(["configuration", "compared", *WHY_HEADER], rows, left=3) if rows else []
    if quiet:
        lines += ["", f"No cause the runs can tell from noise: {'; '.join(map(_cell, quiet))}."]
    if noise:
        lines += ["", f"{noise} item(s) the runs cannot tell from noise are left out (the analyzer's --verbose and "
                      "the explanations of --verdict-json hold every item)."]
    return lines


def render(analysis: Analysis) -> str:
    """The table, a note on the relative column, the failures with their first error, and the comparison."""
    lines = [*HEADER, *map(_row, analysis.ranking), "", NOTE]
    failed = [standing for standing in analysis.ranking if standing.n_failed]
    if failed:
        lines += ["", "Failed runs (first error of each configuration):", ""]
    for standing in failed:
        error = " ".join(printable(standing.first_error).split()).replace("`", "'")  # one line, shown as code
        lines.append(f"- {_cell(standing.group.label)}: {standing.failures}: `{error}`")
    lines += _comparison(analysis)
    return "\n".join(lines + _worker_phases(analysis) + _knob_costs(analysis)) + "\n"


def _table(header: list[str], rows: list[list[str]], left: int = 1) -> list[str]:
    """A Markdown table, its first ``left`` columns aligned left, the others right."""
    return [_table_line(header), "|" + ":---|" * left + "---:|" * (len(header) - left), *map(_table_line, rows)]


def _worker_phases(analysis: Analysis) -> list[str]:
    """The worker startup phases, a second table (none for results without waterfalls)."""
    table = worker_phase_table(analysis)
    if table is None:
        return []
    return ["", f"{TITLE} ({UNITS}):", "", *_table(*table)]


def _knob_costs(analysis: Analysis) -> list[str]:
    """What each setting of a sweep costs (none when no setting varies)."""
    table = knob_table.knob_table(analysis)
    if table is None:
        return []
    return ["", f"{knob_table.TITLE}:", "", *_table(*table, left=2), "", f"{knob_table.UNITS.capitalize()}."]


EXPORTER = Exporter(
    option="markdown", saved_as="Markdown", render=render,
    help="save a Markdown table of total time per configuration, ranked, with a relative column and "
         "the failures; with a comparison, the gate's table (metric, ratio, CI, p, verdict, threshold); "
         "the worker phases, and what each setting of a sweep costs",
)
