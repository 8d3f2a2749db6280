"""The two timing tools against real clusters: phases, JSON, output, ports, failures."""

from __future__ import annotations

import math
import re
import socket
import subprocess
import sys

import pytest
from conftest import COMPARE_SCHEDULERS, DISTRIBUTED_TOOL, LOCAL_TOOL, read_json, run_tool, wait_until_gone

from dask_timing.record.schema import SCHEMA_VERSION

LOCAL_PHASES = ["cluster_init", "client_connect", "wait_for_workers", "first_task"]
DISTRIBUTED_PHASES = ["scheduler_start", "client_connect", "workers_start", "first_task"]
ENVIRONMENT_KEYS = {
    "host", "os", "cpu_count", "total_memory_bytes", "python_version", "packages",
    "multiprocessing_start_method", "dask_worker_start_method",
}


def check_common_schema(result: dict, kind: str, phases: list[str], n_workers: int) -> None:
    assert result["schema_version"] == SCHEMA_VERSION
    assert result["kind"] == kind
    assert result["status"] == "ok" and result["error"] is None
    assert re.fullmatch(r"[0-9a-f]{32}", result["run_id"])
    assert result["timestamp"].endswith("Z")
    assert result["config"]["n_workers"] == n_workers
    assert result["config"]["threads_per_worker"] == 1
    assert ENVIRONMENT_KEYS <= set(result["environment"])
    packages = result["environment"]["packages"]
    assert packages["dask"] and packages["distributed"] and packages["numpy"]
    assert result["command_line"][0] == sys.executable
    assert result["measurement"]["clock"] == "time.perf_counter"
    # Phases in run order, all positive, adding up to the total within a millisecond.
    assert list(result["phases"]) == phases
    assert all(seconds > 0 for seconds in result["phases"].values())
    assert math.isclose(sum(result["phases"].values()), result["total_time"], abs_tol=1e-3)
    assert result["teardown_time"] > 0
    # The specification's flat keys mirror the structured ones.
    for phase, seconds in result["phases"].items():
        assert result[f"{phase}_time"] == seconds
    assert result["n_workers"] == n_workers and result["threads_per_worker"] == 1
    # One arrival per worker, each inside the run, in order.
    workers = result["workers"]
    assert len(workers) == n_workers
    arrivals = [worker["arrival_time"] for worker in workers]
    assert arrivals == sorted(arrivals)
    assert all(0 < arrival <= result["total_time"] for arrival in arrivals)
    assert all(worker["nthreads"] == 1 and worker["memory_limit"] > 0 for worker in workers)


def successful_run(tool: str, tmp_path, *arguments: str):
    """Run a timing tool that must succeed; return its output and its result file."""
    output = tmp_path / "result.json"
    completed = run_tool([tool, *arguments, "--output", str(output)])
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return completed, read_json(output)


@pytest.mark.usefixtures("no_leftovers")
def test_local_cluster_run(tmp_path):
    completed, result = successful_run(LOCAL_TOOL, tmp_path, "--workers", "2")
    check_common_schema(result, "local", LOCAL_PHASES, 2)
    assert result["config"]["wait_for_workers"] is True
    # The all-ready moment is the last worker's registration as this client saw it.
    last_seen = max(worker["seen_time"] for worker in result["workers"])
    ready = sum(result["phases"][key] for key in LOCAL_PHASES[:3])
    assert abs(last_seen - ready) < 0.005
    for line in ("Timing Dask LocalCluster Startup", "Workers: 2", "Wait for workers: True",
                 "✓ Cluster object created:", "✓ Client connected:", "✓ All workers ready:",
                 "✓ First task completed:", "TIMING SUMMARY", "Cluster initialization:",
                 "Wait for workers:", "Total time to ready:", "Teardown:"):
        assert line in completed.stdout
    total_line = re.search(r"Total time to ready:\s+([0-9.]+) seconds", completed.stdout)
    assert float(total_line.group(1)) == pytest.approx(result["total_time"], abs=1e-4)


@pytest.mark.usefixtures("no_leftovers")
def test_separate_processes_run(tmp_path):
    completed, result = successful_run(DISTRIBUTED_TOOL, tmp_path, "-w", "2")
    check_common_schema(result, "distributed", DISTRIBUTED_PHASES, 2)
    assert result["batch_100_tasks_time"] == result["after_ready"]["batch_100_tasks"] > 0
    assert sorted(worker["name"] for worker in result["workers"]) == ["worker-0", "worker-1"]
    assert result["scheduler"]["address"].startswith("tcp://127.0.0.1:")
    assert result["measurement"]["poll_interval"] <= 0.01
    for line in ("Timing Dask Scheduler and Workers (Separate Processes)", "✓ Scheduler ready:",
                 "Starting 2 Dask workers...", "✓ All 2 workers ready:", "✓ 100 tasks completed:",
                 "Worker: worker-0", "Threads: 1", "Scheduler startup:", "Workers startup:",
                 "Batch (100 tasks):"):
        assert line in completed.stdout
    assert re.search(r"Memory: [0-9.]+ GiB", completed.stdout)


