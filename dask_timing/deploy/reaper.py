"""Nothing a command started outlives the command, even when it is killed with SIGKILL.

Teardown and the ``atexit`` backstop (``managed``) need a living interpreter:
none of it runs in a process killed with SIGKILL, by the OOM killer or by a
crash, and the kernel's parent-death signal would reach only direct
children, not the worker processes that nannies, LocalCluster and process
pools start.  So every command that starts processes first starts a reaper:
a small program (``reaper_process``: standard library only, run as
``python -I -S``, about 15 ms on another core, no Dask, before any timing
starts) with a pipe from the command as its stdin.  It sleeps until the
command's process ends (no CPU while runs are timed), then kills every
process the command started, grandchildren included, within seconds.  A
command that ends on its own terms has torn everything down already: it
kills its reaper on the way out.

The command marks its environment with a token before it starts anything, so
its processes can be told from everyone else's, other runs included;
``reaper_process`` says how they are recognised.  Linux only (``/proc``):
elsewhere the commands run without a reaper.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable

from dask_timing.deploy import reaper_process
from dask_timing.deploy.reaper_process import MARKER, start_time


class Reaper:
    """The command's end of its reaper: started before anything else, dismissed when the command returns."""

    def __init__(self, process: subprocess.Popen, pipe: int) -> None:
        self.process = process
        self.pipe = pipe  # kept open until the end: the reaper's stdin, and the mark of fork children

    @classmethod
    def start(cls) -> Reaper | None:
        """Start a reaper for this process and mark its environment; None where there is no /proc."""
        if not sys.platform.startswith("linux"):
            return None
        token = os.urandom(8).hex()
        read_end, write_end = os.pipe()  # close-on-exec: only children forked without exec inherit it
        command = [sys.executable, "-I", "-S", reaper_process.__file__, token, str(os.getpid()),
                   str(start_time(os.getpid()))]
        try:  # in a session of its own: a terminal's Ctrl-C or hangup is not for it
            process = subprocess.Popen(command, stdin=read_end, stdout=subprocess.DEVNULL, start_new_session=True)
        except OSError as error:
            os.close(write_end)
            print(f"dask-timing: warning: no reaper ({error}); processes may outlive a killed run", file=sys.stderr)
            return None
        finally:
            os.close(read_end)
        earlier = os.environ.get(MARKER)
        os.environ[MARKER] = f"{earlier} {token}" if earlier else token
        return cls(process, write_end)

    def dismiss(self) -> None:
        """The command ended on its own terms: stop the reaper (it holds nothing, so it is simply killed)."""
        self.process.kill()
        self.process.wait()
        os.close(self.pipe)


def run_watched(work: Callable[[], int]) -> int:
    """Run ``work()`` with a reaper watching this process; its return (or sys.exit) dismisses the reaper.

    Any other exception leaves the reaper armed: it kills what is left once this process has ended.
    """
    reaper = Reaper.start()
    dismiss = reaper.dismiss if reaper is not None else (lambda: None)
    try:
        code = work()
    except SystemExit:
        dismiss()
        raise
    dismiss()
    return code
