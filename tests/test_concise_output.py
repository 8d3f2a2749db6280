"""The analyzer's default text: the specification's block per configuration and a compact table, a row per
configuration for sweeps (80 lines for 16), warnings, failures and the gate last; --verbose and --quiet."""

from __future__ import annotations

import json
import re
import statistics

import pytest
from conftest import ANALYZER, STUDY, run_tool
from helpers import assert_usage_error, make_result

from dask_timing.errors import EXIT_INCONCLUSIVE, EXIT_OK
from dask_timing.present.report import MAX_CONFIGURATION_BLOCKS

pytestmark = pytest.mark.timeout(120)

SWEEP_LINES = 80  # the most a 16-configuration sweep's default analysis may print
WORKER_PHASE_SECONDS = {"nanny": 0.01, "process": 0.03, "imports": 0.07, "start": 0.004, "registration": 0.004}
FIRST_ERROR = "timed out waiting for 4 workers after 60 s"


def result_with_workers(workers: int, parts: list[float], minute: int, **config) -> dict:
    """A LocalCluster result as new results are: its workers' records and the phases of their startup."""
    document = make_result("local", workers, parts, **config)
    document["timestamp"] = f"2026-01-01T{minute // 60:02d}:{minute % 60:02d}:00Z"
    scale = sum(parts)
    phases = {key: [seconds * scale * (1 + 0.1 * worker) for worker in range(workers)]
              for key, seconds in WORKER_PHASE_SECONDS.items()}
    phases["registered"] = [sum(values) for values in zip(*phases.values())]
    document["worker_phases"] = phases
    document["workers"] = [{"name": str(worker), "address": f"tcp://127.0.0.1:{40000 + worker}", "nthreads": 1,
                            "arrival_time": parts[0] + parts[1] + phases["registered"][worker]}
                           for worker in range(workers)]
    return document


def write_sweep(folder, settings: list[dict], runs: int = 5, failing: int | None = None,
                unsteady: int | None = None) -> dict[int, list[list[float]]]:
    """Result files of each configuration (``settings``: its workers and other settings); the ``failing``-th
    configuration has two failed runs, the ``unsteady``-th one run far slower than the rest.  Returns the
    parts of the successful runs by configuration number."""
    folder.mkdir(exist_ok=True)
    parts_by_configuration: dict[int, list[list[float]]] = {}
    for number, setting in enumerate(settings):
        for run in range(runs):
            scale = 1 + 0.2 * number + 0.01 * run
            parts = [0.8 * scale, 0.01 * scale, 0.3 * scale * (4 if (number, run) == (unsteady, 2) else 1), 0.02]
            document = result_with_workers(setting["workers"], parts, minute=run * len(settings) + number,
                                           **{key: value for key, value in setting.items() if key != "workers"})
            if number == failing and run in (1, 3):
                document.update(status="failed", error=f"{FIRST_ERROR}\nTraceback ...", total_time=None)
            else:
                parts_by_configuration.setdefault(number, []).append(parts)
            (folder / f"c{number:02d}_run{run}.json").write_text(json.dumps(document))
    return parts_by_configuration


SIXTEEN = [{"workers": workers, "start_method": method, "dashboard": dashboard}
           for workers in (1, 2, 4, 8) for method in ("fork", "spawn") for dashboard in (True, False)]
THREE = [{"workers": workers} for workers in (1, 2, 4)]


def analyze(folder, *options, exit_code: int = EXIT_OK) -> list[str]:
    completed = run_tool([ANALYZER, str(folder / "*.json"), *options])
    assert completed.returncode == exit_code, completed.stdout + completed.stderr
    assert "Traceback" not in completed.stderr
    return completed.stdout.splitlines()


def index_of(lines: list[str], pattern: str, last: bool = False) -> int:
    found = [index for index, line in enumerate(lines) if re.search(pattern, line)]
    assert found, pattern
    return found[-1] if last else found[0]


