"""Checks of what the timing commands are asked to do, before anything starts.

Each refusal is a UsageError: one line, exit 2, saying what to do instead.
Limits are chosen from what this machine can take, and each message says how.
"""

from __future__ import annotations

import os
import socket
import time
from typing import Any, Callable, Iterator

from dask_timing.errors import UsageError, describe_failure

# No wait of a run is meant to last longer than a day; larger numbers only overflow
# the clocks and timers they are added to.
MAX_SECONDS = 86_400.0
# The shortest interval between two samples of a sampler that asks the scheduler (MemorySampler).
MIN_SAMPLING_INTERVAL = 0.01
# What one worker costs this machine, by how it runs: a process pair (nanny and
# worker) of the distributed stack is about 150 MB resident; a thread worker
# inside this process about 10 MB.  Budgets use at most 80 % of the memory available.
PROCESS_WORKER_BYTES = 150 * 2**20
THREAD_WORKER_BYTES = 10 * 2**20
MEMORY_SHARE = 0.8
# Each worker process holds a few dozen file descriptors in the driver's view
# (pipes, sockets, logs); a run is refused if its workers would use up the limit.
DESCRIPTORS_PER_WORKER = 8
# Workers asked of a cluster manager or batch system (not started on this machine):
# a cap that stops a typo from submitting a hundred thousand jobs; and threads (cores)
# asked for each of them, more than any machine has.
MAX_REMOTE_WORKERS = 10_000
MAX_REMOTE_THREADS = 10_000
# A study's runs (warmups included) or a scheduler comparison's computes: at a second or more each,
# more would take days.
MAX_RUNS = 100_000
# A batch's tasks live in the client and the scheduler together, a few kilobytes each.
BATCH_TASK_BYTES = 8 * 2**10


def available_memory() -> int:
    import psutil

    return int(psutil.virtual_memory().available)


def check_seconds(value: float, option: str, given: str | None = None) -> None:
    """``value`` seconds at most a day; ``given``: the option's value as the user wrote it, if not seconds."""
    if value > MAX_SECONDS:
        raise UsageError(f"{option} {given or f'{value:g}'} is more than a day ({MAX_SECONDS:g} s); "
                         "give a smaller number")


def check_sampling_interval(seconds: float, option: str) -> None:
    """A sampler polls the scheduler it measures: more often than this, it loads it instead."""
    if seconds < MIN_SAMPLING_INTERVAL:
        raise UsageError(f"{option} {seconds:g} is below {MIN_SAMPLING_INTERVAL:g} s: sampling that often would "
                         f"load the scheduler it measures; give {MIN_SAMPLING_INTERVAL:g} or more")


