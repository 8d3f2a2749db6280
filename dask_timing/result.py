"""The result model: one JSON document per run, self-describing and versioned.

A result file holds the schema version, the kind of study, the configuration
that defines the experiment (what results are grouped by), the options that do
not change what is measured, the command line, the environment, the ordered
phases, the total time to ready, the teardown time, and a status.  It also
carries the specification's flat keys (``total_time``, ``first_task_time``,
...) so simple scripts can read it with ``json.load(f)['total_time']``.

Files written by the public tool this project replaces hold only flat keys;
``load_result`` reads those too (as schema version 0).
"""

from __future__ import annotations

import json
import os

import orjson  # parses result files several times faster than json: 10,000 files in well under a second
import tempfile
from dataclasses import dataclass, field
from typing import Any

from . import phases

SCHEMA_VERSION = 1
RESULT_DOCUMENT = "dask-timing-result"
SUMMARY_DOCUMENT = "dask-timing-summary"
STUDY_DOCUMENT = "dask-timing-study"  # a study's manifest: its plan
LEGACY_SCHEMA_VERSION = 0

KIND_LOCAL = "local"
KIND_DISTRIBUTED = "distributed"
KIND_CLUSTER = "cluster"  # any Dask cluster manager class
KIND_EXISTING = "existing"  # a running cluster: no startup phases
KIND_SCHEDULERS = "schedulers"  # compare_schedulers.py: one compute per run, not a startup

# Worker arrival milestones, in seconds after the workers were requested.
ARRIVAL_MILESTONES = ("first_worker", "half_workers", "all_workers")

STATUS_OK = "ok"
STATUS_FAILED = "failed"
STATUS_INTERRUPTED = "interrupted"


@dataclass(slots=True)
class RunResult:
    """One timed run, as written to and read from a result file."""

    kind: str
    config: dict[str, Any]
    options: dict[str, Any] = field(default_factory=dict)
    command_line: list[str] = field(default_factory=list)
    environment: dict[str, Any] = field(default_factory=dict)
    run_id: str = ""
    timestamp: str = ""
    status: str = STATUS_OK
    error: str | None = None
    phases: dict[str, float] = field(default_factory=dict)
    total_time: float | None = None
    teardown_time: float | None = None
    after_ready: dict[str, float] = field(default_factory=dict)
    before_start: dict[str, float] = field(default_factory=dict)
    arrivals: dict[str, Any] | None = None
    probes: dict[str, Any] | None = None
    memory_samples: dict[str, Any] | None = None
    versions: dict[str, Any] | None = None
    jobs: list[dict[str, Any]] | None = None
    workers: list[dict[str, Any]] = field(default_factory=list)
    scheduler: dict[str, Any] = field(default_factory=dict)
    measurement: dict[str, Any] = field(default_factory=dict)
    schema_version: int = SCHEMA_VERSION

    @property
    def ok(self) -> bool:
        return self.status == STATUS_OK

    @property
    def warmup(self) -> bool:
        return bool(self.options.get("warmup"))

    def metrics(self) -> dict[str, float]:
        """Every duration of the run in seconds, by flat key, in display order."""
        values = {f"{key}_time": seconds for key, seconds in self.phases.items()}
        if self.total_time is not None:
            values[phases.TOTAL_KEY] = self.total_time
        for name in ARRIVAL_MILESTONES:
            if self.arrivals and self.arrivals.get(name) is not None:
                values[f"{name}_time"] = self.arrivals[name]
        values.update({f"{key}_time": seconds for key, seconds in self.before_start.items()})
        values.update({f"{key}_time": seconds for key, seconds in self.after_ready.items()})
        if self.teardown_time is not None:
            values[phases.TEARDOWN_KEY] = self.teardown_time
        return values

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
            "n_workers": self.config.get("n_workers"),
            "threads_per_worker": self.config.get("threads_per_worker"),
        }
        for key, seconds in self.metrics().items():
            document.setdefault(key, seconds)
        return document


def arrival_summary(workers: list[dict[str, Any]], requested_at: float | None, n_workers: int) -> dict[str, Any] | None:
    """When the first worker, half of them and all of them had registered.

    Seconds after the workers were requested, from the scheduler's stamps; a
    milestone not reached is None.
    """
    if requested_at is None:
        return None
    times = sorted(worker["arrival_time"] - requested_at for worker in workers if worker.get("arrival_time") is not None)
    reached = {
        "first_worker": 1,
        "half_workers": (n_workers + 1) // 2,
        "all_workers": n_workers,
    }
    summary: dict[str, Any] = {"requested_at": requested_at}
    for name, count in reached.items():
        summary[name] = times[count - 1] if len(times) >= count else None
    return summary


class ResultFileError(Exception):
    """A file that is not a readable dask-timing result; the message says why."""


class SummaryFile(ResultFileError):
    """A study summary or manifest written by the wrapper: ours, but not a run result."""


def unused_path(folder: str, stem: str, extension: str) -> str:
    """``folder/stem.ext``, or ``stem-1.ext``, ``stem-2.ext``... if it exists: nothing is overwritten."""
    candidate = os.path.join(folder, stem + extension)
    index = 1
    while os.path.exists(candidate):
        candidate = os.path.join(folder, f"{stem}-{index}{extension}")
        index += 1
    return candidate


