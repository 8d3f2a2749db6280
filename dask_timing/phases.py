"""The one place that names the timed phases and how they are shown.

A phase is a contiguous stretch of a run, timed on the monotonic clock.  The
phases of a run follow each other without gaps worth measuring, so they add up
to the run's total time to ready.  Work done after the cluster is ready (the
task batch) and teardown are timed too, but never inside that total.
"""

from __future__ import annotations

import msgspec


class Phase(msgspec.Struct, frozen=True):
    """How one phase is named in results and shown on the console.

    The messages are format strings; they may use ``{n_workers}``,
    ``{n_tasks}`` and ``{connect_to}``.
    """

    key: str
    summary_label: str
    start_message: str
    done_message: str
    meaning: str

    @property
    def flat_key(self) -> str:
        """The key the specification's flat JSON uses for this phase."""
        return f"{self.key}_time"


CLUSTER_INIT = Phase(
    "cluster_init",
    "Cluster initialization",
    "Starting cluster initialization...",
    "✓ Cluster object created",
    "LocalCluster object created and its scheduler (with dashboard) listening; "
    "no workers yet",
)
SCHEDULER_START = Phase(
    "scheduler_start",
    "Scheduler startup",
    "Starting Dask scheduler...",
    "✓ Scheduler ready",
    "scheduler process launched until it listens and has written its address",
)
CLIENT_CONNECT = Phase(
    "client_connect",
    "Client connection",
    "Connecting client to {connect_to}...",
    "✓ Client connected",
    "Client created and connected to the scheduler",
)
WAIT_FOR_WORKERS = Phase(
    "wait_for_workers",
    "Wait for workers",
    "Waiting for {n_workers} workers to be ready...",
    "✓ All workers ready",
    "workers requested from the cluster until every one has registered with "
    "the scheduler",
)
WORKERS_START = Phase(
    "workers_start",
    "Workers startup",
    "Starting {n_workers} Dask workers...",
    "✓ All {n_workers} workers ready",
    "worker processes launched until every one has registered with the scheduler",
)
FIRST_TASK = Phase(
    "first_task",
    "First task execution",
    "Testing with a simple task...",
    "✓ First task completed",
    "one task submitted until its result is back in the client",
)

# The one phase of compare_schedulers.py: a whole graph computed by one scheduler.
COMPUTE = Phase(
    "compute",
    "Compute",
    "Computing the graph...",
    "✓ Graph computed",
    "the graph computed by one scheduler, from compute() until the result is back",
)

# Timed after the cluster is ready; reported beside the total, never in it.
BATCH = Phase(
    "batch_{n_tasks}_tasks",
    "Batch ({n_tasks} tasks)",
    "Testing with batch of tasks...",
    "✓ {n_tasks} tasks completed",
    "a batch of independent tasks submitted until all results are back",
)
WORKLOAD = Phase(
    "workload_{workload}",
    "Workload ({workload})",
    "Running workload {workload}...",
    "✓ Workload completed",
    "a workload (e.g. weak-scaling array reduction) computed until its result is back",
)
TEARDOWN = Phase(
    "teardown",
    "Teardown",
    "Shutting down cluster...",
    "✓ Cluster closed",
    "client closed and every scheduler and worker process gone",
)

# Timed before the run starts: from this process's start (interpreter launch, as
# the OS recorded it) to the imports done; beside the total, never in it.
INTERPRETER_AND_IMPORTS = "interpreter_and_imports"
INTERPRETER_AND_IMPORTS_LABEL = "Interpreter and imports"

# Teardown of a cluster someone else runs: only the client goes.
CLIENT_CLOSE = Phase(
    "teardown",
    "Teardown",
    "Closing the client (the cluster keeps running)...",
    "✓ Client closed",
    "client closed; the cluster is not ours to stop",
)

# Short names of metrics for tables with a column per metric; another metric's column is its key.
METRIC_COLUMNS = {
    CLUSTER_INIT.key: "init",
    SCHEDULER_START.key: "scheduler",
    CLIENT_CONNECT.key: "connect",
    WAIT_FOR_WORKERS.key: "wait",
    WORKERS_START.key: "workers",
    INTERPRETER_AND_IMPORTS: "driver_imports",  # the driver's own: the workers' is a worker phase
}


