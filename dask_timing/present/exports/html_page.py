"""One self-contained HTML page: environment, ranking, phases, scaling, the comparison and every plot.

No network is needed to read it: the plots are embedded as data URIs.  Every
table goes through ``table``; configurations whose runs all failed are in the
ranking with their first error, and say so where their phases would be.

Configurations are named as the plots name them (``present.plots.Look``): the
settings all share, and long values by a number, are said once at the top;
tables and plots show what sets each configuration apart.  Numbers never
wrap inside a cell; names wrap between settings, never inside one.
"""

from __future__ import annotations

import base64
import io
from typing import TYPE_CHECKING, Any, Iterable, NamedTuple

from dask_timing.analysis.gate import COMPARED
from dask_timing.analysis.groups import Group, all_metric_names
from dask_timing.analysis.ranking import Standing
from dask_timing.analysis.verdicts import RULE
from dask_timing.phases import TOTAL_KEY, metric_label
from dask_timing.present import knob_table, worker_tables
from dask_timing.present.explain import WHY_HEADER, chains, shown_causes, why_row
from dask_timing.present.exports.base import COMPARISON_HEADER, Analysis, Exporter, comparison_rows
from dask_timing.record.releases import release_key
from dask_timing.record.text import printable

if TYPE_CHECKING:
    from dask_timing.present.plots import Drawing, Look

