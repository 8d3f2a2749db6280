"""Helpers for tests that run the tools as users do: as scripts, in fresh processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import psutil
import pytest

REPOSITORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LOCAL_TOOL = os.path.join(REPOSITORY, "time_local_cluster.py")
DISTRIBUTED_TOOL = os.path.join(REPOSITORY, "time_scheduler_workers.py")
ANALYZER = os.path.join(REPOSITORY, "analyze_results.py")
COMPARE_SCHEDULERS = os.path.join(REPOSITORY, "compare_schedulers.py")
STUDY = os.path.join(REPOSITORY, "run_timing_study.sh")
DASK_PROCESS_MARKERS = ("distributed.cli", "multiprocessing.spawn", "multiprocessing.forkserver", "distributed.nanny")

sys.path.insert(0, REPOSITORY)

from dask_timing.deploy.reaper_process import MARKER  # noqa: E402

# Every process these tests start carries this token in the runs' marker (the tools add their own after
# it): the leftover checks look at this session's processes only, never at another session's on the machine.
SESSION_TOKEN = f"tests-{os.getpid()}-{os.urandom(4).hex()}"
os.environ[MARKER] = f"{os.environ[MARKER]} {SESSION_TOKEN}" if os.environ.get(MARKER) else SESSION_TOKEN


def run_tool(args: list[str], cwd: str | None = None, timeout: float = 120,
             env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run a repository script or the study wrapper; capture its output (``env``: variables to add)."""
    command = args if args[0].endswith(".sh") else [sys.executable, *args]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
                          env={**os.environ, **env} if env else None)


def signal_at(process: subprocess.Popen, marker: str, signum: int = signal.SIGTERM,
              timeout: float = 90) -> tuple[list[int], str, str | None]:
    """Send ``signum`` when ``marker`` is printed; return the processes it had then, and its output
    (stderr None when it was not piped).  Whatever happens, the process does not outlive the test."""
    seen = []
    try:
        for line in process.stdout:
            seen.append(line)
            if marker in line:
                break
        family = [child.pid for child in psutil.Process(process.pid).children(recursive=True)]
        process.send_signal(signum)
        stdout, stderr = process.communicate(timeout=timeout)
    finally:
        if process.poll() is None:
            process.kill()
    return family, "".join(seen) + stdout, stderr


def read_json(path) -> dict:
    with open(path) as stream:
        return json.load(stream)


def dask_processes() -> dict[int, str]:
    """Scheduler, worker and nanny processes of this test session still alive, by pid."""
    found = {}
    for process in psutil.process_iter(["pid", "cmdline", "status"]):
        try:
            if process.info["status"] == psutil.STATUS_ZOMBIE:
                continue
            command = " ".join(process.info["cmdline"] or [])
            if (any(marker in command for marker in DASK_PROCESS_MARKERS)
                    and SESSION_TOKEN in process.environ().get(MARKER, "").split()):
                found[process.info["pid"]] = command
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def is_alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def wait_until_gone(pids, timeout: float = 10.0) -> set[int]:
    """Wait for processes to end; return the ones still alive after ``timeout``."""
    deadline = time.monotonic() + timeout
    alive = set(pids)
    while alive and time.monotonic() < deadline:
        alive = {pid for pid in alive if is_alive(pid)}
        time.sleep(0.05)
    return {pid for pid in alive if is_alive(pid)}


@pytest.fixture
def no_leftovers():
    """Fail the test if it leaves any new Dask process behind."""
    before = set(dask_processes())
    yield
    new = set(dask_processes()) - before
    survivors = wait_until_gone(new, timeout=10)
    for pid in survivors:
        psutil.Process(pid).kill()
    assert not survivors, f"processes left behind: {survivors}"