def test_one_configuration_prints_the_specification_block_then_a_compact_table(tmp_path):
    parts = write_sweep(tmp_path, [{"workers": 4}])[0]
    lines = analyze(tmp_path)
    text = "\n".join(lines)
    totals = [sum(run) for run in parts]
    block = "\n".join([
        "Configuration: local, 4 workers, 1 thread(s) per worker",
        "Number of runs: 5",
        "-" * 70,
        "  total_time                    :",
        f"    Mean:   {statistics.fmean(totals):>10.4f} seconds",
        f"    StdDev: {statistics.stdev(totals):>10.4f} seconds",
        f"    Median: {statistics.median(totals):>10.4f} seconds",
        f"    Min:    {min(totals):>10.4f} seconds",
        f"    Max:    {max(totals):>10.4f} seconds",
        "  other metrics (seconds)           median       MAD       min       max    n",
    ])
    assert block in text
    for position, metric in enumerate(["cluster_init_time", "client_connect_time", "wait_for_workers_time"]):
        values = [run[position] for run in parts]
        median = statistics.median(values)
        mad = statistics.median(abs(value - median) for value in values)
        row = lines[index_of(lines, rf"^    {metric} ")].split()
        assert [float(cell) for cell in row[1:5]] == pytest.approx([median, mad, min(values), max(values)], abs=6e-5)
        assert row[5] == "5"
    # Only the total time has the block; the overall summary is the specification's, every statistic of it.
    assert text.count("Mean:") == 2 and "MAD:" in text.split("OVERALL SUMMARY")[1]
    assert "P95:" not in text.split("OVERALL SUMMARY")[0]
    assert "Total time to ready (all runs):" in text
    assert "WORKER STARTUP PHASES" in text  # the results' waterfalls
    assert "CONFIGURATION COMPARISON" not in text  # one configuration: nothing is ranked unless --compare


def test_warnings_and_failures_come_after_the_last_configuration_and_the_gate_last(tmp_path):
    write_sweep(tmp_path / "runs", THREE, failing=2, unsteady=1)
    write_sweep(tmp_path / "old", THREE, failing=2, unsteady=1)  # the same figures, other runs
    lines = analyze(tmp_path / "runs", "--baseline", str(tmp_path / "old"), "--fail-if-slower", "50",
                    exit_code=EXIT_INCONCLUSIVE)  # 3 runs against 3 (two failed): too few to rule a slowdown out
    ranking = index_of(lines, "^CONFIGURATION COMPARISON$")
    blocks = [index for index, line in enumerate(lines) if line.startswith("Number of runs: ")]
    assert len(blocks) == 3 and ranking > max(blocks)
    assert ranking > index_of(lines, "^OVERALL SUMMARY$") and ranking > index_of(lines, "WORKER STARTUP PHASES")
    warnings = [index for index, line in enumerate(lines) if line.startswith("WARNING: local, ")]
    assert warnings and min(warnings) > ranking
    unsteady = "local, 2 workers, 1 thread(s) per worker"
    assert any(line.startswith(f"WARNING: {unsteady}: unstable: ") for line in lines)
    failed = index_of(lines, "^FAILED: ")
    assert lines[failed] == f"FAILED: local, 4 workers, 1 thread(s) per worker: 2 of 5 run(s) failed: {FIRST_ERROR}"
    assert failed > max(warnings)
    assert index_of(lines, r"^COMPARISON \(new / baseline") > failed
    assert lines[-1].startswith("Regression gate ")  # the gate's conclusion is the last line
    # Warnings are no longer printed inside the configurations' blocks.
    assert not any(line.startswith("  WARNING") for line in lines)


def test_sixteen_configurations_fit_in_80_lines_with_compare(tmp_path):
    assert len(SIXTEEN) > MAX_CONFIGURATION_BLOCKS
    write_sweep(tmp_path, SIXTEEN, failing=5, unsteady=9)
    lines = analyze(tmp_path, "--compare")
    assert len(lines) <= SWEEP_LINES, "\n".join(lines)
    text = "\n".join(lines)
    assert "Configuration:" not in text and "WORKER STARTUP PHASES" not in text
    assert "(--verbose: a block each, worker startup phases, scaling fits)" in lines[4]
    # The key: every configuration numbered, with its label, in the overall summary.
    key = {}
    for line in lines:
        found = re.match(r"^  \[(\d+)\] +(local, .*?)\s{2,}\d", line)
        if found:
            key.setdefault(found.group(1), found.group(2))
    assert sorted(map(int, key)) == list(range(1, 17))
    assert len(set(key.values())) == 16
    # The medians of the other metrics: a row per number.
    medians = lines[index_of(lines, "^Other metrics, median seconds"):]
    assert medians[1].split()[:3] == ["init", "connect", "wait"]
    assert [row.split()[0] for row in medians[2:18]] == [f"[{number}]" for number in range(1, 17)]
    # The ranking names each configuration by the same number and label, once.
    ranking = lines[index_of(lines, "^CONFIGURATION COMPARISON$"):]
    rows = [re.match(r"^  (\d+|-) +\[(\d+)\] +(local, .*?)\s{2,}\d", line) for line in ranking]
    rows = [row for row in rows if row]
    assert len(rows) == 16 and rows[0].group(1) == "1"
    assert all(key[row.group(2)] == row.group(3) for row in rows)
    assert text.count("CONFIGURATION COMPARISON") == 1
    # At the end: each kind of warning once, naming configurations by number; the failure with its error.
    number = {label: key_number for key_number, label in key.items()}
    unsteady = number["local, 4 workers, 1 thread(s) per worker, dashboard=off, start_method=fork"]
    failing = number["local, 2 workers, 1 thread(s) per worker, dashboard=off, start_method=fork"]
    closing = lines[index_of(lines, "^WARNINGS AND FAILED RUNS$"):]
    assert [line for line in closing if line.startswith("WARNING: unstable: ")] == [
        f"WARNING: unstable: standard deviation over 10% of the mean: [{unsteady}] 31%"]
    assert f"FAILED: [{failing}]: 2 of 5 run(s) failed: {FIRST_ERROR}" in closing


