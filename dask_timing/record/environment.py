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


def collect_environment() -> dict:
    """Describe this host, its Python and its Dask stack."""
    try:
        usable_cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        usable_cpus = os.cpu_count()
    return {
        "host": socket.gethostname(),
        "os": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "usable_cpu_count": usable_cpus,
        "total_memory_bytes": _total_memory(),
        "python_version": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "python_executable": sys.executable,
        "packages": {name: package_version(name) for name in RECORDED_PACKAGES},
        "multiprocessing_start_method": multiprocessing.get_start_method(allow_none=True)
        or multiprocessing.get_context().get_start_method(),
        "dask_worker_start_method": _dask_worker_start_method(),
    }


def machine_load() -> dict:
    """How busy the machine is now: load averages per usable CPU, and the CPU clock if readable.

    Taken before a run starts (a run's own processes raise the load), so that
    two sides of a comparison run under different load can be told apart.
    """
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    one, five, fifteen = os.getloadavg()
    load = {"load_average": [one, five, fifteen], "load_per_cpu": one / cpus, "cpus": cpus}
    try:
        with open("/sys/devices/system/cpu/cpu0/cpufreq/scaling_cur_freq", encoding="ascii") as stream:
            load["cpu_mhz"] = int(stream.read()) / 1000
    except (OSError, ValueError):
        load["cpu_mhz"] = None
    return load


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
