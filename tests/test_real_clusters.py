"""Beyond one machine's LocalCluster: existing clusters (TLS too), any cluster manager, a real Slurm."""

from __future__ import annotations

import json
import math
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest
from conftest import DISTRIBUTED_TOOL, STUDY, read_json, run_tool
from helpers import assert_usage_error

from dask_timing.deploy.managed import ManagedProcess, terminate
from dask_timing.phases import WORKER_BOUNDARIES

pytestmark = [pytest.mark.timeout(240), pytest.mark.usefixtures("no_leftovers")]


def wait_for_file(path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


@pytest.fixture
def running_cluster(tmp_path):
    """Someone else's cluster: a scheduler and one 2-thread worker, each its own process."""
    scheduler_file = tmp_path / "scheduler.json"
    started = [ManagedProcess("scheduler", [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host",
                                            "127.0.0.1", "--port", "0", "--no-dashboard", "--scheduler-file",
                                            str(scheduler_file)], str(tmp_path / "scheduler.log"))]
    started[0].start()
    wait_for_file(scheduler_file)
    started.append(ManagedProcess("worker", [sys.executable, "-m", "distributed.cli.dask_worker", "--scheduler-file",
                                             str(scheduler_file), "--nthreads", "2", "--name", "theirs-0",
                                             "--no-dashboard"], str(tmp_path / "worker.log")))
    started[1].start()
    from distributed import Client

    with Client(scheduler_file=str(scheduler_file), timeout=30) as client:
        client.wait_for_workers(1, timeout=60)
    yield scheduler_file, json.loads(scheduler_file.read_text())["address"]
    terminate(started)


def test_existing_cluster_is_timed_and_left_running(tmp_path, running_cluster):
    scheduler_file, address = running_cluster
    output = tmp_path / "existing.json"
    completed = run_tool([DISTRIBUTED_TOOL, "--scheduler-address", address, "-o", str(output)])
    assert completed.returncode == 0, completed.stdout + completed.stderr
    result = read_json(output)
    assert result["kind"] == "existing"
    assert list(result["phases"]) == ["client_connect", "first_task"]
    assert result["config"]["n_workers"] == 1 and result["config"]["threads_per_worker"] == 2
    assert [worker["name"] for worker in result["workers"]] == ["theirs-0"]
    assert result["versions"]["mismatch"] is None
    assert result["versions"]["scheduler"]["distributed"] == result["versions"]["client"]["distributed"]
    assert "the cluster keeps running" in completed.stdout
    again = run_tool([DISTRIBUTED_TOOL, "--scheduler-file", str(scheduler_file), "--batch", "0",
                      "-o", str(tmp_path / "again.json")])
    assert again.returncode == 0, again.stderr  # still there: nothing was torn down


def test_existing_cluster_says_its_workers_startup_is_not_available(tmp_path, running_cluster):
    _, address = running_cluster
    output = tmp_path / "existing.json"
    completed = run_tool([DISTRIBUTED_TOOL, "--scheduler-address", address, "--batch", "0", "-o", str(output)])
    assert completed.returncode == 0, completed.stdout + completed.stderr
    result = read_json(output)
    assert all("waterfall" not in worker for worker in result["workers"])  # never invented
    unavailable = result["measurement"]["worker_waterfall"]["unavailable"]
    assert set(unavailable) == set(WORKER_BOUNDARIES) and "not started by this run" in unavailable["registered"]
    assert result["worker_phases"] is None and result["stragglers"] is None
    assert "Worker startup: not available (the workers were not started by this run)" in completed.stdout


def test_a_scheduler_address_where_nothing_listens_is_one_line_before_anything_starts(tmp_path):
    """Refused (nothing listens) or an unknown host: exit 2 in seconds, not a silent wait for --timeout."""
    cases = [("tcp://127.0.0.1:9", "nothing listens there (connection refused); start the scheduler first"),
             ("tcp://no-such-host.invalid:8786", "the host no-such-host.invalid is unknown here")]
    for address, message in cases:
        started = time.monotonic()
        completed = run_tool([DISTRIBUTED_TOOL, "--scheduler-address", address, "--workers", "3", "--timeout", "60",
                              "-o", str(tmp_path / "r.json")])
        assert_usage_error(completed)
        assert message in completed.stderr, completed.stderr
        assert time.monotonic() - started < 30 and not (tmp_path / "r.json").exists()


def test_a_port_that_never_answers_as_a_scheduler_fails_the_run_at_its_timeout(tmp_path):
    """Something accepts connections there but never speaks Dask: the run's own --timeout bounds the wait,
    then one line, exit 1 and a result file whose status is failed."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # never accepted
        address = f"tcp://127.0.0.1:{silent.getsockname()[1]}"
        completed = run_tool([DISTRIBUTED_TOOL, "--scheduler-address", address, "--timeout", "3",
                              "-o", str(tmp_path / "r.json")])
    assert completed.returncode == 1 and "Traceback" not in completed.stderr, completed.stderr
    assert "timed out after 3 s (the run's --timeout) waiting for the client to connect" in completed.stderr
    assert read_json(tmp_path / "r.json")["status"] == "failed"


def make_certificates(folder) -> dict[str, str]:
    """A throwaway CA and one certificate it signs, for a TLS scheduler on 127.0.0.1."""
    run = lambda *args: subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=folder)  # noqa: E731
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=test-ca",
        "-keyout", "ca.key", "-out", "ca.pem")
    run("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", "node.key", "-out", "node.csr")
    (folder / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1\n")
    run("x509", "-req", "-in", "node.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "1",
        "-extfile", "ext.cnf", "-out", "node.pem")
    return {"ca": str(folder / "ca.pem"), "cert": str(folder / "node.pem"), "key": str(folder / "node.key")}


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is needed to make test certificates")
def test_tls_scheduler(tmp_path):
    certificates = make_certificates(tmp_path)
    tls = ["--tls-ca-file", certificates["ca"], "--tls-cert", certificates["cert"], "--tls-key", certificates["key"]]
    scheduler_file = tmp_path / "scheduler.json"
    started = [ManagedProcess("scheduler", [sys.executable, "-m", "distributed.cli.dask_scheduler", "--protocol", "tls",
                                            "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                                            "--scheduler-file", str(scheduler_file), *tls],
                              str(tmp_path / "scheduler.log"))]
    started[0].start()
    try:
        wait_for_file(scheduler_file)
        address = json.loads(scheduler_file.read_text())["address"]
        assert address.startswith("tls://")
        started.append(ManagedProcess("worker", [sys.executable, "-m", "distributed.cli.dask_worker", address, *tls,
                                                 "--no-dashboard"], str(tmp_path / "worker.log")))
        started[1].start()
        output = tmp_path / "tls.json"
        completed = run_tool([DISTRIBUTED_TOOL, "--scheduler-address", address, *tls, "--batch", "0",
                              "-o", str(output)])
        assert completed.returncode == 0, completed.stdout + completed.stderr
        assert read_json(output)["workers"][0]["address"].startswith("tls://")
        refused = run_tool([DISTRIBUTED_TOOL, "--scheduler-address", address, "--timeout", "3", "--batch", "0"])
        # without the certificates the TLS scheduler is out of reach: refused before trying, in one line
        assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 1
        assert "needs --tls-ca-file" in refused.stderr
    finally:
        terminate(started)


@pytest.mark.parametrize("cluster_class, kwargs, as_file", [
    ("distributed:LocalCluster", {"threads_per_worker": 1}, False),
    ("distributed.deploy.subprocess:SubprocessCluster", {"threads_per_worker": 1}, True),
])
def test_any_cluster_manager(tmp_path, cluster_class, kwargs, as_file):
    output = tmp_path / "manager.json"
    given = json.dumps(kwargs)
    if as_file:  # a YAML file, as users keep cluster settings
        (tmp_path / "cluster.yaml").write_text("".join(f"{key}: {value}\n" for key, value in kwargs.items()))
        given = str(tmp_path / "cluster.yaml")
    completed = run_tool([DISTRIBUTED_TOOL, "-w", "2", "--cluster-class", cluster_class,
                          "--cluster-kwargs", given, "--batch", "0", "-o", str(output)])
    assert completed.returncode == 0, completed.stdout + completed.stderr
    result = read_json(output)
    assert result["kind"] == "cluster"
    assert result["config"]["cluster_class"] == cluster_class and result["config"]["cluster_kwargs"] == kwargs
    assert list(result["phases"]) == ["cluster_init", "client_connect", "wait_for_workers", "first_task"]
    assert len(result["workers"]) == 2 and all(worker["arrival_time"] > 0 for worker in result["workers"])
    assert result["scheduler"]["address"].startswith("tcp://127.0.0.1:")  # ours, on a free port
    assert ":8787" not in (result["scheduler"]["dashboard"] or "")


@pytest.mark.timeout(120)
def test_a_cluster_manager_of_worker_threads_talks_inproc(tmp_path):
    """LocalCluster(processes=False) through --cluster-class: its threads use inproc, which takes no host."""
    output = tmp_path / "threads.json"
    completed = run_tool([DISTRIBUTED_TOOL, "-w", "2", "--cluster-class", "distributed:LocalCluster",
                          "--cluster-kwargs", '{"processes": false}', "--batch", "0", "-o", str(output)])
    assert completed.returncode == 0, completed.stdout + completed.stderr
    result = read_json(output)
    assert result["status"] == "ok" and len(result["workers"]) == 2
    assert result["scheduler"]["address"].startswith("inproc://")
    assert ":8787" not in (result["scheduler"]["dashboard"] or "")  # the dashboard still on a free port


@pytest.mark.parametrize("arguments, message", [
    (["--cluster-class", "no_such_module:Cluster"], "cannot import no_such_module"),
    (["--cluster-class", "distributed:NoSuchCluster"], "has no cluster class NoSuchCluster"),
    (["--cluster-class", "distributed:LocalCluster", "--cluster-kwargs", "{not json"], "--cluster-kwargs"),
    (["--cluster-class", "distributed:LocalCluster", "--cluster-kwargs", "[1, 2]"], "mapping"),
    (["--cluster-kwargs", "{}"], "goes with --cluster-class"),
    (["--scheduler-file", "/no/such/scheduler.json"], "no such file"),
    (["--scheduler-address", "tcp://x:1", "--cluster-class", "distributed:LocalCluster"], "not allowed"),
])
def test_bad_cluster_options_are_usage_errors(arguments, message):
    assert_usage_error(run_tool([DISTRIBUTED_TOOL, *arguments], timeout=60), message, stdout_empty=False)


def test_worker_start_failure_of_a_manager_fails_fast(tmp_path):
    started = time.monotonic()
    completed = run_tool([DISTRIBUTED_TOOL, "-w", "1", "--cluster-class", "distributed:LocalCluster",
                          "--cluster-kwargs", '{"no_such_argument": 1}', "-o", str(tmp_path / "r.json")])
    assert completed.returncode == 1
    assert time.monotonic() - started < 40  # not the whole 60 s timeout
    assert "no_such_argument" in read_json(tmp_path / "r.json")["error"]


def slurm_is_up() -> bool:
    if shutil.which("sinfo") is None:
        return False
    states = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=10).stdout.split()
    return any(state in ("idle", "mixed", "allocated") for state in states)


def our_jobs() -> list[str]:
    return subprocess.run(["squeue", "-h", "-n", "dask-worker", "-o", "%i"], capture_output=True, text=True,
                          timeout=10).stdout.split()


def jobs_left(within: float = 20) -> list[str]:
    """Our jobs still in the queue ``within`` seconds from now (a cancelled job is listed while Slurm ends it)."""
    deadline = time.monotonic() + within
    while (left := our_jobs()) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


slurm = pytest.mark.skipif(not slurm_is_up(), reason="no Slurm here (scripts/start_slurm.sh starts one; CI does)")
SLURM_KWARGS = json.dumps({"cores": 1, "processes": 1, "memory": "1GB", "walltime": "00:10:00",
                           "python": sys.executable})


@slurm
def test_slurm_cluster_separates_queue_wait_from_dask(tmp_path):
    output = tmp_path / "slurm.json"
    completed = run_tool([DISTRIBUTED_TOOL, "-w", "2", "--cluster-class", "dask_jobqueue:SLURMCluster",
                          "--cluster-kwargs", SLURM_KWARGS, "--batch", "0", "-o", str(output)], timeout=200)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    result = read_json(output)
    assert len(result["workers"]) == 2
    # the workers listen where the scheduler does (--host, 127.0.0.1 by default), not on every interface
    assert all(worker["address"].startswith("tcp://127.0.0.1:") for worker in result["workers"])
    jobs = result["jobs"]
    assert len(jobs) == 2 and len({job["job_id"] for job in jobs}) == 2
    for job in jobs:
        assert job["queue_wait"] >= 0
        assert job["submitted_at"] <= job["started_at"]
        assert 0 < job["start_to_registered"] < result["total_time"] + 1  # Slurm's whole seconds
    assert "queued" in completed.stdout and "running to registered" in completed.stdout
    assert jobs_left() == []


@slurm
def test_slurm_workers_have_their_waterfall_from_the_queue_to_the_registration(tmp_path):
    output = tmp_path / "slurm.json"
    completed = run_tool([DISTRIBUTED_TOOL, "-w", "2", "--cluster-class", "dask_jobqueue:SLURMCluster",
                          "--cluster-kwargs", SLURM_KWARGS, "--batch", "0", "--import-profile", "-o", str(output)],
                         timeout=200)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    result = read_json(output)
    requested = result["arrivals"]["requested_at"]
    for worker in result["workers"]:
        record = worker["waterfall"]
        boundaries = record["boundaries"]
        # every boundary up to the registration: the batch job, its nanny's process, the worker's process
        assert list(boundaries)[:8] == list(WORKER_BOUNDARIES[:8])
        assert list(boundaries.values()) == sorted(boundaries.values())
        assert boundaries["requested"] == requested and boundaries["registered"] == worker["arrival_time"]
        assert math.isclose(sum(record["phases"].values()), record["registration_time"], abs_tol=0.005)
        job = next(job for job in result["jobs"] if worker["name"].startswith(job["worker"]))
        assert boundaries["job_running"] == max(job["started_at"], requested)  # Slurm's whole second, in order
        assert record["clock"] == "same"  # the jobs run on this machine
    assert "queue" in result["worker_phases"] and "launch" in result["worker_phases"]
    assert "distributed" in [entry["module"] for entry in result["import_profile"]["top"]]
    assert "Submission and queue" in completed.stdout
    assert jobs_left() == []


@slurm
def test_slurm_jobs_are_cancelled_on_sigterm(tmp_path):
    tool = subprocess.Popen([sys.executable, DISTRIBUTED_TOOL, "-w", "2", "--cluster-class",
                             "dask_jobqueue:SLURMCluster", "--cluster-kwargs", SLURM_KWARGS, "--timeout", "120"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for line in tool.stdout:
            if "Waiting for 2 workers" in line:
                break
        deadline = time.monotonic() + 30
        while len(our_jobs()) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(our_jobs()) == 2
        tool.send_signal(signal.SIGTERM)
        tool.communicate(timeout=60)
    finally:
        if tool.poll() is None:
            tool.kill()
    assert tool.returncode == 143
    assert jobs_left() == []


@slurm
def test_slurm_study_sweeps_workers_with_the_weak_scaling_workload(tmp_path):
    completed = run_tool([STUDY, "--type", "slurm", "-w", "1,2", "-r", "1", "--workload", "weak-array",
                          "--workload-chunk", "200", "-o", str(tmp_path)], timeout=220)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    results = [read_json(path) for path in sorted(tmp_path.glob("slurm_w*_run001_*.json"))]
    assert [result["config"]["n_workers"] for result in results] == [1, 2]
    assert all(result["jobs"] for result in results)
    assert all(result["workload_weak_array_time"] > 0 for result in results)
    assert "SCALING WITH THE NUMBER OF WORKERS" in completed.stdout and "weak scaling" in completed.stdout
    assert jobs_left() == []


def test_study_of_any_cluster_manager(tmp_path):
    completed = run_tool([STUDY, "--type", "cluster", "--cluster-class", "distributed:LocalCluster",
                          "--cluster-kwargs", '{"threads_per_worker": 1}', "-w", "1", "-r", "1",
                          "-o", str(tmp_path)], timeout=200)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    (result,) = [read_json(path) for path in tmp_path.glob("cluster_w1_*_run001_*.json")]
    assert result["kind"] == "cluster" and result["config"]["cluster_class"] == "distributed:LocalCluster"


@slurm
def test_a_timeout_while_jobs_are_queued_says_so(tmp_path):
    """More worker jobs than the partition has CPUs: the failure names the queue, not just the timeout."""
    output = tmp_path / "queued.json"
    partition_cpus = int(subprocess.run(["sinfo", "-h", "-o", "%C"], capture_output=True, text=True,
                                        check=True).stdout.split("/")[-1])
    completed = run_tool([DISTRIBUTED_TOOL, "-w", str(partition_cpus + 1), "--cluster-class",
                          "dask_jobqueue:SLURMCluster", "--cluster-kwargs", SLURM_KWARGS, "--batch", "0",
                          "--timeout", "15", "-o", str(output)], timeout=200)
    assert completed.returncode == 1
    error = read_json(output)["error"]
    assert "still queued in Slurm" in error and "(Resources)" in error and f"{partition_cpus} CPUs" in error
    assert jobs_left() == []