@pytest.mark.usefixtures("no_leftovers")
def test_no_wait_times_first_task_from_the_request(tmp_path):
    _, result = successful_run(LOCAL_TOOL, tmp_path, "-w", "1", "--no-wait")
    assert list(result["phases"]) == ["cluster_init", "client_connect", "first_task"]
    assert "wait_for_workers_time" not in result
    assert math.isclose(sum(result["phases"].values()), result["total_time"], abs_tol=1e-3)
    # Timed from the request for workers, the first task includes the first worker's start.
    requested_at = result["phases"]["cluster_init"] + result["phases"]["client_connect"]
    first_arrival = result["workers"][0]["arrival_time"]
    assert first_arrival > requested_at
    assert result["phases"]["first_task"] >= first_arrival - requested_at - 0.005


@pytest.fixture
def scheduler_on_8786(tmp_path):
    """Someone else's scheduler on the classic port, as a user might have running."""
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", 8786)) == 0:
            pytest.skip("port 8786 is already taken on this machine")
    log = open(tmp_path / "other-scheduler.log", "w")
    other = subprocess.Popen(
        [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "8786",
         "--no-dashboard", "--scheduler-file", str(tmp_path / "other.json")],
        stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        for _ in range(600):
            if (tmp_path / "other.json").exists():
                break
            subprocess.run(["sleep", "0.05"])
        yield "tcp://127.0.0.1:8786"
    finally:
        other.terminate()
        other.wait(10)
        log.close()


@pytest.mark.usefixtures("no_leftovers")
def test_times_its_own_scheduler_when_8786_is_taken(tmp_path, scheduler_on_8786):
    from distributed import Client

    _, result = successful_run(DISTRIBUTED_TOOL, tmp_path, "-w", "1", "--batch", "0")
    assert result["scheduler"]["address"] != scheduler_on_8786
    assert [worker["name"] for worker in result["workers"]] == ["worker-0"]
    with Client(scheduler_on_8786, timeout=10) as other:
        assert other.scheduler_info()["workers"] == {}  # none of our workers went there


@pytest.mark.usefixtures("no_leftovers")
def test_scheduler_that_cannot_start_fails_with_its_log(tmp_path):
    output = tmp_path / "failed.json"
    # 192.0.2.1 (TEST-NET-1) is not an address of this machine: the scheduler cannot bind it.
    completed = run_tool([DISTRIBUTED_TOOL, "-w", "1", "--host", "192.0.2.1", "--timeout", "30", "-o", str(output)])
    assert completed.returncode == 1
    assert "Traceback" not in completed.stdout
    assert "scheduler exited with code" in completed.stderr
    assert "last lines of" in completed.stderr  # the tail of the scheduler's own log
    result = read_json(output)
    assert result["status"] == "failed"
    assert "scheduler exited" in result["error"]
    assert result["total_time"] is None
    assert result["teardown_time"] is not None


@pytest.mark.usefixtures("no_leftovers")
def test_timeout_bounds_the_wait_for_workers(tmp_path):
    output = tmp_path / "timeout.json"
    completed = run_tool([LOCAL_TOOL, "-w", "2", "--timeout", "0.2", "-o", str(output)])
    assert completed.returncode == 1
    result = read_json(output)
    assert result["status"] == "failed"
    assert "timed out after 0.2 s" in result["error"]
    assert "--timeout" in completed.stderr


@pytest.mark.parametrize("signum, code", [(15, 143), (2, 130)])
def test_signal_during_startup_leaves_nothing(tmp_path, signum, code):
    """SIGTERM or Ctrl-C while workers start: torn down, result marked interrupted."""
    import psutil

    output = tmp_path / "interrupted.json"
    tool = subprocess.Popen(
        [sys.executable, DISTRIBUTED_TOOL, "-w", "2", "-o", str(output)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        for line in tool.stdout:
            if "Dask workers..." in line:
                break
        subprocess.run(["sleep", "0.5"])  # let the worker processes get going
        family = [child.pid for child in psutil.Process(tool.pid).children(recursive=True)]
        assert len(family) >= 3  # scheduler and two workers (with nannies' children)
        tool.send_signal(signum)
        tool.communicate(timeout=60)
    finally:
        if tool.poll() is None:
            tool.kill()
    assert tool.returncode == code
    assert wait_until_gone(family, timeout=5) == set()
    result = read_json(output)
    assert result["status"] == "interrupted"
    assert result["teardown_time"] is not None


@pytest.mark.parametrize("script", [LOCAL_TOOL, DISTRIBUTED_TOOL, COMPARE_SCHEDULERS])
def test_spawned_workers_do_not_import_the_tool(script):
    """A spawned worker process runs the parent's script as __mp_main__; the tool must stay out of it,
    or every worker would pay for importing it while its startup is being timed."""
    code = ("import runpy, sys; runpy.run_path(sys.argv[1], run_name='__mp_main__'); "
            "print(sorted(name for name in sys.modules if name.startswith('dask_timing')))")
    completed = subprocess.run([sys.executable, "-c", code, script], capture_output=True, text=True, timeout=60)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "[]"
