"""Exports: one ranking rule in the text comparison and every format, failures shown, a tidy CSV, a registry."""

from __future__ import annotations

import base64
import csv
import html
import io
import json
import re
import shutil
import statistics
import subprocess
from html.parser import HTMLParser

import numpy
import pytest
from conftest import ANALYZER, run_tool
from helpers import STEADY, fake_run, save_run, write_environment_results

from dask_timing.analysis.groups import group_results
from dask_timing.analysis.load import load
from dask_timing.analysis import computed
from dask_timing.analysis.gate import COMPARED, NOTHING_TO_COMPARE, PASSED, Gate
from dask_timing.cli import analyze
from dask_timing.errors import EXIT_FAILED, UsageError
from dask_timing.present.exports import EXPORTERS, Analysis, Exporter, html_page, register
from dask_timing.present.plots import COMPARISON

pytestmark = pytest.mark.timeout(120)

SLURM = {"n_workers": 4, "cluster_class": "dask_jobqueue:SLURMCluster", "cluster_kwargs": {"queue": "debug"}}
# Ranked by median: 2 workers (1.05), 1 worker (1.25), 4 workers (1.55). By mean, 1 worker would be last
# (its one slow run), so a format ranking by mean shows another order.
TOTALS = {
    "local, 1 workers, 1 thread(s) per worker": [1.2, 1.25, 1.3, 1.22, 4.0],
    "local, 2 workers, 1 thread(s) per worker": [1.0, 1.1, 1.05, 1.2, 0.95],
    "local, 4 workers, 1 thread(s) per worker": [1.5, 1.6, 1.55, 1.58, 1.52],
}
SLURM_LABEL = "cluster SLURMCluster, 4 workers"  # its runs never came up: no threads per worker known
ORDER = ["local, 2 workers, 1 thread(s) per worker", "local, 1 workers, 1 thread(s) per worker",
         "local, 4 workers, 1 thread(s) per worker", SLURM_LABEL]
FIRST_SLURM_ERROR = "timed out after 60 s waiting for 4 workers (run 0)"


def write_result(path, kind: str, config: dict, second: int, total: float | None = None, error: str | None = None):
    save_run(path, fake_run(config, total, kind, second, error))


def write_local_runs(folder, speedup: float = 1.0, first_second: int = 0):
    """The three local configurations of TOTALS, every run ``speedup`` times faster, in a new ``folder``."""
    folder.mkdir()
    for workers, label in zip((1, 2, 4), TOTALS):
        config = {"n_workers": workers, "threads_per_worker": 1, "dashboard": False}
        for index, total in enumerate(TOTALS[label]):
            write_result(folder / f"local{workers}_{index}.json", "local", config, first_second + index,
                         total / speedup)
    return folder


@pytest.fixture
def results(tmp_path):
    """Three local configurations (one with a failed run) and a Slurm one whose five runs all timed out."""
    folder = write_local_runs(tmp_path / "runs")
    write_result(folder / "local2_failed.json", "local", {"n_workers": 2, "threads_per_worker": 1, "dashboard": False},
                 30, error="worker 1 never arrived\nmore detail")
    for index in range(5):  # file names in the opposite order of the runs: the first error is the earliest run's
        write_result(folder / f"slurm_{4 - index}.json", "cluster", SLURM, 10 + index,
                     error=f"timed out after 60 s waiting for 4 workers (run {index})")
    return folder


def relative(label: str) -> float:
    return statistics.median(TOTALS[label]) / statistics.median(TOTALS[ORDER[0]])


class Tables(HTMLParser):
    """Every table of a page, as lists of rows of cell texts."""

    def __init__(self):
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self.cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self.cell = []

    def handle_data(self, data):
        if self.cell is not None:
            self.cell.append(data)

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self.tables[-1][-1].append("".join(self.cell))
            self.cell = None


