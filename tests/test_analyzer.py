"""The analyzer on hand-made files: grouping, statistics, old flat files, bad files, plots."""

from __future__ import annotations

import csv
import json
import os
import re
import shlex
import statistics
import subprocess
import sys
import uuid

import pytest
from conftest import ANALYZER, read_json, run_tool
from helpers import assert_usage_error, make_result

from dask_timing.analysis.load import expand
from dask_timing.record.schema import RunResult, TimedRun
from dask_timing.record.load import from_json, load_result

pytestmark = pytest.mark.timeout(120)


def write(path, document) -> None:
    path.write_text(json.dumps(document) if not isinstance(document, str) else document)


@pytest.fixture
def results_dir(tmp_path):
    """Local runs with 2 and 10 workers, distributed runs with 2, an old flat file, and junk."""
    totals = {}
    for index, parts in enumerate([[1.0, 0.1, 0.5, 0.01], [1.2, 0.1, 0.6, 0.02], [0.9, 0.2, 0.4, 0.01]]):
        write(tmp_path / f"local_w2_run{index}.json", make_result("local", 2, parts))
        totals.setdefault("local2", []).append(sum(parts))
    for index, parts in enumerate([[2.0, 0.1, 3.0, 0.01], [2.5, 0.1, 3.5, 0.02]]):
        write(tmp_path / f"local_w10_run{index}.json", make_result("local", 10, parts))
        totals.setdefault("local10", []).append(sum(parts))
    for index, parts in enumerate([[1.5, 0.03, 2.5, 0.02], [1.4, 0.03, 2.6, 0.02]]):
        write(tmp_path / f"distributed_w2_run{index}.json", make_result("distributed", 2, parts))
        totals.setdefault("distributed2", []).append(sum(parts))
    write(tmp_path / "legacy_flat.json", {
        "timestamp": "2025-01-01T00:00:00", "n_workers": 4, "threads_per_worker": 1,
        "scheduler_start_time": 1.0, "workers_start_time": 2.0, "first_task_time": 0.05,
        "batch_100_tasks_time": 0.2, "total_time": 3.05,
    })
    write(tmp_path / "corrupt.json", '{"total_time": 1.0,')
    write(tmp_path / "empty_object.json", {})
    write(tmp_path / "foreign.json", {"name": "not ours"})
    return tmp_path, totals


def test_groups_by_configuration_with_correct_statistics(results_dir):
    folder, totals = results_dir
    completed = run_tool([ANALYZER, str(folder / "*.json")])
    assert completed.returncode == 0, completed.stderr
    out = completed.stdout
    assert "ANALYSIS OF 8 TIMING RESULT(S)" in out
    configurations = re.findall(r"^Configuration: (.*)$", out, flags=re.MULTILINE)
    assert configurations == [
        "distributed, 2 workers, 1 thread(s) per worker",
        "distributed, 4 workers, 1 thread(s) per worker, legacy flat files",
        "local, 2 workers, 1 thread(s) per worker",
        "local, 10 workers, 1 thread(s) per worker",  # numeric order: 2 before 10
    ]
    local2 = out.split("Configuration: local, 2 workers")[1].split("Configuration:")[0]
    block = local2.split("total_time")[1]
    expected = totals["local2"]
    assert f"Mean:   {statistics.fmean(expected):>10.4f} seconds" in block
    assert f"StdDev: {statistics.stdev(expected):>10.4f} seconds" in block
    assert f"Median: {statistics.median(expected):>10.4f} seconds" in block
    assert f"Min:    {min(expected):>10.4f} seconds" in block
    # Units are seconds for durations; worker counts are never given as seconds.
    assert "n_workers" not in out
    # Not pooled: the overall summary has one row per configuration.
    overall = out.split("OVERALL SUMMARY")[1].split("SCALING WITH")[0]
    assert "by configuration (not pooled)" in overall
    assert overall.count("workers, 1 thread(s)") == 4


def test_old_flat_file_is_read(results_dir):
    folder, _ = results_dir
    completed = run_tool([ANALYZER, str(folder / "legacy_flat.json")])
    assert completed.returncode == 0, completed.stderr
    assert "scheduler_start_time" in completed.stdout
    assert "batch_100_tasks_time" in completed.stdout
    assert "Mean:       3.0500 seconds" in completed.stdout


