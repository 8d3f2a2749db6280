"""What each setting of a sweep costs: known effects on hand-made results, missing pairs said, a real sweep."""

from __future__ import annotations

import html
import re

import pytest
from conftest import ANALYZER, STUDY, run_tool
from helpers import fake_run, save_run

from dask_timing.analysis.computed import Analysis
from dask_timing.analysis.groups import group_results
from dask_timing.analysis.knobs import NO_PAIR, SINGLE_RUNS, knob_effects
from dask_timing.present.knob_table import write_knob_costs
from dask_timing.record.schema import RunResult

pytestmark = pytest.mark.timeout(120)

BASE_TOTALS = [1.0, 1.1, 0.9, 1.05, 0.95]  # a configuration's runs, before what its settings add
PROCESSES_COST = 0.5  # processes=on adds this to every run, whatever the other settings
WORKER_COST = 0.3  # each worker past the first adds this
TITLE = "WHAT EACH SETTING COSTS"


def result(kind: str = "local", total: float | None = 1.0, environment: str | None = None, second: int = 0,
           **config) -> RunResult:
    settings = {"n_workers": 1, "threads_per_worker": 1, **config}
    ran_in = {"name": environment, "packages": {"dask": "2026.8.0"}} if environment else {}
    return fake_run(settings, total, kind, second, environment=ran_in)


def runs(totals: list[float], **settings) -> list[RunResult]:
    return [result(total=total, second=index, **settings) for index, total in enumerate(totals)]


def sweep(workers=(1, 2), processes=(False, True)) -> list[RunResult]:
    """Every combination of workers and processes, each adding its known cost to the same runs."""
    return [run for count in workers for isolated in processes
            for run in runs([total + WORKER_COST * (count - 1) + PROCESSES_COST * isolated for total in BASE_TOTALS],
                            n_workers=count, processes=isolated)]


def effects(results: list[RunResult]) -> dict[tuple[str, str], object]:
    groups = group_results((f"run{index}.json", run) for index, run in enumerate(results))
    return {(effect.knob, f"{effect.reference} -> {effect.value}"): effect for effect in knob_effects(groups)}


def save(folder, results: list[RunResult]) -> str:
    for index, run in enumerate(results):
        save_run(folder / f"run{index:03d}.json", run)
    return str(folder / "*.json")


def table_row(text: str, setting: str, change: str) -> str:
    table = text.split(TITLE)[1]
    return next(line for line in table.splitlines() if re.match(rf"\s+{setting}\s+{re.escape(change)}\s", line))


def test_a_known_cost_is_found_with_an_interval_around_it(tmp_path):
    found = effects(sweep(workers=(1, 2, 4)))
    assert list(found) == [("workers", "1 -> 2"), ("workers", "1 -> 4"), ("processes", "off -> on")]
    processes = found[("processes", "off -> on")]
    assert processes.n_pairs == 3  # one per worker count: the workers held fixed
    assert processes.seconds == pytest.approx(PROCESSES_COST)
    assert processes.pair_range == pytest.approx((PROCESSES_COST, PROCESSES_COST))
    low, high = processes.seconds_interval
    assert low < PROCESSES_COST < high
    assert processes.ratio_interval[0] < processes.ratio < processes.ratio_interval[1]
    assert found[("workers", "1 -> 4")].seconds == pytest.approx(3 * WORKER_COST)
    assert found[("workers", "1 -> 2")].n_pairs == 2  # one per processes setting
    assert effects(sweep(workers=(1, 2, 4))) == found  # a fixed seed: the same files, the same intervals

    completed = run_tool([ANALYZER, save(tmp_path, sweep())])
    assert completed.returncode == 0, completed.stderr
    text = completed.stdout
    assert text.index("SCALING WITH THE NUMBER OF WORKERS") < text.index(TITLE)
    assert "seconds added to the median total time to ready" in text.lower()
    row = table_row(text, "processes", "off -> on")
    assert re.search(r"\+0\.50\s+\[\+0\.\d\d, \+0\.\d\d\]\s+\d\.\d\dx\s+\[\d\.\d\d, \d\.\d\d\]\s+2\s", row), row
    low, high = map(float, re.search(r"\[(\S+), (\S+)\]", row).groups())
    assert low <= PROCESSES_COST <= high
    assert re.search(r"\+0\.30\s", table_row(text, "workers", "1 -> 2"))


