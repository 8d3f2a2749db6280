"""compare_schedulers.py on real schedulers: the expected ordering, readable files, plots, bad input, signals."""

from __future__ import annotations

import glob
import os
import signal
import subprocess
import sys

import psutil
import pytest
from conftest import ANALYZER, run_tool, wait_until_gone
from conftest import COMPARE_SCHEDULERS as TOOL
from helpers import assert_usage_error

from dask_timing.record.kinds import KIND_SCHEDULERS
from dask_timing.record.load import load_result


pytestmark = pytest.mark.timeout(180)


def compare(folder, *arguments: str) -> tuple[subprocess.CompletedProcess, dict]:
    """Run the tool from another folder into ``folder``; its results by (scheduler, task kind, run)."""
    completed = run_tool([TOOL, "-o", str(folder), *arguments], cwd=os.path.dirname(folder))
    results = {}
    for path in glob.glob(os.path.join(folder, "*.json")):
        result = load_result(path)
        results[(result.config["scheduler"], result.config["task_kind"], result.options["run"])] = result
    return completed, results


@pytest.mark.usefixtures("no_leftovers")
def test_sleep_tasks_take_at_least_their_sleep_on_each_scheduler(tmp_path):
    """12 tasks of 300 ms: no scheduler can run them in less than their sleep spread over its workers (a
    bound the clock must respect, whatever the load). Which scheduler is faster is a figure the comparison
    prints, not an assertion: a busy machine reorders them."""
    completed, results = compare(tmp_path / "out", "--tasks", "12", "--task-ms", "300", "--workers", "2",
                                 "--runs", "1", "--task-kinds", "sleep")
    assert completed.returncode == 0, completed.stderr
    seconds = {scheduler: result.total_time for (scheduler, _, _), result in results.items()}
    assert set(seconds) == {"synchronous", "threads", "processes", "distributed"}
    assert seconds["synchronous"] >= 12 * 0.3
    for scheduler in ("threads", "processes", "distributed"):
        assert seconds[scheduler] >= 12 * 0.3 / 2, scheduler


@pytest.mark.usefixtures("no_leftovers")
def test_every_scheduler_and_kind_writes_results_the_analyzer_reads(tmp_path):
    folder = tmp_path / "out"
    completed, results = compare(folder, "--tasks", "4", "--task-ms", "50", "--workers", "2", "--runs", "1")
    assert completed.returncode == 0, completed.stderr
    assert set(results) == {(scheduler, kind, 1) for scheduler in ("synchronous", "threads", "processes", "distributed")
                            for kind in ("sleep", "python")}
    for (scheduler, kind, _), result in results.items():
        assert result.kind == KIND_SCHEDULERS
        assert result.ok, result.error
        assert result.config == {"scheduler": scheduler, "task_kind": kind, "n_tasks": 4, "task_ms": 50.0,
                                 "n_workers": 1 if scheduler == "synchronous" else 2, "threads_per_worker": 1}
        assert result.total_time > 0  # python tasks on threads: no speedup expected, so no timing asserted
        assert result.phases == {"compute": result.total_time}
        assert result.measurement["clock"] == "time.perf_counter"
        assert result.measurement["expected_seconds"] == pytest.approx(0.2 if scheduler == "synchronous" else 0.1)
    assert "SCHEDULER COMPARISON" in completed.stdout

    analysis = run_tool([ANALYZER, str(folder / "*.json"), "--verbose"])  # a block per metric, each named
    assert analysis.returncode == 0, analysis.stderr
    assert "ANALYSIS OF 8 TIMING RESULT(S)" in analysis.stdout
    assert "schedulers, 2 workers, 1 thread(s) per worker, scheduler=threads, task_kind=python" in analysis.stdout
    assert "compute_time" in analysis.stdout


@pytest.mark.usefixtures("no_leftovers")
def test_plot_is_a_new_png(tmp_path):
    folder = tmp_path / "out"
    completed, _ = compare(folder, "--tasks", "2", "--task-ms", "20", "--workers", "2", "--runs", "2",
                           "--schedulers", "synchronous,threads", "--plot")
    assert completed.returncode == 0, completed.stderr
    plots = glob.glob(str(folder / "schedulers_*.png"))
    assert len(plots) == 1
    assert f"✓ Plot saved to: {plots[0]}" in completed.stdout
    with open(plots[0], "rb") as stream:
        assert stream.read(8) == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("arguments", [
    ["--tasks", "0"],
    ["--runs", "abc"],
    ["--schedulers", "foo"],
    ["--schedulers", "threads,foo"],
    ["--task-kinds", "bar"],
    ["--task-ms", "0"],
    ["--task-ms", "nan"],
    ["--workers", "0"],
    ["--timeout", "-1"],
    # what this machine cannot do, refused before anything starts
    ["--workers", "100000"],
    ["--workers", "100000000", "--schedulers", "threads"],
    ["--tasks", "1000000000000"],
    ["--task-ms", "1e300"],
    ["--timeout", "1e300"],
    ["--runs", "1000000000"],
], ids=" ".join)
def test_bad_input_is_one_line_and_exit_2(tmp_path, arguments):
    assert_usage_error(run_tool([TOOL, *arguments], cwd=tmp_path))
    assert os.listdir(tmp_path) == []  # nothing started, nothing written


def test_timeout_bounds_each_compute_and_fails_the_run(tmp_path):
    folder = tmp_path / "out"
    completed, results = compare(folder, "--schedulers", "synchronous", "--task-kinds", "sleep", "--tasks", "1",
                                 "--task-ms", "5000", "--runs", "1", "--timeout", "0.3")
    assert completed.returncode == 1
    result = results[("synchronous", "sleep", 1)]
    assert result.status == "failed"
    assert "--timeout 0.3 s" in result.error
    assert result.total_time is None


@pytest.mark.usefixtures("no_leftovers")
@pytest.mark.parametrize("moment", ["Starting a LocalCluster", "LocalCluster ready"], ids=["startup", "compute"])
def test_sigterm_while_the_cluster_starts_or_computes_closes_it(tmp_path, moment):
    tool = subprocess.Popen(
        [sys.executable, TOOL, "-o", str(tmp_path / "out"), "--schedulers", "distributed", "--task-kinds", "sleep",
         "--tasks", "2", "--task-ms", "3000", "--workers", "2", "--runs", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        for line in tool.stdout:
            if moment in line:
                break
        subprocess.run(["sleep", "0.5"])  # worker processes starting, or the compute under way
        family = [child.pid for child in psutil.Process(tool.pid).children(recursive=True)]
        tool.send_signal(signal.SIGTERM)
        out, err = tool.communicate(timeout=60)
    finally:
        if tool.poll() is None:
            tool.kill()
    assert tool.returncode == 128 + signal.SIGTERM
    assert "LocalCluster closed" in out
    assert "Received SIGTERM" in err and "Traceback" not in err
    assert wait_until_gone(family, timeout=5) == set()