def test_unusable_files_are_skipped_with_a_warning_naming_each(results_dir):
    folder, _ = results_dir
    completed = run_tool([ANALYZER, str(folder / "*.json")])
    assert completed.returncode == 0
    for name in ("corrupt.json", "empty_object.json", "foreign.json"):
        assert re.search(rf"warning: skipped \S*{name}: ", completed.stderr), completed.stderr
    assert "Traceback" not in completed.stderr
    assert "skipped 3 unusable file(s)" in completed.stdout


def test_a_run_read_twice_is_counted_once_and_said(results_dir, tmp_path_factory):
    """A file matched by two patterns, or a copy of a run elsewhere, would narrow every interval."""
    folder, totals = results_dir
    backup = tmp_path_factory.mktemp("backup")
    copied = backup / "copy_of_run0.json"
    copied.write_text((folder / "local_w2_run0.json").read_text())
    completed = run_tool([ANALYZER, str(folder / "local_w2_*.json"), str(folder / "." / "local_w2_*.json"),
                          str(folder / "local_w2_run0.json"), str(backup / "*.json"), "--verbose"])
    assert completed.returncode == 0, completed.stderr
    assert "Loaded 3 result file(s), left out 1 result(s) (see the warnings)" in completed.stdout
    assert "Number of runs: 3" in completed.stdout
    assert f"warning: left out {copied}: the same run as {folder / 'local_w2_run0.json'}" in completed.stderr
    assert f"Median: {statistics.median(totals['local2']):>10.4f} seconds" in completed.stdout


def test_scheduler_comparisons_are_never_ranked_among_startup_results(results_dir):
    """A compute time is not a time to ready: among startup results it is left out, each file said."""
    folder, _ = results_dir
    for index, compute in enumerate((0.02, 0.03)):
        write(folder / f"schedulers_threads_run{index}.json", RunResult(
            kind="schedulers", config={"scheduler": "threads", "task_kind": "sleep", "n_tasks": 4, "n_workers": 2,
                                       "threads_per_worker": 1},
            phases={"compute": compute}, total_time=compute, run_id=uuid.uuid4().hex).to_json())
    completed = run_tool([ANALYZER, str(folder / "*.json"), "--compare"])
    assert completed.returncode == 0, completed.stderr
    assert "scheduler=threads" not in completed.stdout and "schedulers," not in completed.stdout
    assert "Loaded 8 result file(s), skipped 3 unusable file(s), left out 2 result(s)" in completed.stdout
    for index in range(2):
        assert (f"warning: left out {folder / f'schedulers_threads_run{index}.json'}: a scheduler comparison "
                "(compute time), among results of a cluster's startup") in completed.stderr
    alone = run_tool([ANALYZER, str(folder / "schedulers_*.json")])
    assert alone.returncode == 0 and "Compute time (all runs):" in alone.stdout


def test_nothing_usable_exits_non_zero(tmp_path):
    write(tmp_path / "empty_object.json", {})
    completed = run_tool([ANALYZER, str(tmp_path / "*.json")])
    assert completed.returncode == 1
    assert "no usable result" in completed.stderr
    write(tmp_path / "summary_1.json", {"document": "dask-timing-summary"})
    summaries = run_tool([ANALYZER, str(tmp_path / "*.json")])
    assert summaries.returncode == 1
    assert summaries.stderr.strip().splitlines()[-1] == (
        "analyze_results.py: error: no usable result among the matched files (1 unusable (see the warnings), "
        "1 study summary, manifest or verdict file(s))")
    write(tmp_path / "result.json", make_result("local", 2, [1.0, 0.1, 0.5, 0.01]))
    baseline = run_tool([ANALYZER, str(tmp_path / "result.json"), "--baseline", str(tmp_path / "summary_1.json")])
    assert baseline.returncode == 2 and baseline.stderr.strip().endswith(
        "(1 study summary, manifest or verdict file(s))")
    assert_usage_error(run_tool([ANALYZER, str(tmp_path / "nothing_here_*.json")]), "no file matches",
                       stdout_empty=False)


