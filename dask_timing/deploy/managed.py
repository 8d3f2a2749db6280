"""Child processes that cannot outlive the run that started them.

Every scheduler and worker the tools start runs in a process group of its own,
with its output in a log file.  Teardown signals all groups at once, waits
with one bounded deadline, and escalates from SIGTERM to SIGKILL.  Three
backstops cover the paths where teardown never runs:

* a registry of live processes, killed at interpreter exit (``atexit``);
* on Linux, ``PR_SET_PDEATHSIG``: the kernel sends SIGTERM to a child whose
  parent dies, even when the parent was killed with SIGKILL;
* Dask's own death timeout for workers that lose their scheduler.
"""

from __future__ import annotations

import atexit
import ctypes
import os
import signal
import subprocess
import sys
import time
from collections import deque
from typing import Iterable, Sequence

import psutil

# How often teardown checks whether signalled processes are gone.
_EXIT_POLL_INTERVAL = 0.005
_PR_SET_PDEATHSIG = 1

_registry: set["ManagedProcess"] = set()


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """In the child, before exec: ask the kernel for SIGTERM when the parent dies."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


class ChildFailed(RuntimeError):
    """A child process failed; the message carries the tail of its log."""


class ManagedProcess:
    """One child process in its own process group, logging to a file."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log_path: str,
        env: dict[str, str] | None = None,
        cwd: str | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self.env = env
        self.cwd = cwd
        self.popen: subprocess.Popen | None = None

    def start(self) -> None:
        """Launch the process; its stdout and stderr go to its log file."""
        with open(self.log_path, "ab") as log:
            self.popen = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=self.cwd,
                start_new_session=True,
                preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
            )
        _registry.add(self)

    @property
    def pid(self) -> int | None:
        return None if self.popen is None else self.popen.pid

    def exit_code(self) -> int | None:
        """The exit code if the process has ended, else None."""
        return None if self.popen is None else self.popen.poll()

    def log_tail(self, lines: int = 20) -> str:
        """The last lines of the process's log, for error messages."""
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as log:
                return "".join(deque(log, maxlen=lines)).rstrip()
        except OSError:
            return ""

    def failure(self, what: str) -> ChildFailed:
        """An error saying ``what`` happened to this process, with its log's tail."""
        tail = self.log_tail()
        detail = f"\n--- last lines of {self.log_path} ---\n{tail}" if tail else ""
        return ChildFailed(f"{self.name} {what} (log: {self.log_path}){detail}")

    def family(self) -> list[psutil.Process]:
        """The process and all its descendants that are alive now."""
        if self.pid is None:
            return []
        try:
            root = psutil.Process(self.pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []


def _is_gone(process: psutil.Process) -> bool:
    try:
        return process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _signal_all(managed: Iterable[ManagedProcess], members: Iterable[psutil.Process], sig: int) -> None:
    for child in managed:
        if child.pid is not None:
            try:
                os.killpg(child.pid, sig)  # the child leads its own group
            except (ProcessLookupError, PermissionError):
                pass
    for process in members:  # descendants that may have left the group
        try:
            process.send_signal(sig)
        except psutil.NoSuchProcess:
            pass


def _wait_gone(managed: Sequence[ManagedProcess], members: list[psutil.Process], timeout: float) -> list[psutil.Process]:
    """Wait until every member is gone or ``timeout`` passes; return the living."""
    deadline = time.monotonic() + timeout
    alive = members
    while True:
        for child in managed:  # reap our direct children so they do not linger as zombies
            if child.popen is not None:
                child.popen.poll()
        alive = [process for process in alive if not _is_gone(process)]
        if not alive or time.monotonic() >= deadline:
            return alive
        time.sleep(_EXIT_POLL_INTERVAL)


def terminate(managed: Sequence[ManagedProcess], grace: float = 3.0, kill_grace: float = 2.0) -> list[int]:
    """Stop every process and its descendants; return pids that survived SIGKILL.

    All groups get SIGTERM at once and share one ``grace`` deadline; whatever
    still lives then gets SIGKILL and ``kill_grace`` more seconds.
    """
    members = [process for child in managed for process in child.family()]
    _signal_all(managed, members, signal.SIGTERM)
    alive = _wait_gone(managed, members, grace)
    if alive:
        _signal_all(managed, alive, signal.SIGKILL)
        alive = _wait_gone(managed, alive, kill_grace)
    for child in managed:
        _registry.discard(child)
    return [process.pid for process in alive]


@atexit.register
def kill_all() -> None:
    """Last resort (interpreter exit, a second Ctrl-C): nothing started may survive."""
    if _registry:
        terminate(list(_registry), grace=0.5, kill_grace=1.0)
