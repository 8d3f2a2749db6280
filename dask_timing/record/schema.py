"""The result model: one JSON document per run, self-describing and versioned.

A result file holds the schema version, the kind of study, the configuration
that defines the experiment (what results are grouped by), the options that do
not change what is measured, the command line, the environment, the ordered
phases, the total time to ready, the teardown time, and a status.  It also
carries the specification's flat keys (``total_time``, ``first_task_time``,
...) so simple scripts can read it with ``json.load(f)['total_time']``.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from itertools import chain
from typing import Annotated, Any, Sequence

import msgspec

from dask_timing import phases

SCHEMA_VERSION = 1
RESULT_DOCUMENT = "dask-timing-result"
SUMMARY_DOCUMENT = "dask-timing-summary"
STUDY_DOCUMENT = "dask-timing-study"  # a study's manifest: its plan
VERDICT_DOCUMENT = "dask-timing-verdict"  # a comparison's verdicts and gate (--verdict-json)
LEGACY_SCHEMA_VERSION = 0


# Worker arrival milestones, in seconds after the workers were requested.
ARRIVAL_MILESTONES = ("first_worker", "half_workers", "all_workers")

def new_study_id() -> str:
    """A study's id, in every file name it writes: sorts by time, never repeats."""
    return datetime.now().strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]


# Longer than any run waits, even for a batch queue (about 116 days): a larger figure
# means the file was edited or corrupted, and would overflow the statistics.
MAX_SECONDS = 1e7

# A duration in seconds: never negative nor beyond MAX_SECONDS (such a one means the file
# was edited or corrupted, and is refused when the file is read rather than averaged in).
Seconds = Annotated[float, msgspec.Meta(ge=0, le=MAX_SECONDS)]
# The total time to ready: no cluster is ready in no time, and every ratio divides by it.
TotalSeconds = Annotated[float, msgspec.Meta(gt=0, le=MAX_SECONDS)]
# A moment in seconds on a run's clocks (worker arrivals: another clock, so possibly
# before the request, never by more than MAX_SECONDS).
Moment = Annotated[float, msgspec.Meta(ge=-MAX_SECONDS, le=MAX_SECONDS)]

STATUS_OK = "ok"
STATUS_FAILED = "failed"
STATUS_INTERRUPTED = "interrupted"


class PackageVersions(msgspec.Struct, frozen=True):
    """The versions of the packages being timed."""

    dask: str | None = None
    distributed: str | None = None


class MachineLoad(msgspec.Struct, frozen=True):
    """How busy the machine was (``record.environment.machine_load``)."""

    load_per_cpu: float | None = None
    cpu_mhz: float | None = None
    sampled: str | None = None  # when: "before the run" (older results: when the result was written)


class RunEnvironment(msgspec.Struct, frozen=True):
    """What statistics read of a run's environment: which interpreter and Dask ran it, and the load.

    The interpreter, its Python and its Dask versions are part of a configuration
    (runs of two versions are never pooled); the rest of the environment is
    skipped unread.  Old results without an environment read as all unknown.
    """

    name: str | None = None  # the study's name for the environment (--python NAME=PATH), if any
    python_executable: str | None = None
    python_version: str | None = None
    packages: PackageVersions = PackageVersions()
    load: MachineLoad | None = None
    host: str | None = None  # the machine: not part of the identity (CI runners change names), but warned of

    def identity(self) -> tuple[str | None, ...]:
        """What tells two environments apart (the load and the host do not)."""
        return (self.name, self.python_executable, self.python_version, self.packages.dask,
                self.packages.distributed)


class TimedRun(msgspec.Struct, kw_only=True, tag_field="document", tag=RESULT_DOCUMENT):
    """What statistics read of a run: what was run, how it ended, and its durations.

    Decoding a result file into this part alone skips the environment, the
    versions and the per-worker records unread: less than half the time of
    decoding the whole record, which ``RunResult`` is.
    """

    kind: str
    config: dict[str, Any]
    options: dict[str, Any] = {}
    run_id: str = ""
    timestamp: str = ""
    status: str = STATUS_OK
    error: str | None = None
    phases: dict[str, Seconds] = {}
    total_time: TotalSeconds | None = None
    teardown_time: Seconds | None = None
    after_ready: dict[str, Seconds] = {}
    before_start: dict[str, Seconds] = {}
    arrivals: dict[str, Moment | None] | None = None
    probes: dict[str, Any] | None = None
    # Inside the workers (measure.waterfall): each worker phase's seconds over the run's workers, and the
    # import profile; absent (None) in results that have no waterfalls, never zero.
    worker_phases: dict[str, list[Seconds]] | None = None
    import_profile: dict[str, Any] | None = None
    stragglers: list[dict[str, Any]] | None = None  # workers much slower to register than the others
    schema_version: int = SCHEMA_VERSION

    @property
    def ok(self) -> bool:
        return self.status == STATUS_OK

    def run_environment(self) -> RunEnvironment:
        """The part of the environment statistics read (this model reads none of it: all unknown)."""
        return RunEnvironment()

    def package_versions(self) -> dict[str, str | None]:
        """The recorded packages' versions, by name (as far as this model reads them)."""
        return msgspec.structs.asdict(self.run_environment().packages)

    @property
    def warmup(self) -> bool:
        return bool(self.options.get("warmup"))

    def metrics(self) -> dict[str, float]:
        """Every duration of the run in seconds, by flat key, in display order."""
        return {name: column[0] for name, column in metric_columns([self]).items()}


