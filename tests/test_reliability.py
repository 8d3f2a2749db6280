"""Nothing lost, nothing left, nothing unbounded: signals at every moment, faults, bad requests, secrets."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import psutil
import pytest
from conftest import (
    ANALYZER, COMPARE_SCHEDULERS, DISTRIBUTED_TOOL, LOCAL_TOOL, STUDY, dask_processes, read_json, run_tool, signal_at,
    wait_until_gone,
)
from helpers import assert_usage_error, write_plot_results
from matplotlib.image import imread

from dask_timing.deploy.managed import ManagedProcess, terminate
from dask_timing.present.plots import pyplot, save

# A line each tool prints as it enters a moment of the run.
MOMENTS = {
    "scheduler start": "Starting Dask scheduler",
    "workers start": "Dask workers...",
    "first task": "Testing with a simple task",
    "batch": "Testing with batch",
    "teardown": "Shutting down cluster",
}
MAX_STDERR_LINES = 100


def start(arguments: list[str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, *arguments], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def kill_a_child_mid_batch(arguments: list[str], command_part: str) -> tuple[subprocess.Popen, str, str]:
    """Start a tool; once its batch runs, SIGKILL its first descendant whose command line holds
    ``command_part``; return the tool's process and its output."""
    tool = start(arguments)
    try:
        for line in tool.stdout:
            if MOMENTS["batch"] in line:
                break
        time.sleep(0.2)
        next(child for child in psutil.Process(tool.pid).children(recursive=True)
             if command_part in " ".join(child.cmdline())).kill()
        stdout, stderr = tool.communicate(timeout=120)
    finally:
        if tool.poll() is None:
            tool.kill()
    return tool, stdout, stderr


def assert_quiet(stderr: str) -> None:
    assert "Traceback" not in stderr, stderr
    assert "never awaited" not in stderr, stderr
    assert len(stderr.splitlines()) < MAX_STDERR_LINES, stderr


@pytest.mark.timeout(120)
@pytest.mark.parametrize("moment", list(MOMENTS))
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_at_any_moment_keeps_the_result_and_leaves_nothing(tmp_path, moment, signum):
    output = tmp_path / "run.json"
    tool = start([DISTRIBUTED_TOOL, "-w", "2", "--batch", "2000", "-o", str(output)])
    family, stdout, stderr = signal_at(tool, MOMENTS[moment], signum)
    assert tool.returncode == 128 + signum, stdout[-2000:] + stderr
    assert_quiet(stderr)
    result = read_json(output)
    assert result["status"] == "interrupted"
    assert result["teardown_time"] is not None
    assert wait_until_gone(family, timeout=5) == set()


@pytest.mark.timeout(120)
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_during_a_local_clusters_teardown_keeps_the_result(tmp_path, signum):
    output = tmp_path / "run.json"
    tool = start([LOCAL_TOOL, "-w", "2", "-o", str(output)])
    family, stdout, stderr = signal_at(tool, MOMENTS["teardown"], signum)
    assert tool.returncode == 128 + signum, stdout[-2000:] + stderr
    assert_quiet(stderr)
    result = read_json(output)
    assert result["status"] == "interrupted" and result["error"] == "interrupted during teardown"
    assert result["total_time"] > 0  # measured before the signal: kept
    assert wait_until_gone(family, timeout=5) == set()



@pytest.mark.timeout(120)
@pytest.mark.parametrize("tool", [LOCAL_TOOL, DISTRIBUTED_TOOL], ids=["local", "processes"])
def test_a_run_stopped_after_ready_keeps_the_workers_it_measured(tmp_path, tool):
    output = tmp_path / "run.json"
    run = start([tool, "-w", "2", "--batch", "30000", "-o", str(output)])
    _, stdout, stderr = signal_at(run, MOMENTS["batch"], signal.SIGTERM)
    assert run.returncode == 128 + signal.SIGTERM, stdout[-2000:] + stderr
    result = read_json(output)
    assert result["status"] == "interrupted"
    assert len(result["workers"]) == 2 and all(worker["arrival_time"] is not None for worker in result["workers"])
    assert result["arrivals"]["all_workers"] is not None
    assert "no worker registered" not in stdout
    # ready before the signal: the total was reached, though a stopped run records none
    assert "not reached" not in stdout and "not recorded: the run was interrupted after ready" in stdout


