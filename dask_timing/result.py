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
from itertools import chain
from typing import Any, Sequence

import msgspec

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
    phases: dict[str, float] = {}
    total_time: float | None = None
    teardown_time: float | None = None
    after_ready: dict[str, float] = {}
    before_start: dict[str, float] = {}
    arrivals: dict[str, Any] | None = None
    probes: dict[str, Any] | None = None
    schema_version: int = SCHEMA_VERSION

    @property
    def ok(self) -> bool:
        return self.status == STATUS_OK

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


class RunResult(TimedRun, kw_only=True):
    """One timed run, as written to and read from a result file."""

    command_line: list[str] = []
    environment: dict[str, Any] = {}
    memory_samples: dict[str, Any] | None = None
    versions: dict[str, Any] | None = None
    jobs: list[dict[str, Any]] | None = None
    workers: list[dict[str, Any]] = []
    scheduler: dict[str, Any] = {}
    measurement: dict[str, Any] = {}

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
    import tempfile  # here, not at the top: the analyzer's text summary never writes

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


def from_json(document: Any, model: type[TimedRun] = RunResult) -> TimedRun:
    """Build a run from a parsed result document, current or legacy."""
    if not isinstance(document, dict):
        raise ResultFileError("not a JSON object")
    tag = document.get("document")
    if tag in (SUMMARY_DOCUMENT, STUDY_DOCUMENT):
        raise SummaryFile("a study summary or manifest, not a run result")
    if tag == RESULT_DOCUMENT or (tag is None and "kind" in document):  # as the decoder reads them
        _check_version(document.get("schema_version"))
        try:
            return msgspec.convert(document, model)
        except msgspec.ValidationError as error:
            raise ResultFileError(f"malformed result ({error})") from None
    if phases.TOTAL_KEY in document or not phases.PHASES_BY_FLAT_KEY.keys().isdisjoint(document):
        return _from_legacy(document)
    raise ResultFileError("no dask-timing result keys (total_time, phases) in it")


def _check_version(version: Any) -> None:
    if not isinstance(version, int) or version > SCHEMA_VERSION:
        raise ResultFileError(
            f"schema version {version!r} is newer than this tool reads ({SCHEMA_VERSION}); "
            "update dask-timing"
        )


def _from_legacy(document: dict[str, Any]) -> RunResult:
    """Read a flat file of the public tool: kind inferred from its phase keys."""
    kind = KIND_DISTRIBUTED if phases.SCHEDULER_START.flat_key in document else KIND_LOCAL
    found: dict[str, float] = {}
    after_ready: dict[str, float] = {}
    try:
        for name, value in document.items():  # one pass: these files are read by the thousand
            phase = phases.PHASES_BY_FLAT_KEY.get(name)
            if phase is not None and value is not None:
                found[phase.key] = value if type(value) is float else _seconds(value)
            elif name.startswith("batch_") and name.endswith("_tasks_time") and value is not None:
                after_ready[name[: -len("_time")]] = _seconds(value)
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


# Result files are a few kilobytes: one read of this size takes a whole file.
_READ_SIZE = 1 << 16


def read_bytes(path: str) -> bytes:
    """A file's bytes with the fewest system calls (open, read, close).

    ``open(path, 'rb').read()`` adds an fstat, an ioctl and a seek per file,
    which is a third more time when the analyzer reads thousands of files.
    """
    descriptor = os.open(path, os.O_RDONLY)
    try:
        data = os.read(descriptor, _READ_SIZE)
        if len(data) < _READ_SIZE:  # a short read of a regular file is its end
            return data
        chunks = [data]
        while chunk := os.read(descriptor, _READ_SIZE):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(descriptor)


_DECODERS = {model: msgspec.json.Decoder(model) for model in (TimedRun, RunResult)}


def load_result(path: str, model: type[TimedRun] = RunResult) -> TimedRun:
    """Read one result file; raise ResultFileError saying why it is unusable.

    ``model=TimedRun`` reads only what statistics need.  A current result is
    decoded straight into the model, checked as it goes; anything else (a flat
    file of the earlier format, a study summary, a newer schema, a malformed
    file) is parsed as plain JSON to tell which.
    """
    try:
        data = read_bytes(path)
    except OSError as error:
        raise ResultFileError(error.strerror or str(error)) from None
    try:
        result = _DECODERS[model].decode(data)
    except msgspec.DecodeError:
        pass
    else:
        if result.schema_version > SCHEMA_VERSION:
            _check_version(result.schema_version)  # raises, saying so
        return result
    try:
        document = msgspec.json.decode(data)
    except msgspec.DecodeError as error:
        raise ResultFileError(f"not valid JSON ({error})") from None
    return from_json(document, model)


def _seconds_or_none(value: Any) -> float | None:
    return None if value is None else _seconds(value)


def _seconds(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{value!r} is not a number of seconds")
    return float(value)


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)
