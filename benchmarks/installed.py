"""What the benchmarks share: where the repository is, running its tools as installed, timing a command."""

from __future__ import annotations

import compileall
import os
import subprocess
import threading
import time

REPOSITORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def compile_package() -> None:
    """Byte-compile dask_timing, as pip does when it installs a package.

    Without this, an environment that sets PYTHONDONTWRITEBYTECODE recompiles
    the package in every timed run (about 0.2 s for the timing tools), which is
    not what an installed tool costs.
    """
    compileall.compile_dir(os.path.join(REPOSITORY, "dask_timing"), quiet=1)


def load_average() -> str:
    """The machine's load averages over 1, 5 and 15 minutes, as the benchmarks print them beside a figure."""
    return " ".join(f"{load:.2f}" for load in os.getloadavg())


def run_measured(command: list[str], timeout: float, cwd: str | None = None,
                 env: dict[str, str] | None = None) -> tuple[float, float]:
    """Wall seconds and peak resident MB of a command, which must succeed within ``timeout``.

    It waits in one blocking ``os.wait4``: ``subprocess.run(timeout=...)`` polls
    instead, with sleeps that grow to 50 ms, which rounds a timed run up by as much.
    """
    started = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=cwd, env=env)
    watchdog = threading.Timer(timeout, child.kill)  # os.wait4 has no timeout
    watchdog.start()
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    watchdog.cancel()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(command[:3])} failed")
    return seconds, usage.ru_maxrss / 1024