@pytest.fixture
def scheduler_without_workers(tmp_path):
    scheduler_file = tmp_path / "scheduler.json"
    scheduler = ManagedProcess("scheduler", [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host",
                                             "127.0.0.1", "--port", "0", "--no-dashboard", "--scheduler-file",
                                             str(scheduler_file)], str(tmp_path / "scheduler.log"))
    scheduler.start()
    deadline = time.monotonic() + 60
    while not scheduler_file.exists():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    yield scheduler_file
    terminate([scheduler])


@pytest.mark.timeout(120)
def test_a_cluster_without_workers_fails_within_the_timeout_and_tears_down_cleanly(tmp_path, scheduler_without_workers):
    output = tmp_path / "run.json"
    started = time.monotonic()
    completed = run_tool([DISTRIBUTED_TOOL, "--scheduler-file", str(scheduler_without_workers), "--timeout", "3",
                          "-o", str(output)])
    took = time.monotonic() - started
    assert completed.returncode == 1
    assert_quiet(completed.stderr)
    result = read_json(output)
    assert result["status"] == "failed" and "timed out after 3 s" in result["error"]
    assert took < 3 + 30  # the run's --timeout, plus interpreter start and the teardown's own bound


@pytest.mark.timeout(120)
@pytest.mark.parametrize("tool", [LOCAL_TOOL, DISTRIBUTED_TOOL])
def test_a_timeout_spent_before_the_first_step_fails_the_run_in_one_line(tmp_path, tool):
    """--timeout 1e-300: the deadline is already past when the scheduler's start is first awaited."""
    before = set(dask_processes())
    output = tmp_path / "run.json"
    completed = run_tool([tool, "-w", "1", "--timeout", "1e-300", "-o", str(output)])
    assert completed.returncode == 1
    assert_quiet(completed.stderr)
    assert len(completed.stderr.splitlines()) == 1, completed.stderr
    result = read_json(output)
    assert result["status"] == "failed" and "waiting for the scheduler to start" in result["error"]
    assert wait_until_gone(set(dask_processes()) - before) == set()


@pytest.mark.timeout(120)
def test_a_scheduler_killed_mid_batch_is_one_line_and_a_failed_result(tmp_path):
    output = tmp_path / "run.json"
    tool, stdout, stderr = kill_a_child_mid_batch([DISTRIBUTED_TOOL, "-w", "2", "--batch", "50000", "-o", str(output)],
                                                  "dask_scheduler")
    assert tool.returncode == 1
    assert_quiet(stderr)
    lines = stderr.strip().splitlines()
    assert len(lines) == 2, stderr  # what happened, and where the full logs are
    assert "scheduler exited" in lines[0] and "logs" in lines[1]
    assert read_json(output)["status"] == "failed"


@pytest.mark.timeout(150)
@pytest.mark.parametrize("tool", [LOCAL_TOOL, DISTRIBUTED_TOOL], ids=["local", "processes"])
def test_a_worker_process_killed_mid_batch_fails_the_run_though_its_nanny_restarts_it(tmp_path, tool):
    output = tmp_path / "run.json"
    # the nanny notices, and starts another worker process under a new address
    run, stdout, stderr = kill_a_child_mid_batch([tool, "-w", "2", "--batch", "20000", "-o", str(output)],
                                                 "multiprocessing.spawn")
    assert run.returncode == 1, stdout[-2000:] + stderr
    assert_quiet(stderr)
    result = read_json(output)
    assert result["status"] == "failed" and "left the cluster after it was ready" in result["error"]
    assert len(stderr.strip().splitlines()) == 2, stderr  # what happened, and where the logs are


