"""The reaper's program: wait for the command's process to end, then kill every process it started.

It runs as ``python -I -S reaper_process.py TOKEN PID START_TIME`` (see
``reaper`` for why and how it is started), so it imports the standard library
only, and nothing of Dask or of this package.  A command that ends on its own
terms kills its reaper first, so the reaper acts only when the command died.

The command's processes are the ones that are provably its own:

* a process whose environment carries the command's token in ``MARKER``: the
  command adds the token to its own environment before it starts anything, and
  every exec'd descendant (spawn and forkserver workers, ``dask worker`` and
  its nanny's worker process, pool workers, nested runs) inherits it and shows
  it in ``/proc/PID/environ``;
* a process holding the command's pipe (the reaper's stdin): the pipe is
  close-on-exec, so only processes forked without exec (``--start-method
  fork``) have it, and their ``/proc/PID/environ`` still shows the command's
  environment from before the token was added.

It scans and kills until two scans in a row find nothing (a process may be
forking as it is killed), within ``SWEEP_BOUND`` seconds.  Multiprocessing's
resource trackers are let go on their own for up to ``CLEANUP_GRACE``: they
unlink the semaphores their killed owners leaked once the last owner is gone.
"""

from __future__ import annotations

import os
import select
import signal
import sys
import time

# The environment variable with the tokens of the runs a process belongs to,
# space-separated (a study's token, then its run's).  Not DASK_*: Dask reads
# every DASK_* variable into its configuration.
MARKER = "DASKTIMING_RUNS"
# Seconds the reaper keeps killing before it gives up on what is left.
SWEEP_BOUND = 4.0
# Seconds resource trackers get to exit on their own once the killing starts.
CLEANUP_GRACE = 2.0
# Pause between two scans while killing (killed processes need a moment to go).
SCAN_INTERVAL = 0.02
# Without pidfds (Linux before 5.3): how often the reaper checks that its parent lives.
FALLBACK_CHECK_MS = 100
# Processes that clean up after others when those end: multiprocessing's resource tracker.
CLEANER_COMMAND = "multiprocessing.resource_tracker"


def cleans_up_after_others(command_line: str) -> bool:
    """True for a process that should outlive its owners a moment, to clean up for them."""
    return CLEANER_COMMAND in command_line


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as stream:
            return stream.read()
    except OSError:  # gone, or not ours to read
        return b""


def start_time(pid: int) -> int | None:
    """When the process started, in clock ticks since boot (``/proc/PID/stat`` field 22)."""
    stat = _read(f"/proc/{pid}/stat")
    fields = stat[stat.rfind(b")") + 2:].split()  # after the command name, which may hold spaces
    return int(fields[19]) if len(fields) > 19 else None


class Sweep:
    """What identifies the dead command's processes, and the killing of them."""

    def __init__(self, token: str, driver: int, driver_started: int, pipe: str) -> None:
        self.token = token.encode()
        self.driver = driver
        self.driver_started = driver_started
        self.pipe = pipe  # the command's pipe as /proc/PID/fd shows it: "pipe:[inode]"

    def carries_token(self, pid: int) -> bool:
        for entry in _read(f"/proc/{pid}/environ").split(b"\0"):
            name, _, value = entry.partition(b"=")
            if name == MARKER.encode():
                return self.token in value.split()
        return False

    def holds_pipe(self, pid: int) -> bool:
        started = start_time(pid)
        if started is None or started < self.driver_started:
            return False  # not started after the command: none of its fork children
        try:
            descriptors = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            return False
        for descriptor in descriptors:
            try:
                if os.readlink(f"/proc/{pid}/fd/{descriptor}") == self.pipe:
                    return True
            except OSError:
                continue
        return False

    def is_ours(self, pid: int) -> bool:
        return pid not in (os.getpid(), self.driver) and (self.carries_token(pid) or self.holds_pipe(pid))

    def find(self) -> list[int]:
        return [int(name) for name in os.listdir("/proc") if name.isdigit() and self.is_ours(int(name))]

    def kill(self, pid: int) -> bool:
        """SIGKILL ``pid`` if it is still ours, pinned by a pidfd so a reused pid is never hit."""
        try:
            pidfd = os.pidfd_open(pid)
        except ProcessLookupError:
            return False
        except (AttributeError, OSError):  # no pidfds here: a plain kill right after the check
            pidfd = None
        try:
            if not self.is_ours(pid):
                return False
            if pidfd is None:
                os.kill(pid, signal.SIGKILL)
            else:
                signal.pidfd_send_signal(pidfd, signal.SIGKILL)
            return True
        except ProcessLookupError:
            return False
        finally:
            if pidfd is not None:
                os.close(pidfd)

    def run(self) -> tuple[set[int], list[int]]:
        """Kill until nothing of ours is left or SWEEP_BOUND passes; return the killed and the left."""
        began = time.monotonic()
        killed: set[int] = set()
        quiet_scans = 0
        while quiet_scans < 2 and time.monotonic() - began < SWEEP_BOUND:
            found = self.find()
            quiet_scans = 0 if found else quiet_scans + 1
            cleaners_wait = time.monotonic() - began < CLEANUP_GRACE
            for pid in found:
                command = _read(f"/proc/{pid}/cmdline").replace(b"\0", b" ").decode(errors="replace")
                if cleaners_wait and cleans_up_after_others(command):
                    continue
                if self.kill(pid):
                    killed.add(pid)
            time.sleep(SCAN_INTERVAL)
        return killed, [] if quiet_scans == 2 else self.find()


def wait_for_death(driver: int) -> None:
    """Block until the command's process has ended (a pidfd, else the pipe's end or the parent's change)."""
    try:
        pidfd = os.pidfd_open(driver)
    except (AttributeError, OSError):
        pidfd = None
    if os.getppid() != driver:  # it ended before the pidfd was opened
        return
    poller = select.poll()
    poller.register(0, select.POLLIN)  # only the pipe's end (EOF) ever comes: nothing is written
    if pidfd is not None:
        poller.register(pidfd, select.POLLIN)
    while not poller.poll(None if pidfd is not None else FALLBACK_CHECK_MS):
        if os.getppid() != driver:
            return


def main(argv: list[str]) -> int:
    token, driver, driver_started = argv[1], int(argv[2]), int(argv[3])
    pipe = os.readlink("/proc/self/fd/0")
    wait_for_death(driver)
    killed, left = Sweep(token, driver, driver_started, pipe).run()
    if killed or left:
        unkilled = f"; {len(left)} could not be killed: {left}" if left else ""
        try:
            print(f"dask-timing reaper: process {driver} died before its teardown; killed the "
                  f"{len(killed)} process(es) it had started{unkilled}", file=sys.stderr, flush=True)
        except OSError:  # nobody reads our stderr any more
            pass
    return 1 if left else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