def write_json(path: str, document: dict[str, Any], overwrite: bool = False) -> None:
    """Write ``document`` as indented JSON to ``path`` (see ``write_text``)."""
    write_text(path, json.dumps(document, indent=2) + "\n", overwrite)


def write_text(path: str, text: str, overwrite: bool = False) -> None:
    """Write ``text`` to ``path`` atomically, never replacing a file unless asked.

    The text goes to a temporary file in the same folder first, so a reader
    never sees half a file and an interrupted write leaves nothing behind.
    """
    folder = os.path.dirname(os.path.abspath(path))
    descriptor, temporary = tempfile.mkstemp(prefix=".dask-timing-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
            stream.write(text)
        if overwrite:
            os.replace(temporary, path)
        else:
            try:
                os.link(temporary, path)  # fails if path exists: no clobbering
            except FileExistsError:
                raise FileExistsError(f"{path} already exists; it was left as it was") from None
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def from_json(document: Any) -> RunResult:
    """Build a RunResult from a parsed result document, current or legacy."""
    if not isinstance(document, dict):
        raise ResultFileError("not a JSON object")
    if document.get("document") in (SUMMARY_DOCUMENT, STUDY_DOCUMENT):
        raise SummaryFile("a study summary or manifest, not a run result")
    if document.get("document") == RESULT_DOCUMENT:
        return _from_current(document)
    if phases.TOTAL_KEY in document or any(
        phase.flat_key in document for phase in phases.ALL_PHASES
    ):
        return _from_legacy(document)
    raise ResultFileError("no dask-timing result keys (total_time, phases) in it")


def _from_current(document: dict[str, Any]) -> RunResult:
    version = document.get("schema_version")
    if not isinstance(version, int) or version > SCHEMA_VERSION:
        raise ResultFileError(
            f"schema version {version!r} is newer than this tool reads ({SCHEMA_VERSION}); "
            "update dask-timing"
        )
    try:
        return RunResult(
            kind=str(document["kind"]),
            config=dict(document["config"]),
            options=dict(document.get("options") or {}),
            command_line=list(document.get("command_line") or []),
            environment=dict(document.get("environment") or {}),
            run_id=str(document.get("run_id", "")),
            timestamp=str(document.get("timestamp", "")),
            status=str(document.get("status", STATUS_OK)),
            error=document.get("error"),
            phases=_seconds_map(document.get("phases") or {}),
            total_time=_seconds_or_none(document.get("total_time")),
            teardown_time=_seconds_or_none(document.get("teardown_time")),
            after_ready=_seconds_map(document.get("after_ready") or {}),
            before_start=_seconds_map(document.get("before_start") or {}),
            arrivals=document.get("arrivals"),
            probes=document.get("probes"),
            memory_samples=document.get("memory_samples"),
            versions=document.get("versions"),
            jobs=document.get("jobs"),
            workers=list(document.get("workers") or []),
            scheduler=dict(document.get("scheduler") or {}),
            measurement=dict(document.get("measurement") or {}),
            schema_version=version,
        )
    except (KeyError, TypeError, ValueError) as error:
        raise ResultFileError(f"malformed result ({error})") from None


def _from_legacy(document: dict[str, Any]) -> RunResult:
    """Read a flat file of the public tool: kind inferred from its phase keys."""
    kind = (
        KIND_DISTRIBUTED
        if phases.SCHEDULER_START.flat_key in document
        else KIND_LOCAL
    )
    try:
        found = {
            phase.key: float(document[phase.flat_key])
            for phase in phases.ALL_PHASES
            if document.get(phase.flat_key) is not None
        }
        after_ready = {
            key[: -len("_time")]: float(value)
            for key, value in document.items()
            if key.startswith("batch_") and key.endswith("_tasks_time") and value is not None
        }
        config = {
            "n_workers": _int_or_none(document.get("n_workers")),
            "threads_per_worker": _int_or_none(document.get("threads_per_worker")),
        }
        return RunResult(
            kind=kind,
            config=config,
            timestamp=str(document.get("timestamp", "")),
            phases=found,
            total_time=_seconds_or_none(document.get(phases.TOTAL_KEY)),
            after_ready=after_ready,
            scheduler={"address": document["scheduler_address"]}
            if "scheduler_address" in document
            else {},
            schema_version=LEGACY_SCHEMA_VERSION,
        )
    except (TypeError, ValueError) as error:
        raise ResultFileError(f"malformed flat result ({error})") from None


def load_result(path: str) -> RunResult:
    """Read one result file; raise ResultFileError saying why it is unusable."""
    try:
        with open(path, "rb") as stream:
            document = orjson.loads(stream.read())
    except orjson.JSONDecodeError as error:
        raise ResultFileError(f"not valid JSON ({error.msg} at line {error.lineno})") from None
    except OSError as error:
        raise ResultFileError(error.strerror or str(error)) from None
    return from_json(document)


def _seconds_or_none(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{value!r} is not a number of seconds")
    return float(value)


def _seconds_map(values: dict[str, Any]) -> dict[str, float]:
    """Durations by name; float() rejects anything that is not a number."""
    return {str(key): float(value) for key, value in values.items() if value is not None}


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)