def test_a_setting_whose_pairs_are_all_missing_says_so_and_shows_no_number():
    # Two workers ran only with the dashboard off: workers and dashboard always change together.
    results = [*runs(BASE_TOTALS, dashboard=True, processes=True),
               *runs([total + 0.2 for total in BASE_TOTALS], dashboard=True, processes=False),
               *runs([total + 1.0 for total in BASE_TOTALS], n_workers=2, dashboard=False, processes=True)]
    found = effects(results)
    for key, other in ((("workers", "1 -> 2"), "dashboard"), (("dashboard", "off -> on"), "workers")):
        assert found[key].n_pairs == 0 and found[key].seconds is None
        assert found[key].note == f"{NO_PAIR} (the closest also differ in {other})"
    assert found[("processes", "off -> on")].seconds == pytest.approx(-0.2)

    lines = []
    groups = group_results((f"run{index}.json", run) for index, run in enumerate(results))
    write_knob_costs(Analysis(groups), lines.append)
    text = "\n".join(lines)
    for setting, change in (("workers", "1 -> 2"), ("dashboard", "off -> on")):
        row = table_row(text, setting, change)
        assert NO_PAIR in row and not re.search(r"\d\.\d", row)
    assert "-0.20" in table_row(text, "processes", "off -> on")


def test_failed_configurations_and_single_runs_give_no_figure_they_cannot():
    results = [*runs(BASE_TOTALS), *runs([None, None], n_workers=2), *runs([1.5], threads_per_worker=2)]
    found = effects(results)
    workers = found[("workers", "1 -> 2")]
    assert workers.seconds is None and "1 pair(s) with a side whose runs all failed" in workers.note
    threads = found[("threads", "1 -> 2")]
    assert threads.seconds == pytest.approx(0.5) and threads.seconds_interval is None and threads.note == SINGLE_RUNS


def test_types_and_environments_are_knobs_too():
    # local records processes and distributed nanny: each its type's own, not compared between types.
    results = [*runs(BASE_TOTALS, processes=True, environment="A"),
               *runs([total + 0.4 for total in BASE_TOTALS], kind="distributed", nanny=True, environment="A"),
               *runs([total + 0.1 for total in BASE_TOTALS], processes=True, environment="B"),
               *runs([total + 0.5 for total in BASE_TOTALS], kind="distributed", nanny=True, environment="B")]
    found = effects(results)
    assert list(found) == [("type", "distributed -> local"), ("environment", "env=A -> env=B")]
    assert found[("type", "distributed -> local")].seconds == pytest.approx(-0.4)
    assert found[("type", "distributed -> local")].n_pairs == 2
    assert found[("environment", "env=A -> env=B")].seconds == pytest.approx(0.1)


def test_one_configuration_or_no_setting_varying_prints_no_table(tmp_path):
    assert effects(runs(BASE_TOTALS)) == {}
    lines = []
    write_knob_costs(Analysis(group_results((f"run{index}.json", run) for index, run in enumerate(runs(BASE_TOTALS)))),
                     lines.append)
    assert lines == []
    completed = run_tool([ANALYZER, save(tmp_path, runs(BASE_TOTALS))])
    assert completed.returncode == 0, completed.stderr
    assert "OVERALL SUMMARY" in completed.stdout and TITLE not in completed.stdout


def test_the_markdown_and_html_exports_have_the_same_table(tmp_path):
    (tmp_path / "runs").mkdir()
    markdown, page = tmp_path / "report.md", tmp_path / "report.html"
    completed = run_tool([ANALYZER, save(tmp_path / "runs", sweep()), "--markdown", str(markdown),
                          "--html", str(page)])
    assert completed.returncode == 0, completed.stderr
    text_row = table_row(completed.stdout, "processes", "off -> on").split()
    section = markdown.read_text().split("What each setting costs:")[1]
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in section.splitlines()
            if line.startswith("| ") and "---" not in line]
    assert rows[0][:3] == ["setting", "change", "added (s)"]
    processes = next(row for row in rows if row[0] == "processes")
    assert processes[1] == "off -> on" and processes[2] == "+0.50" == text_row[4]
    assert processes[3] == " ".join(text_row[5:7])  # the same interval
    assert "Seconds added to the median total time to ready" in section
    html_section = page.read_text().split("<h2>What each setting costs</h2>")[1].split("</table>")[0]
    cells = [html.unescape(cell) for cell in re.findall(r"<td[^>]*>([^<]*)</td>", html_section)]
    start = cells.index("processes")
    assert cells[start:start + 4] == processes[:4]  # setting, change, seconds added and its interval


@pytest.mark.timeout(240)
@pytest.mark.usefixtures("no_leftovers")
def test_a_real_sweep_ends_with_what_each_setting_costs(tmp_path):
    completed = run_tool([STUDY, "--workers", "1", "--processes", "on,off", "--runs", "2", "-o", str(tmp_path)],
                         timeout=220)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    row = table_row(completed.stdout, "processes", "off -> on")
    assert re.search(r"[+-]\d+\.\d\d\s+\[[+-]\d+\.\d\d, [+-]\d+\.\d\d\]\s+\d+\.\d\dx\s+\[.*\]\s+1\s", row), row
