"""Managed child processes: whole trees stopped, SIGTERM escalated to SIGKILL, bounded waits."""

from __future__ import annotations

import time

import pytest
from conftest import is_alive

from dask_timing.deploy.managed import ManagedProcess, terminate

pytestmark = pytest.mark.timeout(60)


def start(tmp_path, name: str, script: str) -> ManagedProcess:
    process = ManagedProcess(name, ["bash", "-c", script], str(tmp_path / f"{name}.log"))
    process.start()
    time.sleep(0.3)  # let the children start
    return process


def test_terminate_stops_a_whole_tree_at_once(tmp_path):
    processes = [start(tmp_path, f"tree-{index}", "sleep 300 & sleep 300 & wait") for index in range(8)]
    members = [member.pid for process in processes for member in process.family()]
    assert len(members) == 24
    began = time.monotonic()
    survivors = terminate(processes, grace=3.0)
    assert survivors == []
    assert time.monotonic() - began < 1.0  # signalled together, not one after another
    assert not any(is_alive(pid) for pid in members)


def test_terminate_escalates_to_sigkill(tmp_path):
    stubborn = start(tmp_path, "stubborn", "trap '' TERM; sleep 300 & trap '' TERM; wait; sleep 300")
    members = [member.pid for member in stubborn.family()]
    began = time.monotonic()
    assert terminate([stubborn], grace=0.5, kill_grace=2.0) == []
    assert 0.5 <= time.monotonic() - began < 3.0
    assert not any(is_alive(pid) for pid in members)


def test_log_tail_is_kept_for_failures(tmp_path):
    failing = ManagedProcess("failing", ["bash", "-c", "for i in $(seq 30); do echo line $i; done; exit 3"],
                             str(tmp_path / "failing.log"))
    failing.start()
    failing.popen.wait(10)
    error = failing.failure("exited with code 3")
    assert "line 30" in str(error) and "line 10" not in str(error)
    assert str(tmp_path / "failing.log") in str(error)