TITLE = "Dask timing report"
MISSING = "–"
STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; padding: 0 1em; max-width: 1200px; color: #222; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: right; vertical-align: top; }
td { white-space: nowrap; font-variant-numeric: tabular-nums; }
th:first-child, td:first-child, .text, table.words th, table.words td { text-align: left; }
td.text { white-space: normal; }
td.name { min-width: 12em; max-width: 26em; } td.name span, tr.pair span { white-space: nowrap; }
.spread { display: block; font-size: 0.85em; color: #666; }
tr.pair td { background: #f3f3f3; font-weight: bold; white-space: normal; }
td.gated { font-weight: bold; }
figure { margin: 1.5em 0; } img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: 0.9em; color: #444; }
.slower, .failed { color: #b00; font-weight: bold; } .faster { color: #070; font-weight: bold; }
.inconclusive { color: #a60; font-weight: bold; } td.word { text-align: left; } td.total { font-weight: bold; }
.gate { border-left: 0.4em solid #888; background: #f7f7f7; padding: 0.2em 1em; margin: 1em 0; }
.gate.passed { border-color: #070; } .gate.regression { border-color: #b00; }
.gate.inconclusive { border-color: #a60; }
.notes { font-size: 0.9em; color: #444; }
"""
# Counts the images that decoded, so a headless browser can tell the page rendered whole.
CHECK_IMAGES = """
window.addEventListener("load", function () {
  var images = Array.from(document.images);
  document.body.dataset.imagesTotal = images.length;
  document.body.dataset.imagesLoaded = images.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length;
});
"""
HISTORY_CAPTION = ("How the total time to ready changed from release to release: per configuration, the median of "
                   "its runs with a bar from the 5th to the 95th percentile, and each step found as an arrow from the "
                   "level before to the level after, with its size")



def escape(text: str) -> str:
    """Text from files as HTML shows it: its control characters escaped as everywhere, then its markup."""
    import html  # here: every summary imports this module for its option, and most write no page

    return html.escape(printable(text))

class Html(str):
    """Text already written as HTML (escaped where it had to be): a table puts it in as it is."""


class Cell(NamedTuple):
    """A table cell with a CSS class, spanning ``span`` columns (a plain value is a plain cell)."""

    text: Any
    css_class: str = ""
    span: int = 1


def _cell(value: Any, tag: str) -> str:
    cell = value if isinstance(value, Cell) else Cell(value)
    attributes = (f' class="{escape(cell.css_class)}"' if cell.css_class else "") + (
        f' colspan="{cell.span}"' if cell.span > 1 else "")
    text = cell.text if isinstance(cell.text, Html) else escape(str(cell.text))
    return f"<{tag}{attributes}>{text}</{tag}>"


def table(header: list[Any], rows: Iterable[list[Any]], css_class: str = "") -> str:
    """An HTML table, scrolled sideways rather than squeezed when it is wider than the page; every
    cell escaped unless given as ``Html``; a row that is a ``Cell`` is one cell across the table."""
    head = "".join(_cell(name, "th") for name in header)
    body = "".join(f'<tr class="{row.css_class}">{_cell(row._replace(span=len(header)), "td")}</tr>'
                   if isinstance(row, Cell) else "<tr>" + "".join(_cell(value, "td") for value in row) + "</tr>"
                   for row in rows)
    attributes = f' class="{css_class}"' if css_class else ""
    return f'<div class="scroll"><table{attributes}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def _name(look: Look, label: str) -> Cell:
    """A configuration as every table of the page names it: its settings that set it apart, each kept whole."""
    return Cell(Html(", ".join(f"<span>{escape(part)}</span>" for part in look.shown_parts(label))),
                "text name")


CONFIGURATION = Cell("configuration", "text")
NAME_COLUMN = 36  # characters: a longer name takes a row of its own above its numbers


def _seconds(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def _environment(analysis: Analysis) -> str:
    """Every environment the runs were taken in, both sides of a comparison (each side its name): each is
    part of a configuration, and a comparison's two sides are what it compares."""
    sides = {id(group): (group, "" if analysis.comparison is None else "unpaired") for group in analysis.groups}
    if analysis.comparison is not None:
        for pair in analysis.comparison.pairs:
            sides[id(pair.baseline)] = (pair.baseline, pair.baseline_name)
            sides[id(pair.new)] = (pair.new, pair.new_name)
    environments = {
        (side, run.environment.get("name"), run.environment.get("host"), run.environment.get("python_executable"),
         run.environment.get("python_version"), (run.environment.get("packages") or {}).get("dask"),
         (run.environment.get("packages") or {}).get("distributed"), run.environment.get("cpu_count"))
        for group, side in sides.values() for run in group.runs
    }
    compared = analysis.comparison is not None
    return "<h2>Environment</h2>" + table(
        ["side"] * compared + ["name", "host", "interpreter", "Python", "dask", "distributed", "CPUs"],
        [[value or "?" for value in env[not compared:]] for env in sorted(environments, key=_by_release)], "words",
    )


def _by_release(environment: tuple) -> tuple:
    """The environment table's rows: by side, then distributed's and dask's release, then the rest."""
    side, *_, dask, distributed, _cpus = environment
    return (str(side), release_key(distributed), release_key(dask), str(environment))


def _configurations(look: Look) -> str:
    """What the names leave out, said once: the settings every configuration shares, and long values."""
    said = [f"<p>Every configuration: {escape(', '.join(look.common))}.</p>"] if look.common else []
    if look.keys:
        said.append("<p>Long settings, named by their number:</p><ul>" + "".join(
            f"<li>[{number}] {escape(part)}</li>" for part, number in look.keys.items()) + "</ul>")
    if not said:
        return ""
    return ("<h2>Configurations</h2><p>Tables and plots name each configuration by the settings that set it "
            "apart.</p>" + "".join(said))


def _ranking_row(standing: Standing, look: Look) -> list[Any]:
    summary = standing.total
    figures = [MISSING] * 7 if summary is None else [
        f"{summary.median:.4f}", f"{summary.mean:.4f}", _seconds(summary.stddev), f"{summary.min:.4f}",
        f"{summary.max:.4f}", f"{standing.relative:.2f}x", standing.interval_text]
    error = Cell(standing.first_error or "", "text failed" if standing.n_failed else "text")
    return [standing.rank or MISSING, _name(look, standing.group.label), standing.n_ready, standing.n_failed,
            *figures, error]


def _ranking(analysis: Analysis, look: Look) -> str:
    return "<h2>Total time to ready, ranked by median</h2>" + table(
        ["rank", CONFIGURATION, "runs", "failed", "median [s]", "mean [s]", "stddev [s]", "min [s]", "max [s]",
         "relative", "95% CI", Cell("first error", "text")],
        [_ranking_row(standing, look) for standing in analysis.ranking],
    )


def _metric_cell(group: Group, metric: str) -> Any:
    """A metric's median, and under it its MAD (and its n, when fewer runs than the configuration's measured it)."""
    summary = group.summaries().get(metric)
    if summary is None:
        return MISSING
    fewer = f" (n={summary.n})" if summary.n != len(group.ok_runs) else ""
    return Cell(Html(f'{summary.median:.4f}<span class="spread">±{summary.mad:.4f}{fewer}</span>'),
                "total" if metric == TOTAL_KEY else "")


def _phase_cells(standing: Standing, metrics: list[str]) -> list[Any]:
    """Runs, then each metric; a configuration whose runs all failed says so where its phases would be."""
    group = standing.group
    if not group.ok_runs:
        return [0, Cell(f"{standing.failures}; first error: {standing.first_error}", "text failed", len(metrics))]
    failed = f'<span class="spread failed">+{standing.n_failed} failed</span>' if standing.n_failed else ""
    return [Html(f"{len(group.ok_runs)}{failed}"), *(_metric_cell(group, metric) for metric in metrics)]


def _named_table(look: Look, header: list[Any], named_rows: list[tuple[str, list[Any]]]) -> str:
    """A row of cells per configuration (label, cells): its name in a first column when every name is short,
    else in a row of its own above its cells, so that long names never squeeze the numbers."""
    beside = all(len(", ".join(look.shown_parts(label))) <= NAME_COLUMN for label, _ in named_rows)
    rows: list[Any] = []
    for label, cells in named_rows:
        name = _name(look, label)
        rows += [[name, *cells]] if beside else [name._replace(css_class="pair"), cells]
    return table([CONFIGURATION, *header] if beside else header, rows)


def _phases(analysis: Analysis, look: Look) -> str:
    """One table across configurations: a column per phase or metric, its median and MAD in seconds."""
    metrics = all_metric_names(analysis.groups)
    standings = {id(standing.group): standing for standing in analysis.ranking}
    header = ["runs", *(look.metric if metric == TOTAL_KEY else metric_label(metric) for metric in metrics)]
    return ("<h2>Phases</h2><p>Seconds: each cell is the median over the configuration's successful runs, and "
            "under it ± the median absolute deviation (MAD); (n=…) when a metric was measured in fewer runs.</p>"
            + _named_table(look, header, [(group.label, _phase_cells(standings[id(group)], metrics))
                                          for group in analysis.groups]))  # configuration order, as the plots


def _workers(analysis: Analysis, look: Look) -> str:
    """Inside the workers: the worker phase table and the import profiles (nothing without waterfalls)."""
    phases = worker_tables.worker_phase_table(analysis)
    if phases is None:
        return ""
    header, rows = phases
    profiles = worker_tables.import_profiles(analysis)
    imports = (f"<h3>{escape(worker_tables.IMPORTS_TITLE)}</h3>"
               + table([CONFIGURATION, Cell("packages", "text")],
                       [[_name(look, label), Cell(packages, "text")] for label, packages in profiles])
               ) if profiles else ""
    return (f"<h2>{escape(worker_tables.TITLE)}</h2><p>{escape(worker_tables.UNITS)}</p>"
            + _named_table(look, header[1:], [(row[0], row[1:]) for row in rows]) + imports)


def _scaling(analysis: Analysis, look: Look) -> str:
    """Each family's fitted law (or why it has none) and its weak-scaling efficiency."""
    fits = []
    for family in analysis.scaling:
        fit = family.fit
        law = [Cell(family.no_fit, "text", 3)] if fit is None else [
            f"{fit.intercept:.4f}", f"{fit.slope:.4f}", f"{fit.r_squared:.3f}"]
        fits.append([_name(look, family.label), *law,
                     ", ".join(f"{w}: {e:.2f}" for w, _, e in family.efficiency) or "-"])
    if not fits:
        return ""
    return "<h2>Scaling</h2>" + table(
        [Cell("family", "text"), "fixed cost a [s]", "per worker b [s]", "R²", "weak-scaling efficiency E(n)"], fits)


def _knob_costs(analysis: Analysis) -> str:
    """What each setting of a sweep costs: the table of the text and the Markdown."""
    found = knob_table.knob_table(analysis)
    if found is None:
        return ""
    header, rows = found
    words = {0, 1, len(header) - 1}  # setting, change and note: words; the rest figures
    return (f"<h2>{escape(knob_table.TITLE)}</h2><p>{escape(knob_table.UNITS.capitalize())}.</p>"
            + table([Cell(name, "text") if column in words else name for column, name in enumerate(header)],
                    [[Cell(cell, "text") if column in words else cell for column, cell in enumerate(row)]
                     for row in rows]))


def _reason(reason: str, analysis: Analysis, look: Look) -> Html:
    """One of the gate's reasons, the configuration it starts with named as the tables name it."""
    labels = [pair.label for pair in analysis.comparison.pairs] if analysis.comparison is not None else []
    label = next((label for label in labels if reason.startswith(f"{label}: ")), None)
    if label is None:
        return Html(escape(reason))
    return Html(f"<strong>{_name(look, label).text}</strong>: {escape(reason[len(label) + 2:])}")


def _gate(analysis: Analysis, look: Look) -> str:
    """The gate in words: its threshold, what it concluded with its exit code, and why."""
    gate = analysis.gate
    if gate.threshold is None:
        threshold = "No threshold: compared without --fail-if-slower, so nothing is gated."
    else:
        threshold = (f"Threshold: --fail-if-slower {gate.threshold:g}, so a configuration fails when its "
                     f"{look.metric.lower()} is significantly slower than its baseline's by more than "
                     f"{gate.threshold:g} %, and passes only when the runs show it to be under that.")
    reasons = "".join(f"<li>{_reason(reason, analysis, look)}</li>" for reason in gate.reasons)
    outcome = "none" if gate.outcome == COMPARED else gate.outcome
    return (f'<div class="gate {escape(gate.outcome.replace(" ", "-"))}"><p><strong>Gate: {escape(outcome)}, exit code '
            f"{gate.exit_code}.</strong> {escape(threshold)}</p>"
            + (f"<ul>{reasons}</ul>" if reasons else "") + "</div>")


def _verdict_table(analysis: Analysis, look: Look) -> str:
    """A row per metric under a row per compared configuration; each note a number, the notes under the table."""
    notes: dict[str, int] = {}
    rows: list[Any] = []
    pair = None
    for label, compared, metric, *figures, verdict, threshold, note in comparison_rows(analysis):
        if (label, compared) != pair:
            pair = (label, compared)
            rows.append(Cell(Html(f"{_name(look, label).text} ({escape(compared)})"), "pair"))
        marker = f"[{notes.setdefault(note, len(notes) + 1)}]" if note else ""
        rows.append([Cell(metric, "text gated" if threshold != MISSING else "text"), *figures,
                     Cell(verdict, f"{verdict.split()[0]} word"), threshold, marker])
    listed = "".join(f"<p>[{number}] {escape(note)}</p>" for note, number in notes.items())
    header = [Cell(title, "text") if title in ("metric", "verdict") else title for title in COMPARISON_HEADER[2:]]
    return table(header, rows, "verdicts") + (f'<div class="notes">{listed}</div>' if listed else "")


def _why(analysis: Analysis, look: Look) -> str:
    """The Why blocks: under each pair, the causes the runs tell from noise; then every item of every pair's chain,
    folded."""
    rows: list[Any] = []
    every: list[Any] = []
    quiet = []
    for (label, baseline_name, new_name), chain in chains(analysis.explanations).items():
        pair = Cell(Html(f"{_name(look, label).text} ({escape(new_name)} / {escape(baseline_name)})"), "pair")
        every += [pair, *(_why_cells(why_row(item)) for item in chain)]
        shown = shown_causes(chain)
        if shown:
            rows += [pair, *(_why_cells(why_row(item)) for item in shown)]
        else:
            quiet.append(label)
    if not every:
        return ""
    said = ("<h3>Why the sides differ</h3><p>Under each pair, the causes the runs tell from noise: both sides' "
            "medians, the difference of medians (new − baseline), its 95 % bootstrap interval and its share of the "
            "total time's difference.</p>")
    if rows:
        said += table(_why_cells(WHY_HEADER), rows, "why")
    if quiet:
        said += ("<p>No cause the runs can tell from noise: "
                 + "; ".join(str(_name(look, label).text) for label in quiet) + ".</p>")
    return (said + f"<details><summary>Every item of each pair's chain ({len(analysis.explanations)}), the noise "
            f"marked as such</summary>{table(_why_cells(WHY_HEADER), every)}</details>")


def _why_cells(row: list[str]) -> list[Any]:
    """A row of the Why table: what the item is in words, then its figures."""
    return [Cell(row[0], "text"), *row[1:]]


def _comparison(analysis: Analysis, look: Look, figures: str) -> str:
    """The comparison: the gate in words above its table, then the warnings and both sides drawn."""
    if analysis.gate is None:
        return ""
    sections = ["<h2>Comparison</h2>", _gate(analysis, look)]
    if analysis.verdicts:
        sections.append("<p>Per compared configuration and metric (new / baseline): runs on each side, the ratio "
                        "of medians ± its bootstrap standard error, its 95 % bootstrap interval, Mann-Whitney U p "
                        f"and the verdict; the threshold is on what the gate judges. Rule: {escape(RULE)}.</p>"
                        + _verdict_table(analysis, look) + _why(analysis, look))
    comparison = analysis.comparison
    if comparison is not None:
        said = ([f"Warning: {warning}" for warning in analysis.comparison_warnings]
                + [f"Only in the baseline: {label}" for label in comparison.only_baseline]
                + [f"Only in the new results: {label}" for label in comparison.only_new])
        sections += [f'<p class="notes">{escape(line)}</p>' for line in said]
    return "".join(sections) + figures


def _figure(png: bytes, caption: str) -> str:
    """A plot embedded in the page, its caption (words: what it shows) under it and as its alternative text."""
    caption = escape(caption)
    encoded = base64.b64encode(png).decode("ascii")
    return (f'<figure><img alt="{caption}" src="data:image/png;base64,{encoded}">'
            f"<figcaption>{caption}</figcaption></figure>")


def _drawn(drawing: Drawing) -> str:
    """Every page of a plot, saved (and closed) one at a time."""
    from dask_timing.present.plots import save

    figures = []
    for figure, caption in zip(drawing.figures, drawing.captions()):
        buffer = io.BytesIO()
        save(figure, buffer)
        figures.append(_figure(buffer.getvalue(), caption))
    return "".join(figures)


def _plots(analysis: Analysis) -> tuple[str, str]:
    """The plots section, and both sides of the comparison drawn (for the comparison's section)."""
    from dask_timing.present.plots import COMPARISON, draw_all

    drawn = {drawing.stem: _drawn(drawing) for drawing in draw_all(analysis)}
    comparison = drawn.pop(COMPARISON.stem, "")
    return ("<h2>Plots</h2>" + "".join(drawn.values()) if drawn else ""), comparison


def _history(analysis: Analysis) -> str:
    """Each configuration measured at two releases or more: its steps and its trend (``present.history_plot``)."""
    series = analysis.release_histories
    if not series:
        return ""
    from dask_timing.present.history_plot import draw_history

    rows = [[Cell(name, "text"), Cell(" · ".join(label for label, _summary in history.points), "text"),
             Cell("; ".join(history.describe()), "text")] for name, history in series]
    buffer = io.BytesIO()
    draw_history(series, "version", buffer)
    return ("<h2>History by release</h2>" + table([CONFIGURATION, Cell("releases", "text"), Cell("steps", "text")],
                                                  rows) + _figure(buffer.getvalue(), HISTORY_CAPTION))


def render(analysis: Analysis) -> str:
    """The whole analysis on one page."""
    from dask_timing.present.plots import Look

    look = Look(analysis.groups)
    plots, comparison = _plots(analysis)
    sections = [f"<h1>{escape(TITLE)}</h1>", _environment(analysis), _configurations(look),
                _ranking(analysis, look), _phases(analysis, look), _workers(analysis, look), _scaling(analysis, look),
                _knob_costs(analysis), _comparison(analysis, look, comparison), _history(analysis), plots]
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{escape(TITLE)}</title><style>{STYLE}</style><script>{CHECK_IMAGES}</script></head>"
        f"<body>{''.join(sections)}</body></html>\n"
    )


EXPORTER = Exporter(
    option="html", saved_as="HTML report", render=render, whole_runs=True,
    help="save one self-contained HTML report (ranking, failures, phases, plots, scaling, what each setting "
         "costs, the comparison with both of its sides drawn and the gate)",
)
