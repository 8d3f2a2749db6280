"""Nothing outlives a driver killed with SIGKILL, at any moment of the run; teardown leaves nothing either.

Each test kills a tool's process with SIGKILL (which no handler sees) at one
moment of its run, then checks that every descendant it had just before the
kill, and every process carrying its reaper's token, is gone within 5 s.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time

import psutil
import pytest
from conftest import (
    COMPARE_SCHEDULERS, DISTRIBUTED_TOOL, LOCAL_TOOL, REPOSITORY, STUDY, is_alive, read_json, wait_until_gone,
)

from dask_timing.deploy.reaper_process import MARKER

GONE_WITHIN = 5.0  # seconds after the SIGKILL
REAPER = "reaper_process.py"
SCHEDULER = "distributed.cli.dask_scheduler"
SPAWNED = "multiprocessing.spawn"  # a worker process started by spawn (a nanny's, a pool's)
TRACKER = "multiprocessing.resource_tracker"

pytestmark = pytest.mark.timeout(90)


class Driver:
    """A tool run as users run it, read line by line, killed at a chosen moment."""

    def __init__(self, arguments: list[str], tmp_path) -> None:
        command = arguments if arguments[0].endswith(".sh") else [sys.executable, *arguments]
        self.stderr_path = tmp_path / "stderr.txt"
        with open(self.stderr_path, "w") as stderr:
            self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, text=True,
                                            stdin=subprocess.DEVNULL, cwd=tmp_path)
        self.output: list[str] = []

    def read_until(self, text: str) -> None:
        for line in self.process.stdout:
            self.output.append(line)
            if text in line:
                return
        pytest.fail(f"the tool ended before printing {text!r}:\n{''.join(self.output)}\n"
                    f"{self.stderr_path.read_text()}")

    def descendants(self) -> list[psutil.Process]:
        return psutil.Process(self.process.pid).children(recursive=True)

    def wait_for(self, fragment: str, count: int = 1, timeout: float = 60) -> None:
        """Wait until ``count`` descendants have ``fragment`` in their command line."""
        deadline = time.monotonic() + timeout
        while len(self.having(fragment)) < count:
            assert time.monotonic() < deadline, f"no {count} x {fragment!r} among {self.commands()}"
            time.sleep(0.01)

    def having(self, fragment: str) -> list[psutil.Process]:
        return [process for process in self.descendants() if fragment in command_of(process)]

    def commands(self) -> list[str]:
        return [command_of(process) for process in self.descendants()]

    def kill_and_check(self, expect: tuple[str, ...] = ()) -> list[str]:
        """SIGKILL the driver; assert all it had started (``expect`` among it) is gone within 5 s."""
        family = self.descendants()  # polled just before the kill
        commands = [command_of(process) for process in family]
        reapers = [process for process in family if REAPER in command_of(process)
                   and process.ppid() == self.process.pid]
        assert len(reapers) == 1, commands
        token = reapers[0].cmdline()[-3]
        for fragment in expect:
            assert any(fragment in command for command in commands), (fragment, commands)
        self.process.kill()
        killed_at = time.monotonic()
        self.process.wait(10)
        survivors = wait_until_gone([process.pid for process in family], timeout=GONE_WITHIN)
        marked = carrying(token, deadline=killed_at + GONE_WITHIN)
        assert not survivors, [command_of(process) for process in family if process.pid in survivors]
        assert not marked, marked
        return commands


def command_of(process: psutil.Process) -> str:
    try:
        return " ".join(process.cmdline())
    except psutil.Error:
        return ""


def carrying(token: str, deadline: float) -> list[int]:
    """Processes whose environment carries ``token``, waiting until there are none or ``deadline``."""
    while True:
        found = []
        for process in psutil.process_iter():
            try:
                if token in process.environ().get(MARKER, "").split() and process.status() != psutil.STATUS_ZOMBIE:
                    found.append(process.pid)
            except psutil.Error:
                continue
        if not found or time.monotonic() >= deadline:
            return found
        time.sleep(0.05)


# --- time_scheduler_workers.py: scheduler and `dask worker` processes, nannies' worker processes ---

def test_processes_killed_while_the_scheduler_starts(tmp_path):
    driver = Driver([DISTRIBUTED_TOOL, "-w", "2"], tmp_path)
    driver.read_until("Starting Dask scheduler")
    driver.wait_for(SCHEDULER)
    driver.kill_and_check(expect=(SCHEDULER,))


def test_processes_killed_while_workers_start(tmp_path):
    driver = Driver([DISTRIBUTED_TOOL, "-w", "2"], tmp_path)
    driver.read_until("Dask workers...")
    driver.wait_for(SPAWNED)  # a nanny's worker process: a grandchild, out of the kernel's parent-death signal's reach
    driver.kill_and_check(expect=(SCHEDULER, "distributed.cli.dask_worker", SPAWNED))


def test_processes_killed_during_the_batch(tmp_path):
    driver = Driver([DISTRIBUTED_TOOL, "-w", "2", "--batch", "5000"], tmp_path)
    driver.read_until("Testing with batch of tasks")
    driver.kill_and_check(expect=(SCHEDULER, SPAWNED, TRACKER))


def test_processes_killed_during_teardown(tmp_path):
    driver = Driver([DISTRIBUTED_TOOL, "-w", "2", "--batch", "0"], tmp_path)
    driver.read_until("Shutting down cluster")
    driver.kill_and_check()


# --- time_local_cluster.py: worker processes started by spawn or fork from the driver itself ---

def local_driver(tmp_path, start_method: str) -> Driver:
    return Driver([LOCAL_TOOL, "-w", "2", "--start-method", start_method], tmp_path)


def worker_mark(driver: Driver, start_method: str) -> str:
    """What a worker process's command line shows: spawn's, or (fork) the driver's own."""
    return SPAWNED if start_method == "spawn" else " ".join(driver.process.args[1:])


