"""Loaded into every nanny and worker a run starts, it stamps their startup from inside.

Dask loads this file as a preload (``distributed.nanny.preload`` and
``distributed.worker.preload``, by path, as the last of them) in each nanny
and worker process.  It runs inside the processes being timed, so it is
standalone: the standard library only, nothing of dask_timing, not even
distributed (Dask hands it the Nanny or the Worker).  What it adds to a
worker's start is Dask's loading of a preload file (a copy and a compile:
1 to 3 ms on a 2-core machine), a read of ``/proc/self/stat`` and two or
three appends to a small file.

What it stamps, on this host's wall clock (``time.time``):

* ``nanny_created`` and ``process_created``: the kernel's start time of the
  nanny's and the worker's process (``/proc/self/stat``, to a clock tick);
* ``nanny_ready``: the nanny's ``dask_setup``: listening, about to register
  and to start its worker process;
* ``imports_done``: this module imported while the Worker is built: the
  interpreter up, distributed, the worker's modules and the preloads listed
  before this one imported;
* ``worker_started``: the worker's ``dask_setup``: listening (its dashboard
  too), the other preloads set up, about to register.

They reach the driver with the worker's registration (a
``startup_information`` entry, which the scheduler keeps and shows in its
identity: no extra round trip), and, for a worker that never registers,
through one small file per process in the folder ``DASK_TIMING_STAMPS`` names.
"""

import json
import os
import time

STAMPS_VARIABLE = "DASK_TIMING_STAMPS"  # the folder for stamp files (one per process)
WORKER_VARIABLE = "DASK_TIMING_WORKER"  # set in a worker's process: JSON of its name and its nanny's stamps
IMPORT_PROFILE_VARIABLE = "DASK_TIMING_IMPORT_PROFILE"  # "1": nannies start workers with PYTHONPROFILEIMPORTTIME
STARTUP_KEY = "dask_timing"  # the worker's startup_information entry


def process_created():
    """This process's start as the kernel recorded it, on the wall clock (Linux); None elsewhere.

    The kernel keeps it in whole clock ticks, rounded down: the middle of the tick is the best guess.
    """
    try:
        with open("/proc/self/stat", "rb") as stream:
            fields = stream.read().rsplit(b")", 1)[1].split()
        boot = time.time() - time.clock_gettime(time.CLOCK_BOOTTIME)
        return boot + (int(fields[19]) + 0.5) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, AttributeError):
        return None


def boot_id():
    """The kernel's boot id: processes that share it share one wall clock."""
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as stream:
            return stream.read().strip()
    except OSError:
        return None


def _append(record):
    """One line in this process's stamp file, if the run asked for them; a failure costs nothing."""
    folder = os.environ.get(STAMPS_VARIABLE)
    if not folder:
        return
    try:
        with open(os.path.join(folder, f"{os.getpid()}.jsonl"), "a", encoding="utf-8") as stream:
            stream.write(json.dumps(record) + "\n")
    except OSError:
        pass


def _process_stamps():
    return {"pid": os.getpid(), "boot_id": boot_id(), "process_created": process_created(),
            "imports_done": time.time()}


# Imported while a Worker is built (Dask imports a file preload again for every Worker or Nanny).
_PROCESS = _process_stamps()
if WORKER_VARIABLE in os.environ:  # a worker's own process: said now, in case it never registers
    _append({"role": "worker", "name": json.loads(os.environ[WORKER_VARIABLE]).get("name"), **_PROCESS})


def dask_setup(server):
    """Called by Dask on the Nanny or the Worker that loaded this module."""
    if hasattr(server, "instantiate"):  # a Nanny: it starts the worker's process
        _setup_nanny(server)
    else:
        _setup_worker(server)


def _setup_nanny(nanny):
    stamps = {"name": str(nanny.name), "pid": os.getpid(), "boot_id": boot_id(), "nanny_created": process_created(),
              "nanny_ready": time.time()}
    _append({"role": "nanny", **stamps})
    # The worker's process gets these before its Worker is built (Nanny.env is set in the child first).
    nanny.env[WORKER_VARIABLE] = json.dumps({"name": stamps["name"], "nanny": stamps})
    if os.environ.get(IMPORT_PROFILE_VARIABLE):
        # Read by the new interpreter at its start: the nanny sets these before it spawns the worker.
        nanny.pre_spawn_env["PYTHONPROFILEIMPORTTIME"] = "1"


def _setup_worker(worker):
    stamps = {"name": str(worker.name), **_PROCESS, "worker_started": time.time(), "cpu_seconds": time.process_time()}
    _append({"role": "worker", **stamps})
    stamps["nanny"] = json.loads(os.environ.get(WORKER_VARIABLE) or "{}").get("nanny")
    worker.startup_information[STARTUP_KEY] = lambda _worker: stamps


def report(dask_worker):
    """The worker's clock now, its kernel, and when its first task started executing (None if its log
    lost it).

    Run after ready through ``Client.run``: the driver takes the midpoint of
    its own clock around the call to estimate this host's clock offset.
    """
    state = dask_worker.state
    transitions = [entry for entry in state.log if len(entry) == 7]  # (key, start, finish, final, recs, stimulus, t)
    first = None
    if len(transitions) == state.transition_counter:  # nothing dropped from the bounded log yet
        first = next((entry[6] for entry in transitions if entry[3] == "executing"), None)
    return {"now": time.time(), "first_task": first, "boot_id": boot_id()}