@pytest.mark.timeout(120)
def test_a_worker_process_stopped_while_it_starts_is_not_left_behind(tmp_path):
    """SIGSTOP holds the LocalCluster's close() past its bound: the worker processes still go."""
    output = tmp_path / "run.json"
    run = start([LOCAL_TOOL, "-w", "1", "--timeout", "4", "-o", str(output)])
    try:
        for line in run.stdout:
            if "Waiting for" in line:
                break
        workers = []
        while not workers:
            workers = [child for child in psutil.Process(run.pid).children(recursive=True)
                       if "multiprocessing.spawn" in " ".join(child.cmdline())]
        for worker in workers:
            worker.suspend()
        run.wait(timeout=90)  # not communicate(): a stopped worker left behind would hold the pipes open
    finally:
        if run.poll() is None:
            run.kill()
    survivors = wait_until_gone([worker.pid for worker in workers], timeout=5)
    for pid in survivors:
        psutil.Process(pid).kill()
    assert run.returncode == 1
    assert not survivors
    assert read_json(output)["status"] == "failed"

@pytest.mark.timeout(120)
def test_a_batch_far_too_long_for_its_timeout_is_bounded(tmp_path):
    output = tmp_path / "run.json"
    started = time.monotonic()
    completed = run_tool([LOCAL_TOOL, "-w", "1", "--batch", "150000", "--timeout", "4", "-o", str(output)])
    took = time.monotonic() - started
    assert completed.returncode == 1
    assert_quiet(completed.stderr)
    assert "timed out after 4 s" in read_json(output)["error"]
    assert took < 4 + 30  # the run's --timeout, plus interpreter start and the teardown's own bound


@pytest.mark.timeout(60)
def test_something_that_is_not_a_scheduler_fails_within_the_timeout(tmp_path):
    server = subprocess.Popen([sys.executable, "-m", "http.server", "0", "--bind", "127.0.0.1"],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path)
    try:
        line = server.stdout.readline()  # "Serving HTTP on 127.0.0.1 port N ..."
        port = int(line.split(" port ")[1].split()[0])
        started = time.monotonic()
        completed = run_tool([DISTRIBUTED_TOOL, "--scheduler-address", f"tcp://127.0.0.1:{port}", "--timeout", "3"])
        took = time.monotonic() - started
    finally:
        server.kill()
        server.wait()
    assert completed.returncode == 1
    assert_quiet(completed.stderr)
    assert took < 3 + 10


REFUSED = [
    ([LOCAL_TOOL, "-w", "100000"], "more than this machine can start"),
    ([DISTRIBUTED_TOOL, "-w", "100000"], "more than this machine can start"),
    ([LOCAL_TOOL, "--batch", "10000000000"], "would not fit in memory"),
    ([LOCAL_TOOL, "--timeout", "1e300"], "more than a day"),
    ([LOCAL_TOOL, "--workload", "weak-array", "--workload-chunk", "1000000"], "GiB"),
    ([DISTRIBUTED_TOOL, "--cluster-class", "distributed:LocalCluster", "-w", "100000"], "more than 10000"),
    ([LOCAL_TOOL, "-w", "2", "--threads", "100000000000000000000000"], "more than this machine lets start"),
    ([DISTRIBUTED_TOOL, "--cluster-class", "distributed:LocalCluster", "--threads", "3"], "in --cluster-kwargs"),
    ([DISTRIBUTED_TOOL, "--cluster-class", "distributed:LocalCluster", "--no-dashboard"], "in --cluster-kwargs"),
    ([DISTRIBUTED_TOOL, "--scheduler-address", "tcp://127.0.0.1:8786", "--no-nanny"], "timed as it is"),
    ([DISTRIBUTED_TOOL, "--scheduler-address", "tcp://127.0.0.1:8786", "-t", "2"], "timed as it is"),
    ([DISTRIBUTED_TOOL, "--scheduler-address", "tcp://127.0.0.1:8786", "--start-method", "fork"], "timed as it is"),
    ([DISTRIBUTED_TOOL, "--scheduler-address", "tcp://127.0.0.1:8786", "--host", "0.0.0.0"], "timed as it is"),
    ([DISTRIBUTED_TOOL, "--scheduler-address", "http://127.0.0.1:80"], "unknown address scheme"),
    ([DISTRIBUTED_TOOL, "--scheduler-address", "tcp://127.0.0.1"], "missing port"),
    ([DISTRIBUTED_TOOL, "--scheduler-address", "tcp://127.0.0.1:99999"], "port from 1 to 65535"),
    ([DISTRIBUTED_TOOL, "--scheduler-address", "tls://127.0.0.1:8786"], "needs --tls-ca-file"),
    ([DISTRIBUTED_TOOL, "--scheduler-address", "tcp://127.0.0.1:8786", "--tls-ca-file", "ca.pem"], "tls:// scheduler"),
    ([DISTRIBUTED_TOOL, "--tls-ca-file", "ca.pem"], "add --scheduler-address"),
    ([DISTRIBUTED_TOOL, "--scheduler-address", "tls://127.0.0.1:8786", "--tls-ca-file", "ca.pem",
      "--tls-cert", "ca.pem"], "go together"),
    ([DISTRIBUTED_TOOL, "--scheduler-file", "not_json.json"], "not a scheduler file"),
    ([DISTRIBUTED_TOOL, "--scheduler-file", "no_address.json"], "no \"address\""),
    ([DISTRIBUTED_TOOL, "--scheduler-file", "inproc_address.json"], "the address in inproc_address.json"),
    ([DISTRIBUTED_TOOL, "--scheduler-address", "inproc://127.0.0.1/1/1"], "only inside the process"),
    ([DISTRIBUTED_TOOL, "--scheduler-address", "ws://"], "missing port"),
    ([DISTRIBUTED_TOOL, "--scheduler-address", "ucx://127.0.0.1:8786"], "cannot connect over ucx://"),
    ([LOCAL_TOOL, "--host", "no-such-host.invalid"], "does not resolve"),
    ([DISTRIBUTED_TOOL, "--cluster-class", "builtins:dict"], "not a Dask cluster manager"),
    ([DISTRIBUTED_TOOL, "--cluster-class", "dask_jobqueue:SLURMCluster", "--cluster-kwargs",
      '{"cores": 1, "memory": "1GB", "no_such_keyword": 1}'], "takes no argument no_such_keyword"),
]