def phase_table(page: str) -> tuple[list[str], dict[str, list[str]]]:
    """The HTML page's phases table: its metric columns' header (runs first), and each configuration's cells
    in that order, whether names sit in a column beside the numbers or in a row of their own above them."""
    parsed = Tables()
    parsed.feed(page)
    header, *rows = next(table for table in parsed.tables if "runs" in table[0] and "Total time to ready" in table[0])
    if header[0] == "configuration":
        return header[1:], {row[0]: row[1:] for row in rows}
    assert all(len(name) == 1 for name in rows[::2]), "a row of its own for each configuration's name"
    return header, {name[0]: cells for name, cells in zip(rows[::2], rows[1::2])}


def analyze_all(results, tmp_path) -> dict[str, str]:
    paths = {option: tmp_path / f"report.{option}" for option in ("csv", "markdown", "html")}
    completed = run_tool([ANALYZER, str(results / "*.json"), "--compare",
                          *[argument for option, path in paths.items() for argument in (f"--{option}", str(path))]])
    assert completed.returncode == 0, completed.stderr
    for option, saved_as in (("csv", "CSV"), ("markdown", "Markdown"), ("html", "HTML report")):
        assert f"✓ {saved_as} saved to: {paths[option]}" in completed.stdout
    return {"text": completed.stdout, **{option: path.read_text() for option, path in paths.items()}}


def test_every_format_shows_the_same_ranking_and_the_failures(results, tmp_path):
    outputs = analyze_all(results, tmp_path)
    expected_relative = [f"{relative(label):.2f}" for label in ORDER[:3]]

    rows = [row for row in csv.DictReader(io.StringIO(outputs["csv"])) if row["metric"] == "total_time"]
    assert [row["label"] for row in rows] == ORDER
    assert [row["rank"] for row in rows] == ["1", "2", "3", ""]
    assert [f"{float(row['relative']):.2f}" for row in rows[:3]] == expected_relative
    intervals = [None] + [(float(row["relative_low"]), float(row["relative_high"])) for row in rows[1:3]]
    assert all(low <= float(row["relative"]) <= high for row, (low, high) in zip(rows[1:3], intervals[1:]))

    text = outputs["text"].split("CONFIGURATION COMPARISON")[1]
    text_rows = [next(line for line in text.splitlines() if label in line) for label in ORDER]
    assert [text.index(line) for line in text_rows] == sorted(text.index(line) for line in text_rows)
    assert [re.search(r"(\d+\.\d\d)x", line).group(1) for line in text_rows[:3]] == expected_relative
    assert "reference" in text_rows[0]
    for line, (low, high) in zip(text_rows[1:3], intervals[1:]):
        assert f"[{low:.2f}, {high:.2f}]" in line

    ranking_table = outputs["markdown"].split("\n\n")[0]  # the tables after it are others
    markdown = [line for line in ranking_table.splitlines() if line.startswith("| ") and "---" not in line][1:]
    cells = [[cell.strip() for cell in line.strip("|").split("|")] for line in markdown]
    assert [row[0] for row in cells] == ORDER
    assert [row[-1].split(" ± ")[0] for row in cells[:3]] == expected_relative
    for row, csv_row, (low, high) in zip(cells[1:3], rows[1:3], intervals[1:]):
        spread = max(float(csv_row["relative"]) - low, high - float(csv_row["relative"]))
        assert row[-1].split(" ± ")[1] == f"{spread:.2f}"

    page = Tables()
    page.feed(outputs["html"])
    ranking = next(table for table in page.tables if table[0][:2] == ["rank", "configuration"])
    header, *body = ranking
    assert [row[1] for row in body] == ORDER
    assert [row[header.index("relative")] for row in body[:3]] == [f"{value}x" for value in expected_relative]
    assert [row[header.index("95% CI")] for row in body[1:3]] == [
        f"[{low:.2f}, {high:.2f}]" for low, high in intervals[1:]]

    # Failures are results: counts and first errors in every format, and no "None" anywhere.
    failed = ["1", "0", "0", "5"]  # the fastest had a failed run
    assert [row["n_failed"] for row in rows] == failed
    assert [row["first_error"] for row in rows] == ["worker 1 never arrived", "", "", FIRST_SLURM_ERROR]
    assert [row[header.index("failed")] for row in body] == failed
    assert body[3][header.index("first error")] == FIRST_SLURM_ERROR
    assert [row[2] for row in cells] == failed
    for output in (outputs["text"], outputs["markdown"]):
        assert f"{SLURM_LABEL}: 5 of 5 run(s) failed: " in output and FIRST_SLURM_ERROR in output
        assert "1 of 6 run(s) failed" in output and "worker 1 never arrived" in output
    assert "more detail" not in outputs["markdown"]
    _, phases = phase_table(outputs["html"])  # its failures where its phases would be
    assert phases[SLURM_LABEL][:2] == ["0", f"5 of 5 run(s) failed; first error: {FIRST_SLURM_ERROR}"]
    assert "<tbody></tbody>" not in outputs["html"]
    assert all("None" not in output for output in outputs.values())


