"""Where the time goes: probes, Dask's own diagnostics, cold start and worker arrival, on real clusters."""

from __future__ import annotations

import json
import math

import pytest
from conftest import ANALYZER, DISTRIBUTED_TOOL, LOCAL_TOOL, read_json, run_tool

pytestmark = [pytest.mark.timeout(240), pytest.mark.usefixtures("no_leftovers")]


@pytest.fixture(scope="module")
def diagnosed_run(tmp_path_factory):
    """One LocalCluster run with every diagnostic on."""
    folder = tmp_path_factory.mktemp("diagnosed")
    completed = run_tool([
        LOCAL_TOOL, "-w", "2", "--batch", "50", "--probes", "--memory-sample",
        "--performance-report", str(folder / "report.html"),
        "--task-stream", str(folder / "stream.json"), "--output", str(folder / "result.json"),
    ], timeout=200)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return folder, completed, read_json(folder / "result.json")


def test_probe_figures_are_positive_and_consistent(diagnosed_run):
    _, completed, result = diagnosed_run
    probes = result["probes"]
    assert probes["total_threads"] == 2
    latency = probes["latency"]
    assert latency["rounds"] == 100 and 0 < latency["median_seconds"] <= latency["p95_seconds"] < 5
    throughput = probes["throughput"]
    assert throughput["tasks_per_second"] == pytest.approx(throughput["n_tasks"] / throughput["wall_seconds"])
    assert throughput["tasks_per_second"] > 10
    assert [entry["task_ms"] for entry in probes["overhead"]] == [0.0, 1.0, 10.0]
    for entry in probes["overhead"]:
        # (wall x threads - N x d) / N: the wall time cannot be below the ideal, so overhead > 0
        expected = (entry["wall_seconds"] * 2 - entry["n_tasks"] * entry["task_ms"] / 1000) / entry["n_tasks"]
        assert entry["overhead_per_task_seconds"] == pytest.approx(expected)
        assert entry["overhead_per_task_seconds"] > 0
    gaps = probes["inter_task_gaps"]
    assert gaps["n_gaps"] > 1000 and 0 <= gaps["median_seconds"] <= gaps["p95_seconds"]
    for text in ("Dask docs: about 4,000 tasks/s", "Overhead per task, 10 ms tasks:", "Inter-task gaps"):
        assert text in completed.stdout


def test_diagnostics_stay_out_of_the_total(diagnosed_run):
    _, _, result = diagnosed_run
    assert math.isclose(sum(result["phases"].values()), result["total_time"], abs_tol=1e-3)
    excluded = result["measurement"]["excluded_from_total"]
    assert set(excluded) == {"memory_sampler_start", "performance_report_start"}
    assert result["after_ready"]["batch_50_tasks"] > 0


def test_performance_report_is_a_real_bokeh_page(diagnosed_run):
    folder, completed, _ = diagnosed_run
    page = (folder / "report.html").read_text()
    assert page.lstrip().lower().startswith("<!doctype html")
    assert "Dask Performance Report" in page
    assert "Bokeh" in page and "docs_json" in page  # the embedded Bokeh documents
    assert "Performance report saved to" in completed.stdout


def test_memory_samples_and_task_stream_are_saved(diagnosed_run):
    folder, _, result = diagnosed_run
    samples = result["memory_samples"]["samples"]
    assert len(samples) >= 3
    times = [stamp for stamp, _ in samples]
    assert times == sorted(times) and 0 < times[0] < times[-1]
    assert max(size for _, size in samples) > 0
    stream = json.loads((folder / "stream.json").read_text())
    assert len(stream) >= 2500  # throughput and overhead probes
    assert all(record["startstops"] for record in stream[:50])


def test_cold_start_is_reported_beside_the_total(diagnosed_run):
    _, completed, result = diagnosed_run
    cold = result["before_start"]["interpreter_and_imports"]
    assert 0 < cold < 60
    assert result["interpreter_and_imports_time"] == cold
    assert "Interpreter and imports:" in completed.stdout


def test_arrival_milestones(diagnosed_run):
    _, _, result = diagnosed_run
    arrivals = result["arrivals"]
    requested = arrivals["requested_at"]
    assert 0 < arrivals["first_worker"] <= arrivals["half_workers"] <= arrivals["all_workers"]
    last = max(worker["arrival_time"] for worker in result["workers"])
    assert arrivals["all_workers"] == pytest.approx(last - requested)
    # The tool's "all ready" and the scheduler's last registration agree closely.
    ready = sum(result["phases"][key] for key in ("cluster_init", "client_connect", "wait_for_workers"))
    assert abs(ready - last) < 0.05


def test_analyzer_shows_probes_and_plots_arrivals_and_memory(diagnosed_run, tmp_path):
    folder, _, _ = diagnosed_run
    completed = run_tool([ANALYZER, str(folder / "result.json"), "--plot", "--plot-dir", str(tmp_path)])
    assert completed.returncode == 0, completed.stderr
    assert "scheduler overhead probes" in completed.stdout
    assert "all_workers_time" in completed.stdout
    names = sorted(path.name for path in tmp_path.iterdir())
    assert names == ["timing_arrivals.png", "timing_memory.png", "timing_phases.png", "timing_total_time.png",
                     "timing_waterfall.png", "timing_worker_phases.png"]  # the run holds its workers' waterfalls


def test_probes_on_separate_processes(tmp_path):
    output = tmp_path / "probed.json"
    completed = run_tool([DISTRIBUTED_TOOL, "-w", "1", "--batch", "0", "--probes", "-o", str(output)], timeout=200)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    probes = read_json(output)["probes"]
    assert probes["total_threads"] == 1
    assert probes["throughput"]["tasks_per_second"] > 10
