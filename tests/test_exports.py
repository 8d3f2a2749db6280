"""Exports: one ranking rule in the text comparison and every format, failures shown, a tidy CSV, a registry."""

from __future__ import annotations

import csv
import io
import json
import re
import statistics
from html.parser import HTMLParser

import numpy
import pytest
from conftest import ANALYZER, run_tool

from dask_timing.cli import analyze
from dask_timing.errors import UsageError
from dask_timing.present.exports import EXPORTERS, Exporter, register
from dask_timing.record.schema import RunResult

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
    result = RunResult(kind=kind, config=config, phases={} if total is None else {"first_task": total},
                       total_time=total, status="ok" if error is None else "failed", error=error,
                       timestamp=f"2026-01-01T00:00:{second:02d}Z")
    path.write_text(json.dumps(result.to_json()))


@pytest.fixture
def results(tmp_path):
    """Three local configurations (one with a failed run) and a Slurm one whose five runs all timed out."""
    folder = tmp_path / "runs"
    folder.mkdir()
    for workers, label in zip((1, 2, 4), TOTALS):
        config = {"n_workers": workers, "threads_per_worker": 1, "dashboard": False}
        for index, total in enumerate(TOTALS[label]):
            write_result(folder / f"local{workers}_{index}.json", "local", config, index, total)
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
    assert f"<h3>{SLURM_LABEL}</h3><p" in outputs["html"]  # its failures where its phases would be
    assert "<tbody></tbody>" not in outputs["html"]
    assert all("None" not in output for output in outputs.values())


def test_csv_is_tidy_with_a_column_per_setting(results, tmp_path):
    rows = list(csv.DictReader(io.StringIO(analyze_all(results, tmp_path)["csv"])))
    assert list(rows[0])[:7] == ["label", "kind", "n_workers", "threads_per_worker", "cluster_class",
                                 "cluster_kwargs", "dashboard"]
    assert list(rows[0])[7:] == ["metric", "unit", "n", "mean", "stddev", "median", "mad", "min", "max", "p5", "p95",
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


def one_line(analysis) -> str:
    """A toy format: the ranking as one JSON line."""
    return json.dumps([[standing.rank, standing.group.label] for standing in analysis.ranking]) + "\n"


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
