"""What a result needs to say about the machine and software it was measured on."""

from __future__ import annotations

import multiprocessing
import os
import platform
import socket
import sys
import time
from datetime import datetime, timezone
from importlib import metadata

# Versions worth recording; read from package metadata so none is imported.
RECORDED_PACKAGES = ("dask", "distributed", "numpy", "tornado", "msgpack", "cloudpickle")
# Set by a study for each run: the name of the environment (``--python NAME=PATH``,
# ``--dask-versions``) the run belongs to, recorded so the analyzer can tell them apart.
ENVIRONMENT_NAME_VARIABLE = "DASK_TIMING_ENVIRONMENT_NAME"


def package_version(name: str) -> str | None:
    """Installed version of ``name``, or None when it is not installed."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def utc_timestamp() -> str:
    """Now, as an ISO 8601 UTC timestamp with a trailing Z."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds").replace(
        "+00:00", "Z"
    )


def _total_memory() -> int | None:
    try:
        import psutil  # a dependency of distributed
    except ImportError:
        return None
    return int(psutil.virtual_memory().total)


def _dask_worker_start_method() -> str | None:
    """The start method Dask uses for worker processes (its own setting)."""
    try:
        import dask.config
    except ImportError:
        return None
    return dask.config.get("distributed.worker.multiprocessing-method", None)


def _usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def collect_environment(load: dict | None = None) -> dict:
    """Describe this host, its Python and its Dask stack, the environment's name, and the machine's load
    (``load``: as sampled before the run began; by default, now)."""
    return {
        "name": os.environ.get(ENVIRONMENT_NAME_VARIABLE) or None,
        "host": socket.gethostname(),
        "os": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "usable_cpu_count": _usable_cpus(),
        "total_memory_bytes": _total_memory(),
        "python_version": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "python_executable": sys.executable,
        "packages": {name: package_version(name) for name in RECORDED_PACKAGES},
        "multiprocessing_start_method": multiprocessing.get_start_method(allow_none=True)
        or multiprocessing.get_context().get_start_method(),
        "dask_worker_start_method": _dask_worker_start_method(),
        "load": load or machine_load(),
    }


LOAD_BEFORE_RUN = "before the run"  # when a timed run samples the load (its ``sampled``)


def machine_load() -> dict:
    """How busy the machine is now: load averages per usable CPU, and the CPU clock if readable.

    Recorded with every result, so that two sides of a comparison run under
    different load can be told apart.  A timed run samples it before it starts
    anything (``sampled``): the load its own processes make, a change's
    included, is then not taken for a busy machine.
    """
    cpus = _usable_cpus()
    try:
        one, five, fifteen = os.getloadavg()
    except (AttributeError, OSError):  # not available on this system
        return {"load_average": None, "load_per_cpu": None, "cpus": cpus, "cpu_mhz": _cpu_mhz()}
    return {"load_average": [one, five, fifteen], "load_per_cpu": one / cpus, "cpus": cpus, "cpu_mhz": _cpu_mhz()}


def _cpu_mhz() -> float | None:
    """The first CPU's clock now: the frequency scaling driver's figure, else the kernel's
    /proc/cpuinfo figure (virtual machines often have only that); None when neither is readable."""
    try:
        with open("/sys/devices/system/cpu/cpu0/cpufreq/scaling_cur_freq", encoding="ascii") as stream:
            return int(stream.read()) / 1000
    except (OSError, ValueError):
        pass
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as stream:
            for line in stream:
                if line.startswith("cpu MHz"):
                    return float(line.split(":", 1)[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def process_age() -> tuple[float, float]:
    """Seconds since this process started, and the resolution of that figure.

    On Linux both ends are read on the boot-time clock (the kernel's process
    start stamp is in clock ticks since boot), so wall-clock steps cannot skew
    it; the resolution is one clock tick (usually 10 ms).  Elsewhere psutil's
    wall-clock start time is used.
    """
    try:
        with open("/proc/self/stat", encoding="ascii") as stream:
            fields = stream.read().rsplit(")", 1)[1].split()
        ticks_per_second = os.sysconf("SC_CLK_TCK")
        started = int(fields[19]) / ticks_per_second  # field 22, starttime
        return time.clock_gettime(time.CLOCK_BOOTTIME) - started, 1 / ticks_per_second
    except (OSError, ValueError, IndexError, AttributeError):
        import psutil

        return time.time() - psutil.Process().create_time(), 0.01