def test_csv_is_tidy_with_a_column_per_setting(results, tmp_path):
    rows = list(csv.DictReader(io.StringIO(analyze_all(results, tmp_path)["csv"])))
    assert list(rows[0])[:7] == ["label", "kind", "n_workers", "threads_per_worker", "cluster_class",
                                 "cluster_kwargs", "dashboard"]
    assert list(rows[0])[7:12] == ["environment", "python_version", "dask", "distributed", "python_executable"]
    assert list(rows[0])[12:] == ["metric", "unit", "n", "mean", "stddev", "median", "mad", "min", "max", "p5", "p95",
                                 "n_failed", "first_error", "rank", "relative", "relative_low", "relative_high"]
    by_key = {(row["label"], row["metric"]): row for row in rows}
    assert len(by_key) == len(rows) == 3 * 2 + 1  # first task and total per local configuration; Slurm's total
    values = TOTALS["local, 1 workers, 1 thread(s) per worker"]
    total = by_key[("local, 1 workers, 1 thread(s) per worker", "total_time")]
    assert (total["kind"], total["n_workers"], total["threads_per_worker"], total["dashboard"]) == ("local", "1", "1",
                                                                                                    "False")
    assert (total["cluster_class"], total["cluster_kwargs"], total["unit"]) == ("", "", "seconds")
    assert int(total["n"]) == 5
    assert float(total["mean"]) == pytest.approx(statistics.fmean(values))
    assert float(total["stddev"]) == pytest.approx(statistics.stdev(values))
    assert float(total["median"]) == pytest.approx(statistics.median(values))
    assert float(total["mad"]) == pytest.approx(statistics.median(abs(v - statistics.median(values)) for v in values))
    assert (float(total["min"]), float(total["max"])) == (min(values), max(values))
    assert float(total["p5"]) == pytest.approx(numpy.percentile(values, 5))
    assert float(total["p95"]) == pytest.approx(numpy.percentile(values, 95))
    first_task = by_key[("local, 1 workers, 1 thread(s) per worker", "first_task_time")]
    assert first_task["rank"] == first_task["relative"] == ""  # the ranking is on total-time rows only
    slurm = by_key[(SLURM_LABEL, "total_time")]
    assert (slurm["kind"], slurm["n_workers"], slurm["threads_per_worker"], slurm["dashboard"]) == ("cluster", "4", "",
                                                                                                    "")
    assert json.loads(slurm["cluster_kwargs"]) == SLURM["cluster_kwargs"]
    assert (slurm["n"], slurm["median"], slurm["n_failed"], slurm["rank"]) == ("0", "", "5", "")


def text_median(text: str, label: str, metric: str) -> str:
    """The median the text analysis prints for a configuration's metric: the total's block, or the first
    column of the other metrics' table."""
    block = text.split(f"Configuration: {label}\n")[1].split("Configuration: ")[0]
    if metric == "total_time":
        return re.search(r"Median:\s+([\d.]+) seconds", block.split(f"  {metric}")[1]).group(1)
    return re.search(rf"^\s+{metric}\s+([\d.]+)\s", block, flags=re.MULTILINE).group(1)