def test_quiet_prints_the_ranking_failures_and_gate_only(tmp_path):
    write_sweep(tmp_path / "runs", THREE, failing=2, unsteady=1)
    write_sweep(tmp_path / "old", THREE, failing=2, unsteady=1)
    lines = analyze(tmp_path / "runs", "--quiet", "--baseline", str(tmp_path / "old"), "--fail-if-slower", "50",
                    exit_code=EXIT_INCONCLUSIVE)
    text = "\n".join(lines)
    for absent in ("Loading results", "Number of runs", "OVERALL SUMMARY", "total_time    :",
                   "WORKER STARTUP PHASES", "SCALING", "WARNING: local"):
        assert absent not in text
    assert "CONFIGURATION COMPARISON" in text and len([line for line in lines if re.match(r"^  [123] ", line)]) == 3
    assert "FAILED: local, 4 workers, 1 thread(s) per worker: 2 of 5 run(s) failed" in text
    assert lines[-1].startswith("Regression gate ")


def test_verbose_prints_every_statistic_of_every_metric(tmp_path):
    write_sweep(tmp_path, SIXTEEN)
    lines = analyze(tmp_path, "--verbose")
    text = "\n".join(lines)
    assert text.count("\nConfiguration: ") == 16  # a block each, however many
    metrics = [line for line in lines if re.match(r"^  \w+ +:$", line)]
    assert len(metrics) == 16 * 6  # four phases, the total and the teardown, as make_result writes them
    for name in ("Mean", "StdDev", "Median", "MAD", "Min", "Max", "P5", "P95"):
        assert len([line for line in lines if line.startswith(f"    {name}:")]) == len(metrics)
    assert "other metrics (seconds)" not in text
    assert "WORKER STARTUP PHASES" in text and "SCALING WITH THE NUMBER OF WORKERS" in text


def test_quiet_and_verbose_together_are_refused(tmp_path):
    write_sweep(tmp_path, THREE)
    assert_usage_error(run_tool([ANALYZER, str(tmp_path / "*.json"), "--quiet", "--verbose"]))


@pytest.mark.timeout(240)
@pytest.mark.usefixtures("no_leftovers")
def test_a_study_ends_with_the_default_analysis(tmp_path):
    completed = run_tool([STUDY, "-w", "1,2", "-r", "2", "--start-method", "fork", "-o", str(tmp_path)], timeout=220)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    analysis = completed.stdout.split("ANALYSIS OF 4 TIMING RESULT(S)")[1]
    for workers in (1, 2):
        assert (f"Configuration: local, {workers} workers, 1 thread(s) per worker\nNumber of runs: 2\n{'-' * 70}\n"
                "  total_time                    :\n    Mean:") in analysis
    assert analysis.count("other metrics (seconds)") == 2 and "P95:" not in analysis
    assert "WORKER STARTUP PHASES" in analysis and "CONFIGURATION COMPARISON" in analysis
    assert analysis.index("CONFIGURATION COMPARISON") > analysis.index("OVERALL SUMMARY")
    # The analyzer prints the same analysis of the study's files (the study also says where its summary went).
    again = run_tool([ANALYZER, str(tmp_path / "local_*.json")])
    assert again.stdout.split("ANALYSIS OF 4 TIMING RESULT(S)")[1] == "".join(
        line for line in analysis.splitlines(keepends=True) if not line.startswith("✓ Summary saved to: "))
