"""Export formats of an analysis: CSV, Markdown (hyperfine-style) and one self-contained HTML page.

Each export is written from the same grouped results the text summary uses;
none needs a network: the HTML page embeds its plots as data URIs.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import os
import tempfile
from typing import Any

from dask_timing.analysis.groups import Group, total_summary, total_times
from dask_timing.analysis.scaling import families, family_label, fit_scaling, weak_efficiency
from dask_timing.analysis.stats import Summary
from dask_timing.analysis.verdicts import Verdict

CSV_FIELDS = ("configuration", "kind", "metric", "unit", "n", "mean", "stddev", "median", "mad", "min", "max",
              "p5", "p95")


def csv_text(groups: list[Group]) -> str:
    """One row per configuration and metric, every statistic in seconds."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for group in groups:
        for metric, summary in group.summaries().items():
            writer.writerow({"configuration": group.label, "kind": group.kind, "metric": metric,
                             "unit": "seconds", **summary.to_json()})
    return buffer.getvalue()


def _ranked(groups: list[Group]) -> list[tuple[Group, Summary]]:
    return sorted(
        ((group, total_summary(group)) for group in groups if total_times(group)),
        key=lambda pair: pair[1].mean,
    )


def markdown_text(groups: list[Group]) -> str:
    """A table of total time to ready per configuration, with a column relative to the fastest."""
    ranked = _ranked(groups)
    lines = [
        "| Configuration | Runs | Mean [s] | Median [s] | Min [s] | Max [s] | Relative |",
        "|:---|---:|---:|---:|---:|---:|---:|",
    ]
    if ranked:
        fastest = ranked[0][1]
        for group, summary in ranked:
            spread = f" ± {summary.stddev:.4f}" if summary.stddev is not None else ""
            relative = summary.mean / fastest.mean
            relative_spread = ""
            if summary.stddev is not None and fastest.stddev is not None and group is not ranked[0][0]:
                # propagated relative error of a ratio, as hyperfine reports it
                relative_spread = " ± {:.2f}".format(
                    relative * ((summary.stddev / summary.mean) ** 2 + (fastest.stddev / fastest.mean) ** 2) ** 0.5
                )
            lines.append(
                f"| {group.label} | {summary.n} | {summary.mean:.4f}{spread} | {summary.median:.4f} | "
                f"{summary.min:.4f} | {summary.max:.4f} | {relative:.2f}{relative_spread} |"
            )
    return "\n".join(lines) + "\n"


def _image(path: str, title: str) -> str:
    with open(path, "rb") as stream:
        encoded = base64.b64encode(stream.read()).decode("ascii")
    return (f'<figure><img alt="{html.escape(title)}" src="data:image/png;base64,{encoded}">'
            f"<figcaption>{html.escape(title)}</figcaption></figure>")


def _table(header: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{html.escape(str(cell))}</th>" for cell in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(cell))}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
figure { margin: 1.5em 0; } img { max-width: 100%; border: 1px solid #eee; }
.slower { color: #b00; font-weight: bold; } .faster { color: #070; font-weight: bold; }
"""
# Counts the images that decoded, so a headless browser can tell the page rendered whole.
CHECK_IMAGES = """
window.addEventListener("load", function () {
  var images = Array.from(document.images);
  document.body.dataset.imagesTotal = images.length;
  document.body.dataset.imagesLoaded = images.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length;
});
"""


def html_page(groups: list[Group], verdicts: list[Verdict] | None, title: str) -> str:
    """The whole analysis on one page: configurations, phases, plots, scaling and verdicts."""
    from dask_timing.present.plots import plot_all

    sections = [f"<h1>{html.escape(title)}</h1>"]
    environments = {
        (run.environment.get("host"), run.environment.get("python_version"),
         (run.environment.get("packages") or {}).get("distributed"), run.environment.get("cpu_count"))
        for group in groups for run in group.runs
    }
    sections.append("<h2>Environment</h2>" + _table(
        ["host", "Python", "distributed", "CPUs"], [[value or "?" for value in env] for env in sorted(environments, key=str)]
    ))
    ranked = _ranked(groups)
    if ranked:
        fastest = ranked[0][1].median
        sections.append("<h2>Total time to ready</h2>" + _table(
            ["configuration", "runs", "failed", "median [s]", "mean [s]", "stddev [s]", "min [s]", "max [s]", "relative"],
            [[group.label, summary.n, len(group.failed_runs), f"{summary.median:.4f}", f"{summary.mean:.4f}",
              "n/a" if summary.stddev is None else f"{summary.stddev:.4f}", f"{summary.min:.4f}",
              f"{summary.max:.4f}", f"{summary.median / fastest:.2f}x"] for group, summary in ranked],
        ))
    sections.append("<h2>Phases</h2>")
    for group in groups:
        rows = [[metric, summary.n, f"{summary.median:.4f}", f"{summary.mean:.4f}",
                 "n/a" if summary.stddev is None else f"{summary.stddev:.4f}", f"{summary.p5:.4f}", f"{summary.p95:.4f}"]
                for metric, summary in group.summaries().items()]
        sections.append(f"<h3>{html.escape(group.label)}</h3>"
                        + _table(["metric", "n", "median [s]", "mean [s]", "stddev [s]", "p5 [s]", "p95 [s]"], rows))
    fits = []
    for family in families(groups):
        fit = fit_scaling(family)
        if fit is not None:
            fits.append([family_label(family), f"{fit.intercept:.4f}", f"{fit.slope:.4f}", f"{fit.r_squared:.3f}",
                         ", ".join(f"{w}: {e:.2f}" for w, _, e in weak_efficiency(family)) or "-"])
    if fits:
        sections.append("<h2>Scaling</h2>" + _table(
            ["family", "fixed cost a [s]", "per worker b [s]", "R²", "weak-scaling efficiency E(n)"], fits))
    if verdicts:
        rows = "".join(
            f"<tr><td>{html.escape(v.label)}</td><td>{html.escape(v.metric)}</td><td>{v.median_baseline:.4f}</td>"
            f"<td>{v.median_new:.4f}</td><td>{v.ratio:.3f}x</td><td>[{v.ci_low:.3f}, {v.ci_high:.3f}]</td>"
            f"<td>{v.p_value:.4f}</td><td class=\"{v.verdict.split()[0]}\">{html.escape(v.verdict)}</td></tr>"
            for v in verdicts
        )
        sections.append(
            "<h2>Against the baseline</h2><table><thead><tr><th>configuration</th><th>metric</th>"
            "<th>baseline median [s]</th><th>new median [s]</th><th>ratio</th><th>95% CI</th><th>p</th>"
            f"<th>verdict</th></tr></thead><tbody>{rows}</tbody></table>"
        )
    with tempfile.TemporaryDirectory() as folder:
        plots = plot_all(groups, folder)
        sections.append("<h2>Plots</h2>" + "".join(
            _image(path, os.path.splitext(os.path.basename(path))[0].replace("_", " ")) for path in plots
        ))
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{html.escape(title)}</title><style>{STYLE}</style><script>{CHECK_IMAGES}</script></head>"
        f"<body>{''.join(sections)}</body></html>\n"
    )
