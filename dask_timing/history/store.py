"""Recording runs in the database, importing result files, and reading runs back.

A run is stored once, keyed by its run id: recording or importing it again
adds nothing.  A result without a run id (a flat file of the earlier format)
is keyed by a hash of its content, so importing the same file twice stores it
once too.  Label, revision and study id are read from the run's options (where
the tools record them); a study's file not carrying its study id there gives it
through its name, as studies name their files.  Reading runs back is
``reading``'s.
"""

from __future__ import annotations

import hashlib
import os
import re
from typing import Any, Callable, Iterable

import msgspec
import sqlalchemy as sa

from dask_timing import phases
from dask_timing.analysis.groups import settings_key
from dask_timing.analysis.load import expand, read_files
from dask_timing.history.connection import Database
from dask_timing.history.reading import ARRIVAL, MAPPING_SECTIONS, TEARDOWN, TOTAL, measured_at
from dask_timing.history.tables import metrics, runs
from dask_timing.record.schema import ARRIVAL_MILESTONES, RunResult, TimedRun

# Where in the options the tools record what a history is ordered and named by.
LABEL_OPTION, REVISION_OPTION, STUDY_OPTION = "label", "revision", "study_id"
# A study's result files end with its id: ..._run001_20261125-195728-a1b2c3.json
STUDY_FILE_NAME = re.compile(r"_(\d{8}-\d{6}-[0-9a-f]{6})\.json$")
IMPORT_BATCH = 2000  # files read and stored per transaction: memory stays flat, writers interleave
# RunResult fields kept in columns or metric rows of their own; the others go to `details`.
_OWN_PLACE = frozenset({
    "kind", "config", "options", "run_id", "timestamp", "status", "error", "phases", "total_time", "teardown_time",
    "after_ready", "before_start", "arrivals", "probes", "schema_version", "environment", "workers",
})
_DETAIL_FIELDS = tuple(name for name in RunResult.__struct_fields__ if name not in _OWN_PLACE)


def configuration_hash(kind: str, config: dict[str, Any]) -> str:
    """What groups runs into one history: the kind and the canonical configuration, hashed."""
    return _hash_of_key(settings_key(TimedRun(kind=kind, config=config)))


def _hash_of_key(key: tuple[str, bytes]) -> str:
    kind, canonical = key
    return hashlib.sha256(kind.encode() + b"\0" + canonical).hexdigest()[:16]


def stored_run_id(result: TimedRun) -> str:
    """The run's id, or for a result without one, a hash of its content."""
    if result.run_id:
        return result.run_id
    return "sha256-" + hashlib.sha256(msgspec.json.encode(result, order="sorted")).hexdigest()[:40]


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def run_row(result: RunResult, path: str | None = None) -> dict[str, Any]:
    """The ``runs`` row of a result (``path``: the file it came from, for a study id in its name)."""
    kind, canonical = key = settings_key(result)
    options = result.options
    environment = result.environment
    packages = environment.get("packages") or {}
    study_id = options.get(STUDY_OPTION)
    if study_id is None and path is not None:
        found = STUDY_FILE_NAME.search(os.path.basename(path))
        study_id = found.group(1) if found else None
    return {
        "run_id": stored_run_id(result),
        "study_id": _text(study_id),
        "label": _text(options.get(LABEL_OPTION)),
        "revision": _text(options.get(REVISION_OPTION)),
        "kind": kind,
        "config_hash": _hash_of_key(key),
        "config": canonical.decode(),
        "options": options or None,
        "warmup": result.warmup,
        "status": result.status,
        "error": result.error,
        "timestamp": result.timestamp,
        "measured_at": measured_at(result.timestamp),
        "total_time": result.total_time,
        "host": _text(environment.get("host")),
        "python_version": _text(environment.get("python_version")),
        "dask_version": _text(packages.get("dask")),
        "distributed_version": _text(packages.get("distributed")),
        # the workers' start method: the configuration's when it sets one, else Dask's own setting
        "start_method": _text(result.config.get("start_method") or environment.get("dask_worker_start_method")),
        "cpu_count": environment.get("cpu_count") if isinstance(environment.get("cpu_count"), int) else None,
        "schema_version": result.schema_version,
        "environment": environment or None,
        "arrivals": result.arrivals,
        "probes": result.probes,
        "workers": result.workers or None,
        "details": {name: getattr(result, name) for name in _DETAIL_FIELDS},
    }


