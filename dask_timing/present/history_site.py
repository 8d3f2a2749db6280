"""The history as a static site that opens from disk (``dask-timing history publish DIR``), as asv's is.

Pages, every one self-contained (inline CSS, no script, links relative):

- ``index.html``: every configuration on its machine, with its newest point, the
  verdict on it and its steps;
- one page per configuration: its verdict, the warnings of its context, its
  trend plot (``present.history_plot``, steps marked), its points (each with the
  95 % interval of its median) and the steps of every metric;
- ``steps.html``: every step of every configuration and metric.

Publishing again never breaks what is there: each publication is built whole in
a folder of its own under ``DIR/.dask-timing-site/``, then ``DIR/site`` (a
symbolic link) is turned to it in one atomic rename; ``DIR/index.html`` only
sends the reader on to ``site/index.html``.  The publication before stays (a
page open in a browser keeps its links); older ones are removed.  Nothing in DIR
that the site did not write is touched, and a DIR whose ``index.html`` or
``site`` is someone else's is refused.

Every text from the database is shown escaped: control characters as ``\\n``
(``analysis.groups.printable``), then HTML-escaped.
"""

from __future__ import annotations

import hashlib
import html
import os
import re
import shutil
import time
from typing import Iterable, Sequence

import msgspec

from dask_timing.record.text import printable
from dask_timing.errors import UsageError
from dask_timing.phases import TOTAL_KEY
from dask_timing.history.overview import Overview
from dask_timing.history.steps import VERDICT_WORDS, Step
from dask_timing.record.files import write_text