@pytest.mark.parametrize("arguments, reason", REFUSED, ids=[" ".join(a[1:])[:60] for a, _ in REFUSED])
def test_requests_the_tools_cannot_honour_are_refused_up_front(tmp_path, arguments, reason):
    (tmp_path / "ca.pem").write_text("not used: refused before it is read")
    (tmp_path / "not_json.json").write_text("scheduler: somewhere")
    (tmp_path / "no_address.json").write_text(json.dumps({"id": "Scheduler-1"}))
    (tmp_path / "inproc_address.json").write_text(json.dumps({"address": "inproc://127.0.0.1/1/1"}))
    started = time.monotonic()
    assert_usage_error(run_tool(arguments, cwd=tmp_path, timeout=60), reason)
    assert time.monotonic() - started < 20
    assert sorted(os.listdir(tmp_path)) == ["ca.pem", "inproc_address.json", "no_address.json", "not_json.json"]


def test_dask_settings_dask_itself_would_reject_are_refused(tmp_path):
    completed = subprocess.run([sys.executable, LOCAL_TOOL, "-w", "1"], capture_output=True, text=True, timeout=60,
                               env={**os.environ, "DASK_DISTRIBUTED__WORKER__MULTIPROCESSING_METHOD": "sometimes"})
    assert completed.returncode == 2 and "multiprocessing-method is 'sometimes'" in completed.stderr


@pytest.mark.parametrize("variable, value, reason", [
    ("DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT", "abc", "must be a duration"),
    ("DASK_DISTRIBUTED__WORKER__TRANSFER__MESSAGE_BYTES_LIMIT", "huge", "must be a size"),
    ("DASK_DISTRIBUTED__WORKER__MEMORY__TARGET", "lots", "must be a number"),
])
@pytest.mark.parametrize("tool", [LOCAL_TOOL, DISTRIBUTED_TOOL, STUDY])
def test_dask_settings_of_the_wrong_kind_are_refused_before_anything_starts(tmp_path, tool, variable, value, reason):
    """Dask would fail the run halfway in its own words (and hold up the teardown) on a duration it cannot read."""
    before = set(dask_processes())
    completed = run_tool([tool, "-w", "1"], cwd=tmp_path, timeout=60, env={variable: value})
    assert completed.returncode == 2, completed.stderr
    assert len(completed.stderr.splitlines()) == 1 and reason in completed.stderr, completed.stderr
    assert list(tmp_path.iterdir()) == []
    assert set(dask_processes()) - before == set()