def test_compare_ranks_configurations_and_says_when_there_is_one(results_dir):
    folder, totals = results_dir
    completed = run_tool([ANALYZER, str(folder / "local_*.json"), "--compare"])
    assert "CONFIGURATION COMPARISON" in completed.stdout
    table = completed.stdout.split("CONFIGURATION COMPARISON")[1]
    assert table.index("local, 2 workers") < table.index("local, 10 workers")
    ratio = statistics.median(totals["local10"]) / statistics.median(totals["local2"])
    assert f"{ratio:.2f}x" in table
    single = run_tool([ANALYZER, str(folder / "local_w2_*.json"), "--compare"])
    assert "nothing to compare" in single.stdout


def test_a_single_run_gets_no_ranking_interval_in_any_output(results_dir, tmp_path_factory):
    """Resampling one run gives no spread: its interval would show only the other side's, looking precise."""
    folder, totals = results_dir
    out = tmp_path_factory.mktemp("exports")
    markdown, csv_path = out / "ranking.md", out / "ranking.csv"
    completed = run_tool([ANALYZER, str(folder / "local_w2_*.json"), str(folder / "legacy_flat.json"),
                          "--markdown", str(markdown), "--csv", str(csv_path)])
    assert completed.returncode == 0, completed.stderr
    ratio = 3.05 / statistics.median(totals["local2"])
    (row,) = [line for line in completed.stdout.splitlines() if line.startswith("  2    ")]
    assert row.endswith(f"{ratio:.2f}x  none: a single run") and "legacy flat files" in row
    assert f"| {ratio:.2f} (none: a single run) |" in markdown.read_text()
    with open(csv_path, newline="") as stream:
        (flat,) = [line for line in csv.DictReader(stream) if line["metric"] == "total_time" and line["rank"] == "2"]
    assert float(flat["relative"]) == pytest.approx(ratio) and flat["relative_low"] == flat["relative_high"] == ""


def test_plots_go_where_asked_and_overwrite_nothing(results_dir, tmp_path_factory):
    folder, _ = results_dir
    plots = tmp_path_factory.mktemp("plots")
    completed = run_tool([ANALYZER, str(folder / "*.json"), "--plot", "--plot-dir", str(plots)])
    assert completed.returncode == 0, completed.stderr
    names = sorted(path.name for path in plots.iterdir())
    # local runs with 2 and 10 workers make a family: a scaling plot too
    assert names == ["timing_phases.png", "timing_scaling.png", "timing_total_time.png"]
    assert all(path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for path in plots.iterdir())
    first = {path.name: path.read_bytes() for path in plots.iterdir()}
    run_tool([ANALYZER, str(folder / "*.json"), "--plot", "--plot-dir", str(plots)])
    assert len(list(plots.iterdir())) == 6  # the first three kept as they were, three new beside them
    assert all((plots / name).read_bytes() == content for name, content in first.items())


def test_plots_default_beside_the_results(results_dir):
    folder, _ = results_dir
    completed = run_tool([ANALYZER, str(folder / "local_*.json"), "--plot"])
    assert completed.returncode == 0, completed.stderr
    assert (folder / "timing_phases.png").exists() and (folder / "timing_total_time.png").exists()


def test_summary_json_is_saved_and_then_left_out_quietly(results_dir):
    folder, totals = results_dir
    summary = folder / "summary.json"
    completed = run_tool([ANALYZER, str(folder / "local_w2_*.json"), "--summary-json", str(summary)])
    assert completed.returncode == 0, completed.stderr
    document = read_json(summary)
    (configuration,) = document["configurations"]
    assert configuration["metrics"]["total_time"]["n"] == 3
    assert configuration["metrics"]["total_time"]["median"] == pytest.approx(statistics.median(totals["local2"]))
    again = run_tool([ANALYZER, str(folder / "*.json")])
    assert "summary.json" not in again.stderr
    assert "left out 1 study summary or manifest file(s)" in again.stdout