def test_the_html_phases_table_is_one_table_that_agrees_with_the_csv_and_the_text(results, tmp_path):
    outputs = analyze_all(results, tmp_path)
    header, phases = phase_table(outputs["html"])
    assert header == ["runs", "First task execution", "Total time to ready"]  # the unit said once, above it
    assert "Seconds: each cell is the median" in outputs["html"]
    assert list(phases) == [SLURM_LABEL, *TOTALS]  # configuration order, as the plots draw them
    csv_rows = {(row["label"], row["metric"]): row for row in csv.DictReader(io.StringIO(outputs["csv"]))}
    for label, values in TOTALS.items():
        failed = 1 if label == ORDER[0] else 0
        assert phases[label][0] == f"{len(values)}" + (f"+{failed} failed" if failed else "")
        median = statistics.median(values)
        mad = statistics.median(abs(value - median) for value in values)
        for column, metric in (("First task execution", "first_task_time"), ("Total time to ready", "total_time")):
            cell = phases[label][header.index(column)]
            assert cell == f"{median:.4f}±{mad:.4f}", (label, column)
            assert cell.split("±") == [f"{float(csv_rows[(label, metric)][statistic]):.4f}"
                                       for statistic in ("median", "mad")]
            assert cell.split("±")[0] == text_median(outputs["text"], label, metric)


def one_line(analysis) -> str:
    """A toy format: the ranking as one JSON line."""
    return json.dumps([[standing.rank, standing.group.label] for standing in analysis.ranking]) + "\n"


def test_every_output_renders_one_analysis_computed_once(results, tmp_path, capsys, monkeypatch):
    """The text, the summary file, every export and the plots render one analysis: its ranking and what each
    setting costs (each a bootstrap) are computed once, and the outputs show the same intervals."""
    calls = []
    for name in ("rank", "knob_effects"):
        compute = getattr(computed, name)
        counted = (lambda *args, compute=compute, name=name: calls.append(name) or compute(*args))
        monkeypatch.setattr(computed, name, counted)
    outputs = {"--csv": tmp_path / "t.csv", "--markdown": tmp_path / "t.md", "--html": tmp_path / "t.html",
               "--summary-json": tmp_path / "s.json"}
    argv = [str(results / "*.json"), "--plot", "--plot-dir", str(tmp_path / "plots")]
    assert analyze.run(argv + [str(part) for pair in outputs.items() for part in pair], "analyze_results.py") == 0
    assert sorted(calls) == ["knob_effects", "rank"]
    text = capsys.readouterr().out
    rows = list(csv.DictReader(io.StringIO(outputs["--csv"].read_text())))
    shown = [f"[{float(row['relative_low']):.2f}, {float(row['relative_high']):.2f}]"
             for row in rows if row["metric"] == "total_time" and row["relative_low"]]
    assert len(shown) == 2
    for interval in shown:  # (the Markdown says relative ± the interval's farther end, as hyperfine does)
        assert interval in text and interval in outputs["--html"].read_text()


@pytest.fixture
def toy_format():
    exporter = register(Exporter(option="one-line", saved_as="One line", help="the ranking on one line",
                                 render=one_line))
    yield exporter
    del EXPORTERS[exporter.option]


def test_a_registered_format_gets_its_option_and_is_written(results, tmp_path, toy_format, capsys):
    assert "--one-line FILE" in analyze.build_parser("analyze_results.py").format_help()
    path = tmp_path / "ranking.json"
    assert analyze.run([str(results / "*.json"), "--one-line", str(path)], "analyze_results.py") == 0
    assert f"✓ One line saved to: {path}" in capsys.readouterr().out
    assert json.loads(path.read_text()) == [[1, ORDER[0]], [2, ORDER[1]], [3, ORDER[2]], [None, ORDER[3]]]
    with pytest.raises(UsageError, match="already exists; choose another --one-line"):
        analyze.run([str(results / "*.json"), "--one-line", str(path)], "analyze_results.py")
    with pytest.raises(ValueError, match="--one-line is already the option of One line"):
        register(Exporter(option="one-line", saved_as="Other", help="", render=one_line))


@pytest.fixture
def baseline(tmp_path):
    """The local configurations of ``results`` as they were before: every run 30 % faster."""
    return write_local_runs(tmp_path / "before", speedup=1.3, first_second=40)


def compare_page(results, baseline, tmp_path, *options: str) -> str:
    """The HTML page of the results against the baseline, gated at 10 %: a regression."""
    path = tmp_path / "compared.html"
    completed = run_tool([ANALYZER, str(results / "*.json"), "--baseline", str(baseline), "--fail-if-slower", "10",
                          "--html", str(path), *options])
    assert completed.returncode == EXIT_FAILED, completed.stdout + completed.stderr
    return path.read_text()