def check_local_workers(n_workers: int, processes: bool, option: str = "--workers") -> None:
    """Refuse more workers than this machine can start, with the figures that say so."""
    per_worker = PROCESS_WORKER_BYTES if processes else THREAD_WORKER_BYTES
    memory = available_memory()
    by_memory = max(1, int(memory * MEMORY_SHARE // per_worker))
    limits = [(by_memory, f"each {'worker process' if processes else 'thread worker'} needs about "
                          f"{per_worker / 2**20:.0f} MB and {memory / 2**30:.1f} GiB are available")]
    if processes:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft != resource.RLIM_INFINITY:
            limits.append((max(1, soft // DESCRIPTORS_PER_WORKER),
                           f"the open-file limit is {soft} (ulimit -n) and each worker holds about "
                           f"{DESCRIPTORS_PER_WORKER}"))
    limit, why = min(limits)
    if n_workers > limit:
        raise UsageError(f"{option} {n_workers} is more than this machine can start: at most {limit}, as {why}")


def check_remote_workers(n_workers: int, option: str = "--workers") -> None:
    if n_workers > MAX_REMOTE_WORKERS:
        raise UsageError(f"{option} {n_workers} is more than {MAX_REMOTE_WORKERS} workers; "
                         "ask for fewer (a study can sweep several counts)")


def thread_limit() -> tuple[int, str] | None:
    """How many threads this machine lets the user start, and why; None when nothing says."""
    import resource

    limits = []
    try:
        with open("/proc/sys/kernel/threads-max", encoding="ascii") as stream:
            limits.append((int(stream.read()), "the kernel's threads-max"))
    except (OSError, ValueError):
        pass
    soft, _ = resource.getrlimit(resource.RLIMIT_NPROC)
    if soft != resource.RLIM_INFINITY:
        limits.append((soft, "the user's process limit (ulimit -u)"))
    return min(limits) if limits else None


def check_threads(n_workers: int, threads: int, remote: bool, option: str = "--threads") -> None:
    """Threads per worker: at most what this machine lets start, or for workers started elsewhere a number
    of cores no machine exceeds (beyond 2**63 Dask cannot even send it)."""
    if remote:
        if threads > MAX_REMOTE_THREADS:
            raise UsageError(f"{option} {threads} is more than {MAX_REMOTE_THREADS} threads per worker; "
                             "ask for as many as a worker's machine has cores")
        return
    limit = thread_limit()
    if limit is not None and n_workers * threads > limit[0]:
        total = f" with {n_workers} workers is {n_workers * threads} threads," if n_workers > 1 else " threads is"
        raise UsageError(f"{option} {threads}{total} more than this machine lets start: at most {limit[0]}, "
                         f"as {limit[1]} says")


def check_run_count(n_runs: int, counted: str) -> None:
    """``counted``: how the runs are counted from the options, for the message."""
    if n_runs > MAX_RUNS:
        raise UsageError(f"that is {n_runs} runs ({counted}), more than {MAX_RUNS}: at a second or more each, "
                         "that is days; ask for fewer")


def check_batch(n_tasks: int, option: str = "--batch") -> None:
    memory = available_memory()
    limit = int(memory * MEMORY_SHARE // BATCH_TASK_BYTES)
    if n_tasks > limit:
        raise UsageError(f"{option} {n_tasks} tasks would not fit in memory: at most {limit}, as each task "
                         f"takes about {BATCH_TASK_BYTES // 2**10} KB and {memory / 2**30:.1f} GiB are available")


def check_chunk(n_workers: int, chunk: int, option: str = "--workload-chunk") -> None:
    """The weak-scaling workload holds one chunk x chunk float64 array per worker."""
    needed = n_workers * chunk * chunk * 8
    memory = available_memory()
    if needed > memory * MEMORY_SHARE:
        raise UsageError(f"{option} {chunk} needs {needed / 2**30:.1f} GiB for {n_workers} workers; "
                         f"{memory / 2**30:.1f} GiB are available: give a smaller chunk")


def check_host(host: str) -> None:
    """The address schedulers and workers listen on must be one this machine can resolve."""
    try:
        socket.getaddrinfo(host, None)
    except (socket.gaierror, UnicodeError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise UsageError(f"--host {host!r} does not resolve ({reason}); give an address of this machine, "
                         "such as 127.0.0.1") from None


# Schemes whose location is host:port, and those of them that are encrypted (Dask's TLS settings apply).
HOST_PORT_SCHEMES = ("tcp", "tls", "ws", "wss")
TLS_SCHEMES = ("tls", "wss")


def check_scheduler_address(address: str, given_as: str = "--scheduler-address") -> str:
    """A scheduler address Dask can connect to from here (``tcp://host:port`` and the like); its scheme.
    ``given_as``: where the address came from, as the message names it."""
    from distributed.comm.addressing import parse_address, parse_host_port
    from distributed.comm.registry import get_backend

    try:
        scheme, location = parse_address(address)  # no scheme: tcp, as Dask reads it
        backend = get_backend(scheme)
        if scheme in HOST_PORT_SCHEMES:
            host, port = parse_host_port(location)
            if not host or not 0 < port < 65536:
                raise ValueError(f"{location!r} is not host:port with a port from 1 to 65535")
    except (ValueError, TypeError) as error:
        raise UsageError(f"{given_as} {address!r} is not a scheduler address ({error}); "
                         "expected e.g. tcp://10.0.0.5:8786") from None
    if scheme == "inproc":
        raise UsageError(f"{given_as} {address!r}: an inproc:// address is reachable only inside the "
                         "process that made it; give the scheduler's tcp:// address")
    try:
        backend.get_connector()  # ucx:// without its package installed, say: Dask has no working connector
    except Exception as error:  # noqa: BLE001 - whatever the backend raises, it cannot connect from here
        raise UsageError(f"{given_as} {address!r}: Dask cannot connect over {scheme}:// here "
                         f"({describe_failure(error)}); install that transport's package or give the "
                         "scheduler's tcp:// address") from None
    return scheme


# A scheduler started at the same time as the tool may take a moment to listen: refusals this long are retried.
REFUSED_GRACE_S = 3.0


def check_scheduler_listens(address: str, scheme: str, given_as: str = "--scheduler-address") -> None:
    """Something listens at a host:port ``address``: an unknown host, or a port where nothing listens, is one
    line now rather than a silent wait for the whole --timeout (Dask retries refused connections until
    then).  A host that does not answer at all is left to the run's own timeout (a firewall may drop probes)."""
    if scheme not in HOST_PORT_SCHEMES:
        return
    from distributed.comm.addressing import parse_address, parse_host_port

    host, port = parse_host_port(parse_address(address)[1])
    deadline = time.monotonic() + REFUSED_GRACE_S
    while True:
        try:
            socket.create_connection((host, port), timeout=REFUSED_GRACE_S).close()
            return
        except socket.gaierror as error:
            raise UsageError(f"{given_as} {address!r}: the host {host} is unknown here ({error.strerror}); "
                             "check the address") from None
        except ConnectionRefusedError:
            if time.monotonic() > deadline:
                raise UsageError(f"{given_as} {address!r}: nothing listens there (connection refused); start "
                                 "the scheduler first (dask scheduler), or check the address and port") from None
            time.sleep(0.1)
        except OSError:  # no answer, or no route: the run's own timeout decides
            return


def scheduler_file_address(path: str) -> str:
    """The address a scheduler file names; UsageError naming the file when it has none."""
    if os.path.isdir(path):
        raise UsageError(f"--scheduler-file {path} is a folder; give the scheduler's file (dask scheduler "
                         "--scheduler-file FILE writes it)")
    if not os.path.isfile(path):
        raise UsageError(f"--scheduler-file {path}: no such file")
    from dask_timing.record.settings import SettingsError, read_json_file

    try:
        identity = read_json_file(path)
    except OSError as error:
        raise UsageError(f"--scheduler-file {path} cannot be read ({error.strerror or error})") from None
    except SettingsError as error:
        raise UsageError(f"--scheduler-file {path} is not a scheduler file ({error})") from None
    address = identity.get("address") if isinstance(identity, dict) else None
    if not isinstance(address, str):
        raise UsageError(f"--scheduler-file {path} is not a scheduler file (no \"address\" in it)")
    return address


def check_tls(scheme: str | None, ca_file: str | None, cert: str | None, key: str | None) -> None:
    """TLS options go with a tls:// (or wss://) scheduler, and a tls:// scheduler needs a CA (from the
    options or from Dask's own ``distributed.comm.tls`` settings)."""
    given = {option: path for option, path in
             (("--tls-ca-file", ca_file), ("--tls-cert", cert), ("--tls-key", key)) if path}
    if given and scheme is None:
        raise UsageError(f"{next(iter(given))} is for connecting to an existing tls:// scheduler; "
                         "add --scheduler-address or --scheduler-file")
    if given and scheme not in TLS_SCHEMES:
        raise UsageError(f"{next(iter(given))} is for a wss:// or tls:// scheduler, and this one is {scheme}://")
    if bool(cert) != bool(key):
        raise UsageError("--tls-cert and --tls-key go together (the client's certificate and its key)")
    if scheme == "tls":
        import dask.config

        if not ca_file and not dask.config.get("distributed.comm.tls.ca-file", None):
            raise UsageError("a tls:// scheduler needs --tls-ca-file, --tls-cert and --tls-key")
        if not cert and not dask.config.get("distributed.comm.tls.client.cert", None):
            # Dask's client makes no TLS connection without a certificate of its own
            raise UsageError("a tls:// scheduler needs the client's certificate too: add --tls-cert and --tls-key "
                             "(Dask connects over TLS only with one)")
    for option, path in given.items():
        if not os.path.isfile(path):
            raise UsageError(f"{option} {path}: no such file")


def check_dask_config() -> None:
    """Dask settings, read from the user's configuration, must be values Dask can use: the start method
    this tool relies on, and every duration, size and number (``DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT=abc``
    would otherwise fail the run halfway, in Dask's own words, and hold up its teardown)."""
    import dask.config

    from dask_timing.deploy.base import START_METHOD_SETTING, START_METHODS

    where = "(from the Dask configuration or a DASK_ environment variable)"
    method: Any = dask.config.get(START_METHOD_SETTING, "spawn")
    if method not in START_METHODS:
        raise UsageError(f"Dask's setting {START_METHOD_SETTING} is {method!r} {where}; it must be one of "
                         f"{', '.join(START_METHODS)}")
    for key, default in _default_settings():
        value = dask.config.get(key, None)
        if isinstance(value, str) and (expected := _unreadable_as(default, value)):
            raise UsageError(f"Dask's setting {key} is {value!r} {where}; it must be {expected}, like its "
                             f"default {default!r}")


def _default_settings(prefix: str = "", settings: Any = None) -> Iterator[tuple[str, Any]]:
    """(dotted key, default value) of every setting Dask and its libraries define."""
    import dask.config

    for tree in dask.config.defaults if settings is None else [settings]:
        for name, value in tree.items():
            key = f"{prefix}.{name}" if prefix else name
            if isinstance(value, dict):
                yield from _default_settings(key, value)
            else:
                yield key, value


def _unreadable_as(default: Any, value: str) -> str | None:
    """What ``value`` must be, judged by the kind of the setting's default; None when it reads as one."""
    from dask.utils import parse_bytes, parse_timedelta

    kinds: list[tuple[str, Callable[[Any], Any]]] = [("a number", float)]
    if isinstance(default, str):  # a duration ("30s") or a size ("100MiB") by its default; anything else is free text
        kinds = [(what, parse) for what, parse in (("a duration", parse_timedelta), ("a size", parse_bytes))
                 if _reads(parse, default) and any(character.isalpha() for character in default)]
    elif isinstance(default, bool) or not isinstance(default, (int, float)):
        kinds = []
    for what, parse in kinds:
        if not _reads(parse, value):
            return what
    return None


def _reads(parse: Callable[[Any], Any], value: Any) -> bool:
    try:
        parse(value)
    except (ValueError, KeyError, TypeError):
        return False
    return True