def test_dask_settings_that_read_as_their_kind_are_taken(tmp_path):
    completed = run_tool([LOCAL_TOOL, "-w", "1"], cwd=tmp_path, timeout=120,
                         env={"DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "10",  # seconds, as a number
                              "DASK_DISTRIBUTED__COMM__OFFLOAD": "False",  # a size, or off
                              "DASK_DISTRIBUTED__SCHEDULER__WORKER_SATURATION": "inf"})
    assert completed.returncode == 0, completed.stderr


@pytest.mark.parametrize("tool", [LOCAL_TOOL, STUDY, COMPARE_SCHEDULERS])
def test_a_malformed_dask_configuration_file_is_one_line_and_exit_2(tmp_path, tool):
    (tmp_path / "dask.yaml").write_text("distributed: [\n")
    completed = run_tool([tool, "-w", "1"], cwd=tmp_path, timeout=60, env={"DASK_CONFIG": str(tmp_path / "dask.yaml")})
    assert completed.returncode == 2, completed.stderr
    lines = completed.stderr.splitlines()
    assert len(lines) == 1 and "is malformed" in lines[0] and "DASK_CONFIG" in lines[0], completed.stderr
    assert lines[0].startswith(("time_local_cluster.py: error:", "run_timing_study.sh: error:",
                                "compare_schedulers.py: error:"))
    assert sorted(os.listdir(tmp_path)) == ["dask.yaml"]


def test_a_terminal_that_cannot_show_the_printout_still_gets_the_result(tmp_path):
    """PYTHONIOENCODING=ascii: the printout's ticks are shown as escapes, and the run completes."""
    output = tmp_path / "r\u00e9sultat.json"
    completed = run_tool([LOCAL_TOOL, "-w", "1", "-o", str(output)], timeout=120,
                         env={"PYTHONIOENCODING": "ascii", "LC_ALL": "C"})
    assert completed.returncode == 0, completed.stderr
    assert completed.stderr == ""
    assert "\\u2713" in completed.stdout
    assert read_json(output)["status"] == "ok"


@pytest.mark.parametrize("tool", [LOCAL_TOOL, ANALYZER])
def test_a_full_standard_output_loses_the_printout_not_the_files(tmp_path, tool):
    """>/dev/full: the command goes on, writes its files, and ends with one line that says what was lost."""
    if tool == ANALYZER:
        assert run_tool([LOCAL_TOOL, "-w", "1", "-o", str(tmp_path / "run.json")], timeout=120).returncode == 0
        arguments, written = [str(tmp_path / "run.json"), "--csv", str(tmp_path / "table.csv")], tmp_path / "table.csv"
    else:
        arguments, written = ["-w", "1", "-o", str(tmp_path / "run.json")], tmp_path / "run.json"
    with open("/dev/full", "w") as full:
        completed = subprocess.run([sys.executable, tool, *arguments], stdout=full, stderr=subprocess.PIPE, text=True,
                                   timeout=120, stdin=subprocess.DEVNULL)
    assert completed.returncode == 1
    assert completed.stderr.count("\n") == 1 and "could not be written to standard output" in completed.stderr
    assert "No space left on device" in completed.stderr
    assert written.stat().st_size > 0


def test_closed_standard_streams_are_no_file_for_dask_to_write_into(tmp_path):
    """2>&- and <&-: the next file opened would take their numbers; they are opened on /dev/null instead."""
    output = tmp_path / "run.json"
    completed = subprocess.run([sys.executable, LOCAL_TOOL, "-w", "1", "-o", str(output), "--log-dir",
                                str(tmp_path / "logs")], stdout=subprocess.PIPE, text=True, timeout=120, cwd=tmp_path,
                               preexec_fn=lambda: (os.close(0), os.close(2)))
    assert completed.returncode == 0
    assert read_json(output)["status"] == "ok"
    assert "Results saved to" in completed.stdout


