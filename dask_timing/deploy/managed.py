"""Child processes that cannot outlive the run that started them.

Every scheduler and worker the tools start runs in a process group of its own,
with its output in a log file.  What stops them, by the way the run ends:

* teardown (``kill_now`` for a cluster's processes, ``terminate`` for a run
  that should save its result first): every normal end, errors and the first
  stop signal included;
* a registry of live processes, killed at interpreter exit (``atexit``): an
  exception that skipped teardown;
* the reaper (``reaper``): the driver killed with SIGKILL, by the OOM killer
  or a crash, at any moment; it finds every process the driver started,
  grandchildren included;
* Dask's own death timeout, for workers that lose their scheduler: code that
  uses these classes without a command, so without a reaper.

There is no parent-death signal (``PR_SET_PDEATHSIG``): it reached only the
direct children, which the reaper finds too, and setting it in the child
(``preexec_fn``) made every start fork the whole driver instead of using
vfork, about 4 ms per process inside the timed phases.
"""

from __future__ import annotations

import atexit
import os
import signal
import subprocess
import time
from typing import Iterable, Sequence

import psutil

from dask_timing.deploy.reaper_process import CLEANUP_GRACE, cleans_up_after_others
from dask_timing.record.dask_log import log_tail

# How often teardown checks whether signalled processes are gone.
_EXIT_POLL_INTERVAL = 0.005

_registry: set["ManagedProcess"] = set()


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
        return log_tail(self.log_path, lines) or ""

    def failure(self, what: str) -> ChildFailed:
        """An error saying ``what`` happened to this process, with its log's tail."""
        tail = self.log_tail()
        detail = f"\n--- last lines of {self.log_path} ---\n{tail}" if tail else ""
        return ChildFailed(f"{self.name} {what} (log: {self.log_path}){detail}")

    def family(self) -> list[psutil.Process]:
        """The process and all its descendants that are alive now."""
        return families([self])


def families(managed: Iterable[ManagedProcess]) -> list[psutil.Process]:
    """The processes and all their descendants alive now, from one pass over the process table.

    (``psutil.Process.children`` makes a pass per call: 9 calls cost about 50 ms of a teardown.)
    """
    children: dict[int, list[psutil.Process]] = {}
    by_pid: dict[int, psutil.Process] = {}
    for process in psutil.process_iter(["ppid"]):
        by_pid[process.pid] = process
        children.setdefault(process.info["ppid"], []).append(process)
    found = [by_pid[child.pid] for child in managed if child.pid in by_pid]
    for process in found:  # grows while it is walked: breadth first
        found.extend(children.get(process.pid, []))
    return found


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


def _cleans_up(process: psutil.Process) -> bool:
    try:
        return cleans_up_after_others(" ".join(process.cmdline()))
    except psutil.Error:  # gone already
        return False


def _escalate(managed: Sequence[ManagedProcess], members: list[psutil.Process], grace: float,
              kill_grace: float) -> list[int]:
    """Wait ``grace`` for the signalled members, SIGKILL whatever lives on; return pids that survived."""
    alive = _wait_gone(managed, members, grace)
    if alive:
        _signal_all(managed, alive, signal.SIGKILL)
        alive = _wait_gone(managed, alive, kill_grace)
    for child in managed:
        _registry.discard(child)
    return [process.pid for process in alive]


def terminate(managed: Sequence[ManagedProcess], grace: float = 3.0, kill_grace: float = 2.0) -> list[int]:
    """Stop every process and its descendants; return pids that survived SIGKILL.

    All groups get SIGTERM at once and share one ``grace`` deadline; whatever
    still lives then gets SIGKILL and ``kill_grace`` more seconds.  For a
    process that has something to finish, such as a run saving its result.
    """
    members = families(managed)
    _signal_all(managed, members, signal.SIGTERM)
    return _escalate(managed, members, grace, kill_grace)


def kill_now(managed: Sequence[ManagedProcess], cleanup_grace: float = CLEANUP_GRACE,
             kill_grace: float = 2.0) -> list[int]:
    """Stop every process and its descendants at once with SIGKILL; return pids that survived.

    For a cluster whose measurements are taken: a Dask scheduler or nanny
    spends its graceful exit mostly tearing its interpreter down (about 0.1 s
    of CPU each, 0.8 s for 8 workers on 2 cores), and worker processes die
    on SIGTERM's default action anyway.  Multiprocessing's resource trackers
    are spared: they unlink the semaphores of their killed owners once the
    last of them is gone, then exit; one still there after ``cleanup_grace``
    is killed with the rest of its group.
    """
    members = families(managed)
    _signal_all((), [process for process in members if not _cleans_up(process)], signal.SIGKILL)
    return _escalate(managed, members, cleanup_grace, kill_grace)


@atexit.register
def kill_all() -> None:
    """Last resort (interpreter exit, a second Ctrl-C): nothing started may survive."""
    if _registry:
        terminate(list(_registry), grace=0.5, kill_grace=1.0)
