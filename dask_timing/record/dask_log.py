"""Dask's own log lines go to the run's log file, not the terminal.

When a scheduler dies mid-run, distributed logs dozens of lines and several
tracebacks from the client, the nannies and the workers; a person needs one
line that says what happened and where the full logs are.  During a run the
process's standard error (file descriptor 2, which spawned worker processes
inherit and distributed's log handlers write to) is pointed at a log file in
the run's work folder; the tool's own messages keep the terminal through a
copy of the original descriptor.  ``--verbose`` leaves everything on the
terminal.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections import deque
from typing import Iterator, TextIO

from dask_timing.record.text import PrintableStream

LOG_NAME = "dask.log"


@contextlib.contextmanager
def diverted_stderr(folder: str) -> Iterator[str]:
    """Send everything written to standard error, ours excepted, to ``folder/dask.log``; yield its path."""
    path = os.path.join(folder, LOG_NAME)
    sys.stderr.flush()
    saved = os.dup(2)
    original: TextIO = sys.stderr
    log = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o666)
    os.dup2(log, 2)
    os.close(log)
    sys.stderr = PrintableStream(os.fdopen(os.dup(saved), "w", buffering=1, encoding=original.encoding,
                                           errors="backslashreplace"))
    try:
        yield path
    finally:
        sys.stderr.flush()
        ours = sys.stderr
        sys.stderr = original
        os.dup2(saved, 2)
        os.close(saved)
        ours.close()


def log_tail(path: str, lines: int = 20) -> str | None:
    """The last lines of a log file, for error messages; None when it cannot be read."""
    try:
        with open(path, encoding="utf-8", errors="replace") as log:
            return "".join(deque(log, maxlen=lines)).rstrip()
    except OSError:
        return None