def test_a_message_a_library_spreads_over_lines_is_one_line(tmp_path):
    (tmp_path / "kwargs.yaml").write_text("n_workers: [\n")
    completed = run_tool([DISTRIBUTED_TOOL, "--cluster-class", "distributed:LocalCluster", "--cluster-kwargs",
                          str(tmp_path / "kwargs.yaml")], timeout=60)
    assert completed.returncode == 2
    assert len(completed.stderr.splitlines()) == 1 and "not valid YAML" in completed.stderr, completed.stderr


@pytest.mark.timeout(120)
def test_secrets_in_cluster_arguments_never_reach_files_or_the_terminal(tmp_path):
    output = tmp_path / "run.json"
    arguments = {"threads_per_worker": 1, "env": {"API_TOKEN": "s3cret-value"}}
    completed = run_tool([DISTRIBUTED_TOOL, "--cluster-class", "distributed:LocalCluster", "--cluster-kwargs",
                          json.dumps(arguments), "-w", "1", "-o", str(output)])
    assert completed.returncode == 0, completed.stderr
    assert "s3cret-value" not in completed.stdout + completed.stderr
    text = output.read_text()
    assert "s3cret-value" not in text
    assert read_json(output)["config"]["cluster_kwargs"]["env"]["API_TOKEN"] == "***"