@pytest.mark.parametrize("start_method", ["spawn", "fork"])
def test_local_killed_while_workers_start(tmp_path, start_method):
    driver = local_driver(tmp_path, start_method)
    driver.read_until("Waiting for 2 workers")
    driver.wait_for(worker_mark(driver, start_method))
    driver.kill_and_check(expect=(worker_mark(driver, start_method),))


@pytest.mark.parametrize("start_method", ["spawn", "fork"])
def test_local_killed_when_ready(tmp_path, start_method):
    driver = local_driver(tmp_path, start_method)
    driver.read_until("All workers ready")
    driver.wait_for(worker_mark(driver, start_method), count=2)
    driver.kill_and_check()


@pytest.mark.parametrize("start_method", ["spawn", "fork"])
def test_local_killed_during_teardown(tmp_path, start_method):
    driver = local_driver(tmp_path, start_method)
    driver.read_until("Shutting down cluster")
    driver.kill_and_check()


# --- a study, whose runs are processes of their own, and the scheduler comparison ---

def test_study_killed_during_a_run(tmp_path):
    driver = Driver([STUDY, "--type", "distributed", "-w", "1", "--runs", "2", "-o", str(tmp_path / "study")],
                    tmp_path)
    driver.read_until("=== 1/2")
    driver.wait_for(SPAWNED)  # the run's worker process: the study's great-grandchild
    commands = driver.kill_and_check(expect=("dask_timing processes", SCHEDULER, SPAWNED))
    assert sum(REAPER in command for command in commands) == 2  # the study's and its run's


def test_compare_schedulers_killed_during_a_processes_compute(tmp_path):
    driver = Driver([COMPARE_SCHEDULERS, "--schedulers", "processes", "--task-kinds", "sleep", "--tasks", "4",
                     "--task-ms", "20000", "-w", "2", "--runs", "1", "-o", str(tmp_path / "out")], tmp_path)
    driver.read_until("Comparing Dask schedulers")
    driver.wait_for(SPAWNED)  # a worker process of the pool
    driver.kill_and_check(expect=(SPAWNED, TRACKER))


# --- what the reaper recognises, and what it leaves alone ---