def test_failed_runs_are_counted_not_averaged(tmp_path):
    write(tmp_path / "ok.json", make_result("local", 2, [1.0, 0.1, 0.5, 0.01]))
    failed = make_result("local", 2, [1.0, 0.1])
    failed.update(status="failed", error="timed out", total_time=None)
    write(tmp_path / "failed.json", failed)
    completed = run_tool([ANALYZER, str(tmp_path / "*.json")])
    assert "Number of runs: 1 (1 failed run(s) left out)" in completed.stdout
    assert "Mean:       1.6100 seconds" in completed.stdout
    assert completed.returncode == 0
    (tmp_path / "ok.json").unlink()
    only_failures = run_tool([ANALYZER, str(tmp_path / "*.json")])
    assert only_failures.returncode == 1  # nothing usable: the failures are said, and no figure
    assert "FAILED: local, 2 workers, 1 thread(s) per worker: 1 of 1 run(s) failed: timed out" in only_failures.stdout
    assert only_failures.stderr.strip().splitlines()[-1] == (
        "analyze_results.py: error: no successful run counts: 1 failed: no figure to summarise")
    warmup = make_result("local", 2, [1.0, 0.1, 0.5, 0.01])
    warmup["options"] = {"warmup": True}
    write(tmp_path / "warmup.json", warmup)
    with_warmup = run_tool([ANALYZER, str(tmp_path / "*.json")])
    assert with_warmup.returncode == 1
    assert with_warmup.stderr.strip().splitlines()[-1] == (
        "analyze_results.py: error: no successful run counts: 1 failed, 1 warmup run(s) left out "
        "(--include-warmup counts them): no figure to summarise")
    assert run_tool([ANALYZER, str(tmp_path / "*.json"), "--include-warmup"]).returncode == 0


def test_round_trip_of_the_result_model():
    document = make_result("distributed", 3, [1.0, 0.1, 2.0, 0.01])
    result = from_json(json.loads(json.dumps(document)))
    assert result.to_json() == document


def test_every_field_survives_a_file_and_the_timed_part_reads_the_same(tmp_path):
    """A result with every field set reads back whole, and its timed part alone agrees with it."""
    result = RunResult(
        kind="distributed", config={"n_workers": 2, "cluster_kwargs": {"b": [1, {"c": None}], "a": 1}},
        options={"warmup": True, "timeout": 5.0}, command_line=["python", "tool.py"],
        environment={"host": "h", "packages": {"dask": "1"}}, run_id="f" * 32, timestamp="2026-01-02T03:04:05Z",
        status="failed", error="timed out", phases={"scheduler_start": 1.0, "client_connect": 0.5},
        total_time=None, teardown_time=0.25, after_ready={"batch_10_tasks": 0.125},
        before_start={"interpreter_and_imports": 0.75},
        arrivals={"requested_at": 1.5, "first_worker": 0.5, "half_workers": 0.5, "all_workers": None},
        probes={"latency": {"median_seconds": 0.01}}, memory_samples={"seconds": [0.0], "bytes": [1]},
        versions={"client": {"dask": "1"}}, jobs=[{"job_id": "7"}],
        workers=[{"name": "0", "arrival_time": 2.0}], scheduler={"address": "tcp://127.0.0.1:1"},
        measurement={"clock": "time.perf_counter"},
    )
    path = tmp_path / "run.json"
    write(path, result.to_json())
    assert load_result(str(path)) == result
    timed = load_result(str(path), TimedRun)
    assert type(timed) is TimedRun and not hasattr(timed, "environment")
    assert timed.metrics() == result.metrics() == {
        "scheduler_start_time": 1.0, "client_connect_time": 0.5, "first_worker_time": 0.5,
        "half_workers_time": 0.5, "interpreter_and_imports_time": 0.75, "batch_10_tasks_time": 0.125,
        "teardown_time": 0.25,
    }
    assert (timed.warmup, timed.ok, timed.config) == (True, False, result.config)


@pytest.mark.parametrize("change, reason", [
    ({"total_time": "fast"}, "malformed result"),
    ({"phases": [1.0]}, "malformed result"),
    ({"phases": {"first_task": True}}, "malformed result"),
    ({"config": None}, "malformed result"),
    ({"schema_version": 99}, "schema version 99 is newer than this tool reads"),
])
def test_a_result_of_the_wrong_shape_is_skipped_with_its_reason(tmp_path, change, reason):
    write(tmp_path / "good.json", make_result("local", 2, [1.0, 0.1, 0.5, 0.01]))
    bad = make_result("local", 2, [1.0, 0.1, 0.5, 0.01])
    bad.update(change)
    write(tmp_path / "bad.json", bad)
    completed = run_tool([ANALYZER, str(tmp_path / "*.json")])
    assert completed.returncode == 0, completed.stderr
    assert re.search(rf"warning: skipped \S*bad\.json: {reason}", completed.stderr), completed.stderr
    assert "Loaded 1 result file(s), skipped 1 unusable file(s)" in completed.stdout