def metric_columns(runs: Sequence[TimedRun]) -> dict[str, list[float]]:
    """Each duration's values over ``runs``, by flat key, in display order.

    Built a column at a time (one comprehension per metric) rather than a run
    at a time: the analyzer gathers 10,000 runs' metrics this way in a few
    milliseconds.  A run without a metric adds nothing to its column.
    """
    columns: dict[str, list[float]] = {}
    _add_mapping_columns(columns, [run.phases for run in runs])
    _add_column(columns, phases.TOTAL_KEY, [run.total_time for run in runs])
    arrivals = [run.arrivals or {} for run in runs]
    for name in ARRIVAL_MILESTONES:
        _add_column(columns, f"{name}_time", [milestones.get(name) for milestones in arrivals])
    _add_mapping_columns(columns, [run.before_start for run in runs])
    _add_mapping_columns(columns, [run.after_ready for run in runs])
    _add_column(columns, phases.TEARDOWN_KEY, [run.teardown_time for run in runs])
    return columns


def _add_mapping_columns(columns: dict[str, list[float]], mappings: list[dict[str, float]]) -> None:
    for key in dict.fromkeys(chain.from_iterable(mappings)):  # every key, in order of first use
        _add_column(columns, f"{key}_time", [mapping.get(key) for mapping in mappings])


def _add_column(columns: dict[str, list[float]], name: str, values: list[float | None]) -> None:
    present = [value for value in values if value is not None]
    if present:
        columns[name] = present


class RunOptions(msgspec.Struct, frozen=True):
    """What the analyzer reads of a run's options: whether it was a warmup run (read as ``TimedRun.warmup``
    reads it); the others are skipped unread."""

    warmup: Any = False


class AnalyzedRun(TimedRun, kw_only=True):
    """What the analyzer reads of a run: its timing, and which interpreter and Dask ran it.

    The environment's identity and load are decoded; the rest of it (host,
    memory, every other package) is skipped unread, as are the worker records
    and every option but ``warmup``: ten thousand runs in less time and memory.
    """

    options: RunOptions = RunOptions()
    environment: RunEnvironment = RunEnvironment()

    @property
    def warmup(self) -> bool:
        return bool(self.options.warmup)

    def run_environment(self) -> RunEnvironment:
        return self.environment


class RunResult(TimedRun, kw_only=True):
    """One timed run, as written to and read from a result file."""

    command_line: list[str] = []
    environment: dict[str, Any] = {}  # all of it: host, CPUs, memory, every recorded package...
    memory_samples: dict[str, Any] | None = None
    versions: dict[str, Any] | None = None
    jobs: list[dict[str, Any]] | None = None
    workers: list[dict[str, Any]] = []
    scheduler: dict[str, Any] = {}
    measurement: dict[str, Any] = {}

    def __post_init__(self) -> None:
        # The environment is kept whole, but its timed part must read as the timed model
        # reads it: a file is usable in both models or in neither.
        self.run_environment()

    def run_environment(self) -> RunEnvironment:
        return msgspec.convert(self.environment, RunEnvironment)

    def package_versions(self) -> dict[str, str | None]:
        return dict(self.environment.get("packages") or {})

    def to_json(self) -> dict[str, Any]:
        """The JSON document: structured keys first, then the flat keys."""
        document: dict[str, Any] = {
            "document": RESULT_DOCUMENT,
            "schema_version": self.schema_version,
            "kind": self.kind,
            "run_id": self.run_id,
            "status": self.status,
            "error": self.error,
            "timestamp": self.timestamp,
            "config": self.config,
            "options": self.options,
            "command_line": self.command_line,
            "environment": self.environment,
            "measurement": self.measurement,
            "phases": self.phases,
            "total_time": self.total_time,
            "teardown_time": self.teardown_time,
            "after_ready": self.after_ready,
            "before_start": self.before_start,
            "arrivals": self.arrivals,
            "probes": self.probes,
            "memory_samples": self.memory_samples,
            "versions": self.versions,
            "jobs": self.jobs,
            "scheduler": self.scheduler,
            "workers": self.workers,
            "worker_phases": self.worker_phases,
            "stragglers": self.stragglers,
            "import_profile": self.import_profile,
            "n_workers": self.config.get("n_workers"),
            "threads_per_worker": self.config.get("threads_per_worker"),
        }
        for key, seconds in self.metrics().items():
            document.setdefault(key, seconds)
        return document