WATCHED_DRIVER = """
import os, subprocess, sys, time
sys.path.insert(0, sys.argv[1])
from dask_timing.deploy.reaper import run_watched

def work():
    subprocess.Popen(["sleep", "300"])  # exec'd: carries the token
    subprocess.Popen(["bash", "-c", "sleep 300 & wait"], start_new_session=True)  # a grandchild, another session
    if os.fork() == 0:  # forked without exec: holds the pipe, its environ shows no token
        time.sleep(300)
        os._exit(0)
    print("started", flush=True)
    time.sleep(300)
    return 0

sys.exit(run_watched(work))
"""


def test_reaper_kills_exec_fork_and_grandchildren_and_nothing_else(tmp_path):
    bystanders = [  # the same programs: one marked for another run, one unmarked
        subprocess.Popen(["sleep", "300"], env={MARKER: "0123456789abcdef"}),
        subprocess.Popen(["bash", "-c", "sleep 300 & wait"], start_new_session=True),
    ]
    try:
        driver = Driver(["-c", WATCHED_DRIVER, REPOSITORY], tmp_path)
        driver.read_until("started")
        deadline = time.monotonic() + 10  # bash starts its sleep on its own time
        while len(driver.descendants()) < 5 and time.monotonic() < deadline:
            time.sleep(0.05)
        commands = driver.kill_and_check(expect=("sleep 300", "bash -c sleep 300 & wait", "import os, subprocess"))
        assert len(commands) == 5  # the reaper, sleep, bash and its sleep, the fork child
        assert all(process.poll() is None for process in bystanders)
        assert "killed the 4 process(es)" in driver.stderr_path.read_text()
    finally:
        for process in bystanders:
            process.kill()
            process.wait()


# --- only the dead run's processes go ---

def test_a_killed_run_takes_nothing_of_another_run_along(tmp_path):
    """Two runs with the same command line (fork: workers marked only by their driver's pipe); one is killed."""
    arguments = [LOCAL_TOOL, "-w", "1", "--start-method", "fork", "--batch", "3000", "-o", "result.json"]
    (tmp_path / "killed").mkdir()
    (tmp_path / "kept").mkdir()
    killed = Driver(arguments, tmp_path / "killed")
    kept = Driver(arguments, tmp_path / "kept")
    for driver in (killed, kept):
        driver.read_until("All workers ready")
    killed.kill_and_check()
    assert kept.process.wait(60) == 0, kept.stderr_path.read_text()
    assert read_json(tmp_path / "kept" / "result.json")["status"] == "ok"


# --- teardown: fast, and complete when close() returns ---

@pytest.mark.usefixtures("no_leftovers")
def test_teardown_leaves_nothing_and_lets_resource_trackers_clean_up(tmp_path):
    from distributed import Client

    from dask_timing.deploy.base import LaunchSettings
    from dask_timing.deploy.processes import SeparateProcessDeployment

    async def run() -> tuple[list[psutil.Process], list[str], list[int]]:
        launch = LaunchSettings(threads_per_worker=1, workdir=str(tmp_path), host="127.0.0.1")
        deployment = SeparateProcessDeployment(launch, death_timeout=60)
        await deployment.start_scheduler()
        async with Client(deployment.address, asynchronous=True) as client:
            await deployment.request_workers(2)
            await client.wait_for_workers(2)
        family = [process for started in [deployment.scheduler, *deployment.workers] for process in started.family()]
        return family, [command_of(process) for process in family], await deployment.close()

    family, commands, survivors = asyncio.run(run())
    assert survivors == []
    assert sum(TRACKER in command for command in commands) == 2
    assert sum(SPAWNED in command for command in commands) == 2
    assert not [process.pid for process in family if is_alive(process.pid)]  # gone when close() returned
    assert not (tmp_path / "scheduler.json").exists()
    for index in range(2):  # each tracker outlived its killed nanny to unlink the semaphores it had left
        assert "leaked semaphore objects to clean up" in (tmp_path / f"worker-{index}.log").read_text()