def test_patterns_match_what_glob_matches(tmp_path, monkeypatch):
    """The one-listing path for folder/*.json agrees with glob: no hidden files, no directories."""
    import glob

    for name in ("a.json", "b.json", ".hidden.json", "c.txt", "[x].json"):
        (tmp_path / name).write_text("{}")
    (tmp_path / "folder.json").mkdir()
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "d.json").write_text("{}")
    monkeypatch.chdir(tmp_path)
    for pattern in ("*.json", str(tmp_path / "*.json"), str(tmp_path / "?.json"), ".*.json",
                    str(tmp_path / "*" / "*.json"), str(tmp_path / "**" / "*.json"), "sub/*.json",
                    str(tmp_path / "[ab].json"), str(tmp_path / "a.json")):
        expected = sorted(path for path in glob.glob(pattern, recursive=True) if not path.endswith("folder.json"))
        assert expand([pattern]) == (expected, []), pattern
    assert expand([str(tmp_path)]) == (sorted(str(tmp_path / name) for name in ("a.json", "b.json", "[x].json")), [])


def test_a_reader_that_stops_early_gets_no_error(tmp_path):
    """``analyze_results.py ... | head -3``: the output stops there, and nothing is said on stderr."""
    for workers in range(1, 201):  # far more text than a pipe holds
        write(tmp_path / f"local_w{workers}.json", make_result("local", workers, [1.0, 0.1, 0.5, 0.01]))
    command = f"{shlex.quote(sys.executable)} {shlex.quote(ANALYZER)} {shlex.quote(str(tmp_path))} --verbose | head -3"
    completed = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=60)
    assert completed.stdout.splitlines()[0].startswith("Loading results from:")
    assert len(completed.stdout.splitlines()) == 3
    assert completed.stderr == ""


def test_a_file_matched_by_several_patterns_counts_once_however_it_is_spelled(results_dir):
    """Counted twice, a run would weigh double in every statistic."""
    folder, _ = results_dir
    os.symlink(folder / "local_w2_run0.json", folder / "latest.json")
    completed = run_tool([ANALYZER, "local_w2_run*.json", "./local_w2_run1.json", "latest.json",
                          str(folder / "local_w2_run2.json")], cwd=folder)
    assert completed.returncode == 0, completed.stderr
    assert "Loaded 3 result file(s)" in completed.stdout
    assert "Number of runs: 3" in completed.stdout


def test_expand_keeps_the_first_spelling_of_each_file_in_order(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("a.json", "b.json"):
        (tmp_path / name).write_text("{}")
    assert expand(["b.json", "*.json", "./a.json", str(tmp_path / "b.json")]) == (["b.json", "a.json"], [])


def test_a_setting_read_from_a_file_never_breaks_a_line_nor_the_markdown(tmp_path):
    """A value with a line break or an HTML tag (a hand-edited or hostile file) is shown as the text it is:
    one line in the summary's tables, escaped in the Markdown (GitHub renders tags)."""
    for index, value in enumerate(["plain", "two\nlines <b>bold</b> | pipe"]):
        for run in range(2):
            write(tmp_path / f"r{index}_{run}.json", make_result("local", 1, [0.5 + index, 0.1, 0.2, 0.01 * (run + 1)],
                                                                 tag=value))
    completed = run_tool([ANALYZER, str(tmp_path / "*.json"), "--markdown", str(tmp_path / "out.md")], timeout=60)
    assert completed.returncode == 0, completed.stderr
    shown = [line for line in completed.stdout.splitlines() if "tag=two" in line]
    assert shown and all("tag=two\\nlines <b>bold</b> | pipe" in line for line in shown)
    assert not any(line.startswith("lines <b>") for line in completed.stdout.splitlines())
    markdown = (tmp_path / "out.md").read_text()
    assert "<b>" not in markdown and "tag=two\\nlines &lt;b>bold&lt;/b> \\| pipe" in markdown
    rows = [line for line in markdown.splitlines() if line.startswith("| local")]
    assert len(rows) == 2 and all(row.count(" | ") == 7 for row in rows)  # 8 cells: the pipe did not add one