def metric_values(result: TimedRun) -> list[tuple[str, str, float]]:
    """(section, metric, seconds) of every duration of a run, named as the analyzer names them."""
    values = [(section, f"{key}_time", seconds)
              for section, field in MAPPING_SECTIONS.items() for key, seconds in getattr(result, field).items()]
    if result.total_time is not None:
        values.append((TOTAL, phases.TOTAL_KEY, result.total_time))
    if result.teardown_time is not None:
        values.append((TEARDOWN, "teardown_time", result.teardown_time))
    arrivals = result.arrivals or {}
    values.extend((ARRIVAL, f"{name}_time", float(arrivals[name])) for name in ARRIVAL_MILESTONES
                  if isinstance(arrivals.get(name), (int, float)) and not isinstance(arrivals.get(name), bool))
    return values


class Recorded(msgspec.Struct):
    """What recording or importing did."""

    added: int = 0
    already: int = 0  # runs the database held before (same run id)
    skipped: list[tuple[str, str]] = []  # files that are not readable results, and why
    summaries: list[str] = []  # study summaries and manifests met on the way: not runs

    def add(self, other: "Recorded") -> None:
        self.added += other.added
        self.already += other.already
        self.skipped.extend(other.skipped)
        self.summaries.extend(other.summaries)


def unstorable(row: dict[str, Any], values: list[tuple[str, str, float]]) -> str | None:
    """Why a run's row cannot be stored as it is (a text longer than its column, a NUL character), or None.

    Checked for every database alike: SQLite would take what PostgreSQL refuses, and one
    run PostgreSQL refused would take the rest of its transaction with it.
    """
    texts = [(column.name, row[column.name], column.type.length) for column in runs.columns
             if isinstance(column.type, sa.String) and isinstance(row[column.name], str)]
    texts += [("metric name", metric, metrics.c.metric.type.length) for _section, metric, _seconds in values]
    for name, text, length in texts:
        if length is not None and len(text) > length:
            return f"its {name} is {len(text)} characters long; the database holds {length}"
        if "\0" in text:
            return f"its {name} holds a NUL character"
    return None


def record(database: Database, results: Iterable[RunResult | tuple[str, RunResult]]) -> Recorded:
    """Store runs (or (file, run) pairs) in one transaction; a run already stored is left as it is, one
    the database cannot hold (``unstorable``) is skipped, with why."""
    rows: dict[str, dict[str, Any]] = {}
    values: dict[str, list[tuple[str, str, float]]] = {}
    skipped: list[tuple[str, str]] = []
    for item in results:
        path, result = item if isinstance(item, tuple) else (None, item)
        row = run_row(result, path)
        measured = metric_values(result)
        why = unstorable(row, measured)
        if why is not None:
            skipped.append((path or f"run {row['run_id'][:64]}", why))
        elif row["run_id"] not in rows:  # the same run twice in one call: stored once
            rows[row["run_id"]] = row
            values[row["run_id"]] = measured
    if not rows:
        return Recorded(skipped=skipped)

    def store(connection: sa.Connection) -> int:
        inserted = connection.execute(_insert_new_runs(connection), list(rows.values())).all()
        metric_rows = [{"run": key, "section": section, "metric": metric, "seconds": seconds}
                       for key, run_id in inserted for section, metric, seconds in values[run_id]]
        if metric_rows:
            connection.execute(metrics.insert(), metric_rows)
        return len(inserted)

    added = database.write(store)
    return Recorded(added=added, already=len(rows) - added, skipped=skipped)


def _insert_new_runs(connection: sa.Connection) -> sa.Insert:
    """INSERT ... ON CONFLICT (run_id) DO NOTHING RETURNING id, run_id, in the database's dialect."""
    if connection.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(runs).on_conflict_do_nothing(index_elements=[runs.c.run_id]).returning(runs.c.id, runs.c.run_id)


def import_files(database: Database, patterns: Iterable[str], report: Recorded | None = None,
                 progress: Callable[[int, int, Recorded], None] | None = None) -> Recorded:
    """Import result files (globs or folders, as the analyzer takes them); unreadable ones are skipped, with why.

    ``report`` is filled batch by batch (each batch its own transaction): stopped halfway, it says what
    was stored.  ``progress(files read, files in all, report)`` is called after each batch but the last.
    """
    paths, empty = expand(patterns)
    report = Recorded() if report is None else report
    report.skipped.extend((pattern, "no file matches") for pattern in empty)
    for start in range(0, len(paths), IMPORT_BATCH):
        batch = Recorded()
        results = []
        for path, outcome, payload in read_files(paths[start:start + IMPORT_BATCH], RunResult):
            if outcome == "result":
                results.append((path, payload))
            elif outcome == "summary":
                batch.summaries.append(path)
            else:
                batch.skipped.append((path, payload))
        batch.add(record(database, results))
        report.add(batch)
        if progress is not None and start + IMPORT_BATCH < len(paths):
            progress(start + IMPORT_BATCH, len(paths), report)
    return report
