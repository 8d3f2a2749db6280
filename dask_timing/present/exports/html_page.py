"""One self-contained HTML page: environment, ranking, phases, scaling, verdicts and every plot.

No network is needed to read it: the plots are embedded as data URIs.  Every
table goes through ``table``; configurations whose runs all failed are in the
ranking with their first error, and say so where their phases would be.
"""

from __future__ import annotations

import html
from typing import Any, NamedTuple

from dask_timing.analysis.ranking import Standing
from dask_timing.analysis.scaling import families, family_label, fit_scaling, weak_efficiency
from dask_timing.analysis.stats import Summary
from dask_timing.present import worker_tables
from dask_timing.present.exports.base import COMPARISON_HEADER, Analysis, Exporter, comparison_rows, gate_summary

TITLE = "Dask timing report"
MISSING = "–"
STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: right; }
th:first-child, td:first-child, td.text { text-align: left; }
figure { margin: 1.5em 0; } img { max-width: 100%; border: 1px solid #eee; }
.slower, .failed { color: #b00; font-weight: bold; } .faster { color: #070; font-weight: bold; }
"""
# Counts the images that decoded, so a headless browser can tell the page rendered whole.
CHECK_IMAGES = """
window.addEventListener("load", function () {
  var images = Array.from(document.images);
  document.body.dataset.imagesTotal = images.length;
  document.body.dataset.imagesLoaded = images.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length;
});
"""


class Cell(NamedTuple):
    """A table cell with a CSS class (a plain value is a plain cell)."""

    text: Any
    css_class: str


def table(header: list[str], rows: list[list[Any]]) -> str:
    """An HTML table; every cell escaped."""
    def cell(value: Any) -> str:
        if isinstance(value, Cell):
            return f'<td class="{html.escape(value.css_class)}">{html.escape(str(value.text))}</td>'
        return f"<td>{html.escape(str(value))}</td>"

    head = "".join(f"<th>{html.escape(str(name))}</th>" for name in header)
    body = "".join("<tr>" + "".join(map(cell, row)) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _seconds(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def _environment(analysis: Analysis) -> str:
    """Every environment the runs were taken in: each is part of a configuration."""
    environments = {
        (run.environment.get("name"), run.environment.get("host"), run.environment.get("python_executable"),
         run.environment.get("python_version"), (run.environment.get("packages") or {}).get("dask"),
         (run.environment.get("packages") or {}).get("distributed"), run.environment.get("cpu_count"))
        for group in analysis.groups for run in group.runs
    }
    return "<h2>Environment</h2>" + table(
        ["name", "host", "interpreter", "Python", "dask", "distributed", "CPUs"],
        [[value or "?" for value in env] for env in sorted(environments, key=str)],
    )


def _ranking_row(standing: Standing) -> list[Any]:
    summary = standing.total
    figures = [MISSING] * 7 if summary is None else [
        f"{summary.median:.4f}", f"{summary.mean:.4f}", _seconds(summary.stddev), f"{summary.min:.4f}",
        f"{summary.max:.4f}", f"{standing.relative:.2f}x", standing.interval_text]
    error = Cell(standing.first_error or "", "text failed" if standing.n_failed else "text")
    return [standing.rank or MISSING, standing.group.label, standing.n_ready, standing.n_failed, *figures, error]


def _ranking(analysis: Analysis) -> str:
    return "<h2>Total time to ready, ranked by median</h2>" + table(
        ["rank", "configuration", "runs", "failed", "median [s]", "mean [s]", "stddev [s]", "min [s]", "max [s]",
         "relative", "95% CI", "first error"],
        list(map(_ranking_row, analysis.ranking)),
    )


def _phase_rows(summaries: dict[str, Summary]) -> list[list[Any]]:
    return [[metric, summary.n, f"{summary.median:.4f}", f"{summary.mean:.4f}", _seconds(summary.stddev),
             f"{summary.p5:.4f}", f"{summary.p95:.4f}"] for metric, summary in summaries.items()]


def _phases(analysis: Analysis) -> str:
    sections = ["<h2>Phases</h2>"]
    standings = {id(standing.group): standing for standing in analysis.ranking}
    for standing in (standings[id(group)] for group in analysis.groups):  # in configuration order
        sections.append(f"<h3>{html.escape(standing.group.label)}</h3>")
        if standing.n_failed:
            text = f"{standing.failures}; first error: {standing.first_error}"
            sections.append(f'<p class="failed">{html.escape(text)}</p>')
        summaries = standing.group.summaries()
        if summaries:
            sections.append(table(["metric", "n", "median [s]", "mean [s]", "stddev [s]", "p5 [s]", "p95 [s]"],
                                  _phase_rows(summaries)))
    return "".join(sections)


def _workers(analysis: Analysis) -> str:
    """Inside the workers: the worker phase table and the import profiles (nothing without waterfalls)."""
    phases = worker_tables.worker_phase_table(analysis.groups)
    if phases is None:
        return ""
    profiles = worker_tables.import_profiles(analysis.groups)
    imports = (f"<h3>{html.escape(worker_tables.IMPORTS_TITLE)}</h3>"
               + table(["configuration", "packages"], [list(row) for row in profiles])) if profiles else ""
    return (f"<h2>{html.escape(worker_tables.TITLE)}</h2><p>{html.escape(worker_tables.UNITS)}</p>"
            + table(*phases) + imports)


def _scaling(analysis: Analysis) -> str:
    fits = []
    for family in families(analysis.groups):
        fit = fit_scaling(family)
        if fit is not None:
            fits.append([family_label(family), f"{fit.intercept:.4f}", f"{fit.slope:.4f}", f"{fit.r_squared:.3f}",
                         ", ".join(f"{w}: {e:.2f}" for w, _, e in weak_efficiency(family)) or "-"])
    if not fits:
        return ""
    return "<h2>Scaling</h2>" + table(
        ["family", "fixed cost a [s]", "per worker b [s]", "R²", "weak-scaling efficiency E(n)"], fits)


def _verdicts(analysis: Analysis) -> str:
    if not analysis.verdicts:
        return ""
    rows = [[*row[:7], Cell(row[7], row[7].split()[0]), *row[8:]] for row in comparison_rows(analysis)]
    gate = "" if analysis.gate is None else f"<p>Gate: {html.escape(gate_summary(analysis.gate))}</p>"
    return "<h2>Comparison</h2>" + table(COMPARISON_HEADER, rows) + gate


def _plots(analysis: Analysis) -> str:
    if all(standing.rank is None for standing in analysis.ranking):
        return ""  # no run reached ready: nothing to draw
    import base64
    import tempfile

    from dask_timing.present.plots import plot_all

    figures = []
    with tempfile.TemporaryDirectory() as folder:
        for path in plot_all(analysis.groups, folder):
            caption = html.escape(path.caption)  # what the plot shows, in words
            with open(path, "rb") as stream:
                encoded = base64.b64encode(stream.read()).decode("ascii")
            figures.append(f'<figure><img alt="{caption}" src="data:image/png;base64,{encoded}">'
                           f"<figcaption>{caption}</figcaption></figure>")
    return "<h2>Plots</h2>" + "".join(figures)


def _history(analysis: Analysis) -> str:
    """Each configuration measured at two releases or more: its steps and its trend (``present.history_plot``)."""
    import base64
    import tempfile

    from dask_timing.present.history_plot import draw_history, release_histories

    series = release_histories(analysis.groups)
    if not series:
        return ""
    rows = [[name, " · ".join(label for label, _summary in history.points),
             Cell("; ".join(history.describe()), "text")] for name, history in series]
    with tempfile.TemporaryDirectory() as folder:
        with open(draw_history(series, "version", f"{folder}/history.png"), "rb") as stream:
            encoded = base64.b64encode(stream.read()).decode("ascii")
    caption = "Total time to ready by release: median, 5-95 % bars, steps dashed"
    return ("<h2>History by release</h2>" + table(["configuration", "releases", "steps"], rows)
            + f'<figure><img alt="{caption}" src="data:image/png;base64,{encoded}"><figcaption>{caption}'
              "</figcaption></figure>")


def render(analysis: Analysis) -> str:
    """The whole analysis on one page."""
    sections = [f"<h1>{html.escape(TITLE)}</h1>", _environment(analysis), _ranking(analysis), _phases(analysis),
                _workers(analysis), _scaling(analysis), _verdicts(analysis), _history(analysis), _plots(analysis)]
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{html.escape(TITLE)}</title><style>{STYLE}</style><script>{CHECK_IMAGES}</script></head>"
        f"<body>{''.join(sections)}</body></html>\n"
    )


EXPORTER = Exporter(
    option="html", saved_as="HTML report", render=render, whole_runs=True,
    help="save one self-contained HTML report (ranking, failures, phases, plots, scaling, verdicts)",
)