BUILDS = ".dask-timing-site"  # DIR's folder of publications
LINK = "site"  # DIR's link to the current publication
GENERATOR = "dask-timing history publish"  # marks the site's own index.html
BUILD_NAME = re.compile(r"^build-\d{8}T\d{6}-\d+$")
KEEP_BUILDS = 2  # the current publication and the one before
STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em auto; max-width: 1300px; padding: 0 1em; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 1.6em; }
nav a { margin-right: 1.2em; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.5em; text-align: left; vertical-align: top; }
th { background: #f2f2f2; }
td.number { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.passed { background: #e3f5e1; } .failed { background: #fbe0df; } .cannot-tell { background: #fdf3d6; }
.nothing { background: #eee; }
.warning { color: #8a4b00; }
img { max-width: 100%; border: 1px solid #ddd; }
p.rule, p.generated { color: #555; font-size: 0.85em; }
"""


class Published(msgspec.Struct, frozen=True):
    """What a publication wrote: its entry page, its pages and images, and their bytes."""

    index: str
    pages: int
    images: int
    size: int


def check_site_folder(directory: str) -> None:
    """Refuse, in one line and before any work, a DIR the site cannot be written into without harm."""
    if os.path.exists(directory) and not os.path.isdir(directory):
        raise UsageError(f"{directory} is not a folder: give a folder for the site")
    index, link = os.path.join(directory, "index.html"), os.path.join(directory, LINK)
    if os.path.lexists(index) and not _is_ours(index):
        raise UsageError(f"{index} is not a page of a published history: it was left as it was; give another DIR")
    if os.path.lexists(link) and not (os.path.islink(link) and os.readlink(link).startswith(BUILDS + os.sep)):
        raise UsageError(f"{link} is not a published history's: it was left as it was; give another DIR")


def _is_ours(path: str) -> bool:
    try:
        with open(path, encoding="utf-8", errors="replace") as stream:
            return f'<meta name="generator" content="{GENERATOR}">' in stream.read(4096)
    except OSError:
        return False


def publish_site(overviews: Sequence[Overview], directory: str, order: str, percent: float,
                 selection: Sequence[str] = ()) -> Published:
    """Build the site of ``overviews`` (``history.overview``) in a new folder and make it DIR's site; the
    configurations in the order of their names (numbers by value: workers=2 before workers=10).
    ``selection``: the filters the runs were chosen by, as typed (``--label nightly``), said on the index."""
    overviews = sorted(overviews, key=lambda found: _natural(found.name))
    builds = os.path.join(directory, BUILDS)
    os.makedirs(builds, exist_ok=True)
    name = f"build-{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{os.getpid()}"
    building = os.path.join(builds, name + ".tmp")
    try:
        pages, images = _build(overviews, building, order, percent, selection)
        size = sum(os.path.getsize(os.path.join(building, file)) for file in os.listdir(building))
        os.rename(building, os.path.join(builds, name))
    finally:
        if os.path.exists(building):
            shutil.rmtree(building)
    link = os.path.join(directory, LINK)
    previous = os.readlink(link) if os.path.islink(link) else None
    turning = os.path.join(directory, f".{LINK}-{os.getpid()}.tmp")
    os.symlink(os.path.join(BUILDS, name), turning)
    os.replace(turning, link)  # one rename: a reader sees the old site or the new, never half of either
    entry = os.path.join(directory, "index.html")
    if not os.path.exists(entry):
        write_text(entry, _page("History", f'<p><a href="{LINK}/index.html">The history</a></p>',
                                head=f'<meta http-equiv="refresh" content="0; url={LINK}/index.html">'))
    _prune(builds, keep={name, os.path.basename(previous or "")})
    return Published(os.path.abspath(entry), pages, images, size)


def _natural(text: str) -> list:
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", text)]


def _prune(builds: str, keep: set[str]) -> None:
    """Remove the site's older publications (only folders the site names as its own), keeping ``keep``."""
    ours = sorted(entry for entry in os.listdir(builds) if BUILD_NAME.match(entry))
    for entry in ours[:-KEEP_BUILDS]:
        if entry not in keep:
            shutil.rmtree(os.path.join(builds, entry), ignore_errors=True)


def page_name(found: Overview) -> str:
    """A configuration's page: stable across publications (its configuration, machine and Python)."""
    identity = "\0".join((found.key.config_hash, found.key.host or "", found.key.python_version or ""))
    return f"config-{hashlib.sha1(identity.encode()).hexdigest()[:12]}"


def _build(overviews: Sequence[Overview], folder: str, order: str, percent: float,
           selection: Sequence[str]) -> tuple[int, int]:
    from dask_timing.present.history_plot import draw_history

    os.makedirs(folder)
    images = 0
    for found in overviews:
        total = next((metric for metric in found.metrics if metric.metric == TOTAL_KEY), None)
        image = None
        if total is not None and total.points:
            image = page_name(found) + ".png"
            draw_history([(found.name, total)], order, os.path.join(folder, image))
            images += 1
        write_text(os.path.join(folder, page_name(found) + ".html"), _configuration_page(found, image, percent))
    write_text(os.path.join(folder, "index.html"), _index_page(overviews, order, percent, selection))
    write_text(os.path.join(folder, "steps.html"), _steps_page(overviews))
    return len(overviews) + 2, images


def esc(text: object) -> str:
    """Text from the database, safe in a page: control characters shown escaped, then HTML-escaped."""
    return html.escape(printable(str(text)))


def _page(title: str, body: str, head: str = "") -> str:
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="generator" content="{GENERATOR}">{head}'
            f"<title>{esc(title)}</title><style>{STYLE}</style></head>\n<body>\n{body}\n</body></html>\n")


def _nav() -> str:
    return '<nav><a href="index.html">All configurations</a><a href="steps.html">All steps</a></nav>'


def _table(header: Iterable[str], rows: Iterable[Iterable[str]], row_classes: Iterable[str] = ()) -> str:
    """A table of cells already escaped (or built of escaped parts)."""
    classes = list(row_classes)
    head = "".join(f"<th>{esc(cell)}</th>" for cell in header)
    body = "".join((f'<tr class="{classes[index]}">' if index < len(classes) else "<tr>") + "".join(cells) + "</tr>"
                   for index, cells in enumerate(rows))
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _cell(text: object, number: bool = False) -> str:
    return f'<td class="number">{esc(text)}</td>' if number else f"<td>{esc(text)}</td>"


def _verdict_class(found: Overview) -> str:
    if found.verdict is None:
        return "nothing"
    return VERDICT_WORDS[found.verdict.outcome].replace(" ", "-")


def _verdict_word(found: Overview) -> str:
    return "nothing to judge" if found.verdict is None else VERDICT_WORDS[found.verdict.outcome]


def _change(found: Overview) -> str:
    change = found.verdict.change if found.verdict is not None else None
    if change is None:
        return "–"
    return (f"{(change.ratio - 1) * 100:+.1f} % (95 % CI {(change.ci_low - 1) * 100:+.1f} to "
            f"{(change.ci_high - 1) * 100:+.1f} %)")


def _steps(found: Overview) -> list[tuple[str, Step]]:
    return [(metric.metric, step) for metric in found.metrics for step in metric.steps]


def _index_page(overviews: Sequence[Overview], order: str, percent: float, selection: Sequence[str]) -> str:
    rows = []
    for found in overviews:
        newest = found.points[-1].label if found.points else "–"
        steps = _steps(found)
        total_steps = [step for metric, step in steps if metric == TOTAL_KEY]
        rows.append([
            f'<td><a href="{page_name(found)}.html">{esc(found.name)}</a></td>',
            _cell(found.key.n_runs, True), _cell(len(found.points), True), _cell(newest),
            f"<td>{esc(_verdict_word(found))}</td>", _cell(_change(found)),
            _cell("; ".join(step.describe(TOTAL_KEY) for step in total_steps) or "none"),
            _cell(len(steps), True), _cell(len(found.history.warnings()), True),
        ])
    chosen = (f'<p class="selection">Only the stored runs matching {esc(" ".join(selection))}.</p>'
              if selection else "")
    body = (f"{_nav()}<h1>History of {len(overviews)} configuration(s), by {esc(order)}</h1>{chosen}"
            + _table(["configuration", "runs", "points", "newest point", "verdict on it", "its change",
                      f"steps in {TOTAL_KEY}",
                      "steps (all metrics)", "warnings"], rows, [_verdict_class(found) for found in overviews])
            + _rule(percent) + _generated())
    return _page("History", body)


def _rule(percent: float) -> str:
    from dask_timing.history.steps import RULE

    return f'<p class="rule">Verdict rule: {esc(RULE.format(percent=percent))}.</p>'


def _generated() -> str:
    return f'<p class="generated">Published {esc(time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()))}.</p>'


def _configuration_page(found: Overview, image: str | None, percent: float) -> str:
    parts = [_nav(), f"<h1>{esc(found.name)}</h1>"]
    said = (found.verdict.said() if found.verdict is not None else f"nothing to judge ({found.nothing})")
    parts.append(f'<p class="{_verdict_class(found)}"><strong>Verdict on the newest point:</strong> {esc(said)}</p>')
    parts += [f'<p class="warning">Warning: {esc(warning)}</p>' for warning in found.history.warnings()]
    if image is not None:
        parts.append(f'<p><img src="{esc(image)}" alt="{esc("Trend of " + TOTAL_KEY + ": " + found.name)}">'
                     "</p>")
    rows = []
    for point in found.points:
        interval = point.interval()
        context = found.history.context.get(point.label)
        load = context.load_per_cpu if context is not None else None
        rows.append([_cell(point.label), _cell(len(point.values), True), _cell(f"{point.median:.4f}", True),
                     _cell("a single run: none" if interval is None else f"{interval[0]:.4f} to {interval[1]:.4f}"),
                     _cell("–" if load is None else f"{load:.2f}", True),
                     _cell("; ".join(context.machines) if context is not None else "–")])
    parts.append(f"<h2>Points of {esc(TOTAL_KEY)}</h2>" + _table(
        ["point", "runs", "median (s)", "95 % CI of the median (s)", "load per CPU", "machine"], rows))
    steps = _steps(found)
    parts.append("<h2>Steps</h2>" + (_table(["metric", "step"], [[_cell(metric), _cell(step.describe(metric))]
                                                                   for metric, step in steps])
                                     if steps else "<p>No step in any metric.</p>"))
    parts.append("<h2>Every metric</h2><ul>" + "".join(f"<li>{esc(line)}</li>" for metric in found.metrics
                                                       for line in metric.describe()) + "</ul>")
    parts += [_rule(percent), _generated()]
    return _page(found.name, "".join(parts))


def _steps_page(overviews: Sequence[Overview]) -> str:
    rows = [[f'<td><a href="{page_name(found)}.html">{esc(found.name)}</a></td>', _cell(metric),
             _cell(step.before), _cell(step.after), _cell(f"{step.size * 100:+.1f} %", True),
             _cell(f"{step.ci_low * 100:+.1f} to {step.ci_high * 100:+.1f} %", True)]
            for found in overviews for metric, step in _steps(found)]
    body = (f"{_nav()}<h1>Every step: {len(rows)}</h1>"
            + (_table(["configuration", "metric", "from", "to", "size", "95 % CI"], rows) if rows
               else "<p>No step in any history.</p>") + _generated())
    return _page("Every step", body)