def test_a_comparison_page_lists_the_environments_of_both_sides(results, baseline, tmp_path):
    """What a comparison compares: the baseline's environment beside the new one's, each side named."""
    for folder, version in ((baseline, "2026.1.0"), (results, "2026.8.0")):
        for path in folder.glob("local*.json"):
            document = json.loads(path.read_text())
            document["environment"] = {"host": "machine-a", "python_version": "3.11.7", "cpu_count": 2,
                                       "packages": {"dask": version, "distributed": version}}
            path.write_text(json.dumps(document))
    parser = Tables()
    parser.feed(compare_page(results, baseline, tmp_path))
    environment = parser.tables[0]
    assert environment[0][:2] == ["side", "name"]
    compared = sorted((row[0], row[5], row[6]) for row in environment[1:] if row[0] != "unpaired")  # Slurm's
    assert compared == [("baseline", "2026.1.0", "2026.1.0"), ("new", "2026.8.0", "2026.8.0")]


FIGURE = re.compile(r'<figure><img alt="([^"]*)" src="data:image/png;base64,([^"]+)"><figcaption>(.*?)</figcaption>')


def test_a_comparison_page_draws_both_sides_and_says_the_threshold_and_the_gate(results, baseline, tmp_path):
    page = compare_page(results, baseline, tmp_path, "--plot", "--plot-dir", str(tmp_path / "plots"))
    section = page.split("<h2>Comparison</h2>")[1].split("<h2>")[0]
    caption = html.escape(COMPARISON.caption)
    (both,) = [(alt, data) for alt, data, shown in FIGURE.findall(section) if shown == caption]
    assert both[0] == caption and base64.b64decode(both[1])[:8] == b"\x89PNG\r\n\x1a\n"
    assert caption not in page.split("<h2>Plots</h2>")[1]  # drawn once, beside the verdicts
    assert (tmp_path / "plots" / "timing_comparison.png").exists()  # --plot draws both sides too

    gate, verdicts = section.split('<table class="verdicts">')  # the gate in words, just above the verdicts
    assert "Gate: regression, exit code 1." in gate
    assert ("Threshold: --fail-if-slower 10, so a configuration fails when its total time to ready is "
            "significantly slower than its baseline&#x27;s by more than 10 %") in gate
    reasons = [re.sub(r"<[^>]+>", "", reason) for reason in re.findall(r"<li>(.*?)</li>", gate)]
    # 1 worker's slow run blurs its slowdown: not significant
    assert [reason.split(": new is ")[0] for reason in reasons] == [ORDER[0], ORDER[2]]
    assert all("times slower than baseline" in reason and reason.endswith("over the 10% allowed")
               for reason in reasons)
    assert f"Only in the new results: {SLURM_LABEL}" in verdicts
    parsed = Tables()
    parsed.feed('<table class="verdicts">' + verdicts)
    header, *rows = parsed.tables[0]
    assert header == ["metric", "n", "ratio", "95% CI", "p", "verdict", "threshold", "note"]
    totals = [row for row in rows if row[0] == "total_time"]
    assert [row[header.index("threshold")] for row in totals] == ["+10%"] * 3
    assert [row[header.index("verdict")] for row in totals] == ["no significant change", "slower", "slower"]
    assert [row[0] for row in rows if len(row) == 1] == [f"{label} (new / baseline)" for label in TOTALS]


def test_every_figure_is_captioned_in_words(tmp_path):
    """Every figure of a page with each kind (the plots, a history by release, both sides of a comparison)."""
    for index, (name, version, slower) in enumerate((("A", "2026.1.0", 1.0), ("B", "2026.2.0", 1.4))):
        write_environment_results(tmp_path / "runs", [total * slower for total in STEADY], name=name,
                                  version=version, minute=index, every=2)
    path = tmp_path / "report.html"
    completed = run_tool([ANALYZER, str(tmp_path / "runs"), "--baseline-env", "A", "--html", str(path)])
    assert completed.returncode == 0, completed.stderr
    figures = FIGURE.findall(path.read_text())
    captions = [shown for _, _, shown in figures]
    assert html.escape(COMPARISON.caption) in captions and html_page.HISTORY_CAPTION in captions
    assert len(captions) >= 4
    for alt, _, shown in figures:
        assert alt == shown and not shown.endswith(".png") and ".png" not in shown and "timing_" not in shown
        assert len(shown.split()) >= 8, shown  # a sentence, not a name