def metric_column(metric: str) -> str:
    """A metric's column name: ``cluster_init_time`` is ``init``, ``first_task_time`` is ``first_task``."""
    key = metric[: -len("_time")] if metric.endswith("_time") else metric
    return METRIC_COLUMNS.get(key, key)


TOTAL_LABEL = "Total time to ready"
TOTAL_KEY = "total_time"
TEARDOWN_KEY = "teardown_time"

ALL_PHASES = (
    CLUSTER_INIT,
    SCHEDULER_START,
    CLIENT_CONNECT,
    WAIT_FOR_WORKERS,
    WORKERS_START,
    FIRST_TASK,
    COMPUTE,
)
PHASES_BY_KEY = {phase.key: phase for phase in ALL_PHASES}
PHASES_BY_FLAT_KEY = {phase.flat_key: phase for phase in ALL_PHASES}


def metric_label(name: str) -> str:
    """A metric's name as people read it: its phase's label, else its key in words ("first_worker_time":
    "First worker")."""
    phase = PHASES_BY_FLAT_KEY.get(name)
    if phase is not None:
        return phase.summary_label
    if name == TOTAL_KEY:
        return TOTAL_LABEL
    return name.removesuffix("_time").replace("_", " ").capitalize()


def batch_key(n_tasks: int) -> str:
    """The result key of a batch of ``n_tasks`` tasks, e.g. ``batch_100_tasks``."""
    return BATCH.key.format(n_tasks=n_tasks)


def workload_key(name: str) -> str:
    """The result key of a workload, e.g. ``workload_weak_array``."""
    return WORKLOAD.key.format(workload=name.replace("-", "_"))


def phase_order(key: str) -> int:
    """Sort position of a metric key: phases first in run order, then the rest."""
    for position, phase in enumerate(ALL_PHASES):
        if phase.key == key:
            return position
    return len(ALL_PHASES)


# -- Inside each worker: its startup, boundary by boundary (measure.waterfall) ------------------------------------

# The boundaries of a worker's startup, in the order they happen; a boundary a deployment does not have
# (no batch system, no nanny, a thread worker's process) is absent, never zero.
WORKER_BOUNDARIES = (
    "requested", "job_running", "nanny_created", "nanny_ready", "process_created", "imports_done",
    "worker_started", "registered", "first_task",
)
FIRST_WORKER_BOUNDARY = "requested"
REGISTERED_BOUNDARY = "registered"


class WorkerPhase(msgspec.Struct, frozen=True):
    """A stretch of one worker's startup: from the previous boundary it reached to ``ends_at``."""

    key: str
    ends_at: str  # the boundary that ends it
    label: str
    column: str  # a short name for table columns
    meaning: str


# They tile "requested" to "registered": each runs from the latest earlier boundary the worker has, so a
# worker's phases add up to its registration time whatever it lacks.
WORKER_PHASES = (
    WorkerPhase("queue", "job_running", "Submission and queue", "queue",
                "workers requested until the batch job runs (the batch system's start time)"),
    WorkerPhase("launch", "nanny_created", "Nanny launch", "launch",
                "until the nanny's process exists"),
    WorkerPhase("nanny", "nanny_ready", "Nanny start", "nanny",
                "until the nanny listens, about to register and start its worker's process"),
    WorkerPhase("process", "process_created", "Worker process creation", "process",
                "until the worker's process exists (spawned, forked or launched)"),
    WorkerPhase("imports", "imports_done", "Interpreter and imports", "worker_imports",
                "until the interpreter is up and distributed and the worker's modules are imported"),
    WorkerPhase("start", "worker_started", "Worker start", "start",
                "until the Worker listens (its dashboard too) with its preloads set up, about to register"),
    WorkerPhase("registration", "registered", "Registration", "register",
                "until the scheduler has registered the worker (its add-worker event)"),
)
WORKER_PHASES_BY_KEY = {phase.key: phase for phase in WORKER_PHASES}
WORKER_PHASE_ENDING = {phase.ends_at: phase for phase in WORKER_PHASES}
# A worker's registration time: the sum of its phases, from "requested" to "registered" (the key of its
# values among a run's worker phases is the boundary's name).
REGISTRATION_TIME_LABEL = "Registered"
