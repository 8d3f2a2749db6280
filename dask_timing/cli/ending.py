"""How a command's process ends: what the command made is left to the operating system, not freed one by one.

At its exit the interpreter frees every object the process still holds, one at
a time: for the analyzer's summary of 100,000 runs, millions of small objects,
about a twentieth of its time, after the summary is printed.  A command that
is its process's main keeps what it made (``keep_to_the_end``) and the process
ends with ``os._exit`` once the exit handlers have run and the streams are
flushed, as mypy ends its own runs.  Called from Python instead, a command
keeps nothing and frees what it made as it returns.
"""

from __future__ import annotations

import atexit
import os
import sys
from typing import Any, Callable, NoReturn

_kept: list[Any] | None = None  # a list while a command runs as its process's main


def keep_to_the_end(*objects: Any) -> None:
    """Keep ``objects`` until the process ends, when the command is its process's main."""
    if _kept is not None:
        _kept.append(objects)


def run_to_the_end(command: Callable[[], int]) -> NoReturn:
    """Run ``command`` as this process's main, then end the process with its exit code.

    When the command kept nothing, or other threads still run (the interpreter's own exit waits for them),
    the process exits as usual.
    """
    global _kept
    _kept = []
    code = command()
    threading = sys.modules.get("threading")
    if not _kept or (threading is not None and threading.active_count() > 1):
        sys.exit(code)
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a reader gone, a closed stream: the command has said what it could
            pass
    os._exit(code)
