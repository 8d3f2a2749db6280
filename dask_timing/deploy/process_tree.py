"""A helper command and everything it starts, ended together.

pip, asked to install into another environment (``pip --python``), runs itself
again under that interpreter: killing pip alone leaves its copy writing into a
folder the caller has just removed.  A command run here is the leader of a
process group of its own, so a signal sent to the caller's process only (as a
job runner sends it) reaches the command through the caller, and a timeout, an
error or a signal ends the whole group, and any descendant that left it, before
the caller goes on.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from typing import Sequence

import psutil

KILL_WAIT = 5.0  # seconds for the killed processes to be gone


def run_tree(command: Sequence[str], timeout: float | None = None) -> subprocess.CompletedProcess:
    """``subprocess.run`` (text output captured, no input), the command in a process group of its own that
    is killed whole, and waited for, if the wait ends any other way than with the command's exit."""
    process = subprocess.Popen(list(command), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               stdin=subprocess.DEVNULL, text=True, start_new_session=True)
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except BaseException:  # a timeout, an error, Ctrl-C or a handled signal: nothing it started is left
        kill_tree(process)
        raise
    return subprocess.CompletedProcess(list(command), process.returncode, stdout, stderr)


def kill_tree(process: subprocess.Popen) -> None:
    """SIGKILL the process's group and every descendant (one that started a session of its own too); wait."""
    try:
        members = psutil.Process(process.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        members = []
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    for member in members:
        with contextlib.suppress(psutil.NoSuchProcess):
            member.kill()
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.communicate(timeout=KILL_WAIT)
    psutil.wait_procs(members, timeout=KILL_WAIT)