def browser_measures(page: str, tmp_path, script: str, width: int = 1280) -> str:
    """What ``script`` leaves in ``document.body.dataset.measured`` once the page is laid out in Chromium at
    ``width`` pixels (a normal browser window)."""
    browser = shutil.which("chromium")
    if browser is None:
        pytest.skip("chromium is not installed (.ci/run installs it)")
    path = tmp_path / "measured.html"
    path.write_text(page.replace("</body>", f"<script>window.addEventListener('load', function () {{ {script} }});"
                                            "</script></body>"))
    dom = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                          "--no-first-run", "--disable-background-networking", "--disable-component-update",
                          "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=5000",
                          f"--window-size={width},1000", "--dump-dom", path.as_uri()],
                         capture_output=True, text=True, timeout=60).stdout
    return html.unescape(dom.split('data-measured="')[1].split('"')[0])


# Every cell of the verdict table not on one line, and whether the table is wider than the window.
WRAPPED_VERDICT_CELLS = """
var found = [];
var table = document.querySelector("table.verdicts");
table.querySelectorAll("tr:not(.pair) td").forEach(function (cell) {
  var range = document.createRange();
  range.selectNodeContents(cell);
  var lines = new Set(Array.from(range.getClientRects()).map(function (box) { return Math.round(box.top); }));
  if (lines.size > 1) { found.push(cell.textContent); }
});
if (table.getBoundingClientRect().right > document.documentElement.clientWidth) { found.push("wider than the window"); }
document.body.dataset.measured = JSON.stringify(found);
"""


@pytest.mark.timeout(120)
def test_verdict_rows_do_not_wrap_in_a_browser(results, baseline, tmp_path):
    for path in baseline.glob("local1_[234].json"):  # 2 runs against 5: too few, a long note to move
        path.unlink()
    page = compare_page(results, baseline, tmp_path)
    assert '<p>[1] too few runs: with 5 against 2, Mann-Whitney&#x27;s p cannot go below ' in page
    assert json.loads(browser_measures(page, tmp_path, WRAPPED_VERDICT_CELLS)) == []
    squeezed = json.loads(browser_measures(page, tmp_path, WRAPPED_VERDICT_CELLS, width=420))
    assert squeezed == ["wider than the window"]  # the check can fail: a narrow window scrolls the table


@pytest.mark.parametrize("gate, said", [
    (Gate(PASSED, 0, 5.0, ["every total time is, at 95 % confidence, less than 5% slower"]),
     '<div class="gate passed"><p><strong>Gate: passed, exit code 0.</strong> Threshold: --fail-if-slower 5, '),
    (Gate(NOTHING_TO_COMPARE, 2, 5.0, ["no configuration is on both sides: nothing to compare"]),
     '<div class="gate nothing-to-compare"><p><strong>Gate: nothing to compare, exit code 2.</strong> Threshold: '),
    (Gate(COMPARED, 0, None), '<div class="gate compared"><p><strong>Gate: none, exit code 0.</strong> No '
                              "threshold: compared without --fail-if-slower, so nothing is gated.</p></div>"),
], ids=["passed", "nothing to compare", "no gate"])
def test_the_gate_is_said_in_words_whatever_it_concluded(results, gate, said):
    groups = group_results(load([str(results)]).results)
    analysis = Analysis(groups)
    analysis.verdicts, analysis.gate = [], gate  # the gate as given, whatever the results would conclude
    page = html_page.render(analysis)
    section = page.split("<h2>Comparison</h2>")[1]
    assert section.startswith(said)
    assert "".join(f"<li>{reason}</li>" for reason in gate.reasons) in section
    assert "<table" not in section.split("<h2>")[0]  # no verdict, no table
