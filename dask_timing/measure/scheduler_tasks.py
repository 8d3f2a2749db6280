"""The tasks of the scheduler comparison, alone in a module so the worker processes that
unpickle them (processes and distributed schedulers) import nothing else of the tool."""

from __future__ import annotations

import time

SLEEP, PYTHON = "sleep", "python"
TASK_KINDS = (SLEEP, PYTHON)


def sleep_task(index: int, task_ms: float) -> int:
    """Wait d ms without holding the GIL, so threads can overlap these tasks."""
    time.sleep(task_ms / 1000)
    return index


def python_task(index: int, task_ms: float) -> int:
    """Spin in Python for d ms of this thread's CPU time, holding the GIL.

    CPU time, not wall time: threads waiting for the GIL do not advance it, so
    each task is d ms of work however the threads share the GIL, and only
    separate processes overlap these tasks.
    """
    deadline = time.thread_time() + task_ms / 1000
    while time.thread_time() < deadline:
        pass
    return index


TASK_FUNCTIONS = {SLEEP: sleep_task, PYTHON: python_task}