@pytest.mark.timeout(120)
def test_the_resume_hint_is_a_command_that_can_be_pasted(tmp_path):
    folder = tmp_path / "my results; echo hi"
    study = subprocess.Popen([STUDY, "--workers", "1", "--runs", "3", "--output-dir", str(folder)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, _, stderr = signal_at(study, "2/3")
    hint = next(line for line in stderr.splitlines() if "finish it with:" in line).split("finish it with: ", 1)[1]
    resumed = subprocess.run(["bash", "-c", hint], capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stdout[-2000:] + resumed.stderr
    assert "hi" not in resumed.stdout.splitlines()  # the folder's name stayed a name, not a command
    assert len([name for name in os.listdir(folder) if name.endswith(".json") and "_run" in name]) == 3



@pytest.mark.timeout(180)
@pytest.mark.parametrize("delay, signals", [(0.0, 1), (1.5, 1), (0.0, 2)],
                         ids=["as-it-starts", "mid-run", "second-signal"])
def test_a_run_the_study_stops_is_told_as_stopped_and_the_study_resumes(tmp_path, delay, signals):
    """One signal: the run it stops is told as stopped, not failed.  A second one kills at once, and the
    study still says how to finish it."""
    folder = tmp_path / "study"
    study = subprocess.Popen([STUDY, "--workers", "1", "--runs", "3", "--output-dir", str(folder)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for line in study.stdout:
            if "=== 2/3" in line:
                break
        time.sleep(delay)
        study.send_signal(signal.SIGTERM)
        said = ""
        if signals == 2:
            while "Received SIGTERM" not in said:
                said += study.stderr.readline()
            study.send_signal(signal.SIGTERM)  # while its run tears down, before the study ends its own way
        stdout, stderr = study.communicate(timeout=90)
        stderr = said + stderr
    finally:
        if study.poll() is None:
            study.kill()
    assert study.returncode == 128 + signal.SIGTERM, stdout[-2000:] + stderr
    (hint,) = [line for line in stderr.splitlines() if "stopped; finish it with:" in line]
    assert f"--output-dir {folder} --resume " in hint
    if signals == 1:
        assert "stopped by SIGTERM" in stdout and "failed (exit code" not in stdout, stdout
        assert "0 failed run(s)" in stdout
    resumed = run_tool([STUDY, "--output-dir", str(folder), "--resume"])
    assert resumed.returncode == 0, resumed.stdout[-2000:] + resumed.stderr
    results = sorted(path.name for path in folder.glob("local_*_run*.json"))
    assert len(results) == 3 and all(read_json(folder / name)["status"] == "ok" for name in results)


@pytest.mark.timeout(180)
def test_a_manifest_keeps_no_secret_and_resume_asks_for_them_again(tmp_path):
    folder = tmp_path / "study"
    arguments = json.dumps({"threads_per_worker": 1, "env": {"API_TOKEN": "s3cret-value"}})
    study = subprocess.Popen([STUDY, "--type", "cluster", "--cluster-class", "distributed:LocalCluster",
                              "--cluster-kwargs", arguments, "--workers", "1", "--runs", "2",
                              "--output-dir", str(folder)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    signal_at(study, "2/2")
    manifest = next(folder.glob("study_*.json"))
    assert "s3cret-value" not in manifest.read_text()
    refused = run_tool([STUDY, "--output-dir", str(folder), "--resume"])
    assert refused.returncode == 2 and "add --cluster-kwargs" in refused.stderr
    resumed = run_tool([STUDY, "--output-dir", str(folder), "--resume", "--cluster-kwargs", arguments])
    assert resumed.returncode == 0, resumed.stdout[-2000:] + resumed.stderr
    results = [path for path in folder.glob("cluster_*.json")]
    assert len(results) == 2 and all(read_json(path)["status"] == "ok" for path in results)
    assert not any("s3cret-value" in path.read_text() for path in folder.rglob("*") if path.is_file())


@pytest.mark.timeout(120)
@pytest.mark.skipif(shutil.which("qsub") is not None, reason="PBS is installed here: qsub would not be missing")
def test_a_batch_system_that_is_not_there_is_named_as_the_cause(tmp_path):
    """A PBS cluster on a machine without PBS: the result names the missing command, never an internal assertion."""
    output = tmp_path / "run.json"
    completed = run_tool([DISTRIBUTED_TOOL, "--cluster-class", "dask_jobqueue:PBSCluster", "--cluster-kwargs",
                          '{"cores": 1, "memory": "1GB"}', "-w", "1", "--timeout", "20", "-o", str(output)])
    assert completed.returncode == 1
    assert_quiet(completed.stderr)
    error = read_json(output)["error"]
    assert "qsub" in error and "AssertionError" not in error


@pytest.mark.timeout(120)
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_the_analyzer_stopped_while_it_writes_leaves_no_half_written_file(tmp_path, signum):
    runs, plots = tmp_path / "runs", tmp_path / "plots"
    runs.mkdir()
    write_plot_results(runs, 16)
    analyzer = subprocess.Popen([sys.executable, ANALYZER, str(runs), "--plot", "--plot-dir", str(plots),
                                 "--csv", str(tmp_path / "all.csv"), "--html", str(tmp_path / "all.html")],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env={**os.environ, "PYTHONUNBUFFERED": "1"})
    _, stdout, stderr = signal_at(analyzer, "Plot saved to", signum)
    assert analyzer.returncode == 128 + signum, stdout[-2000:] + stderr
    assert_quiet(stderr)
    written = [*plots.iterdir(), *tmp_path.glob("all.*")]
    assert not [path.name for path in written if path.name.startswith(".")]  # no temporary file left behind
    assert list(plots.glob("*.png"))
    for path in plots.glob("*.png"):
        imread(path)  # every plot under its name is whole



def file_size_limit(limit: int):
    """A child's preexec: writes past ``limit`` bytes fail as on a full disk (EFBIG, SIGXFSZ ignored)."""
    import resource

    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


@pytest.mark.timeout(120)
def test_plots_that_cannot_be_written_whole_leave_nothing_under_their_names(tmp_path):
    runs, plots = tmp_path / "runs", tmp_path / "plots"
    runs.mkdir()
    write_plot_results(runs, 4)
    completed = subprocess.run([sys.executable, ANALYZER, str(runs), "--plot", "--plot-dir", str(plots)],
                               capture_output=True, text=True, timeout=100, preexec_fn=file_size_limit(20_000))
    assert completed.returncode == 1, completed.stdout[-2000:] + completed.stderr
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1 and "File too large" in lines[0] and str(plots) in lines[0], completed.stderr
    assert os.listdir(plots) == []

def test_a_plot_is_never_written_over_a_file(tmp_path):
    taken = tmp_path / "timing_phases.png"
    taken.write_text("someone's file")
    with pytest.raises(FileExistsError):
        save(pyplot().figure(), str(taken))
    assert taken.read_text() == "someone's file"
    assert os.listdir(tmp_path) == ["timing_phases.png"]
