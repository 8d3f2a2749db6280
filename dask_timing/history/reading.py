"""Reading runs back from the database, in plain SQL (``connection.Reader``).

Read back, runs come as ``(pseudo-path, run)`` pairs, the pseudo-path being
``db:RUN_ID``: what the analyzer gets from result files.  Nothing here loads
SQLAlchemy: on a SQLite file, reading needs only Python's sqlite3.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import msgspec

from dask_timing import phases
from dask_timing.analysis.groups import setting_name, show_setting
from dask_timing.errors import UsageError
from dask_timing.history.connection import Database, Reader, decoded_json, where
from dask_timing.record.schema import ARRIVAL_MILESTONES, RunResult, TimedRun

PSEUDO_PATH_PREFIX = "db:"
# Which part of a result each metric row comes from, in the order they are shown.
SECTIONS = PHASE, TOTAL, ARRIVAL, BEFORE_START, AFTER_READY, TEARDOWN = (
    "phase", "total", "arrival", "before_start", "after_ready", "teardown")
MAPPING_SECTIONS = {PHASE: "phases", BEFORE_START: "before_start", AFTER_READY: "after_ready"}


def display_order(section: str, metric: str) -> tuple[int, int, str]:
    """Where a metric is shown: by section, phases in run order, arrival milestones in theirs."""
    key = metric[: -len("_time")]
    if section == PHASE:
        within = phases.phase_order(key)
    else:
        within = ARRIVAL_MILESTONES.index(key) if section == ARRIVAL and key in ARRIVAL_MILESTONES else 0
    return (SECTIONS.index(section), within, metric)


def measured_at(timestamp: str) -> datetime | None:
    """The timestamp as naive UTC (one without a zone is taken as UTC), None if it is not one."""
    try:
        moment = datetime.fromisoformat(timestamp)
    except ValueError:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment


class RunFilter(msgspec.Struct, kw_only=True):
    """Which runs to read: every field given must match (None: any).

    ``config``: settings the run's configuration must have, each named by its key or as
    the summary names it, its value as the summary shows it (``{"workers": "2"}``,
    ``{"n_workers": 2}``); ``since``/``until``: ISO 8601 times, inclusive (another
    text: UsageError, as the filter is made).
    """

    kind: str | None = None
    config_hash: str | None = None
    config: dict[str, Any] | None = None
    label: str | None = None
    revision: str | None = None
    study_id: str | None = None
    host: str | None = None
    python_version: str | None = None
    dask_version: str | None = None
    distributed_version: str | None = None
    status: str | None = None
    since: str | None = None
    until: str | None = None

    def __post_init__(self) -> None:
        for text in (self.since, self.until):
            if text is not None:
                _moment(text)

    def conditions(self, reader: Reader) -> tuple[list[str], dict[str, Any]]:
        """The SQL conditions and their parameters (``filter_*``); ``config`` becomes the hashes of the stored
        configurations that have its settings."""
        equal = ("kind", "config_hash", "label", "revision", "study_id", "host", "python_version", "dask_version",
                 "distributed_version", "status")
        given = {name: getattr(self, name) for name in equal if getattr(self, name) is not None}
        found = [f"runs.{name} = :filter_{name}" for name in given]
        parameters = {f"filter_{name}": value for name, value in given.items()}
        for name, text, comparison in (("since", self.since, ">="), ("until", self.until, "<=")):
            if text is not None:
                found.append(f"runs.measured_at {comparison} :filter_{name}")
                parameters[f"filter_{name}"] = reader.moment_parameter(_moment(text))
        if self.config:
            hashes = sorted(config_hash for config_hash, config in configurations(reader).items()
                            if self.matches_config(config))
            found.append(f"runs.config_hash IN ({', '.join(f':filter_config_{index}' for index in range(len(hashes)))})"
                         if hashes else "1 = 0")
            parameters.update((f"filter_config_{index}", config_hash) for index, config_hash in enumerate(hashes))
        return found, parameters

    def matches_config(self, config: dict[str, Any]) -> bool:
        """Whether a configuration has every setting of ``config``, by key or name, its value as shown."""
        return not self.config or all(
            any(name in (key, setting_name(key)) and show_setting(value) == show_setting(wanted)
                for key, value in config.items())
            for name, wanted in self.config.items())


# Each configuration's hash, one after the other, each found by one search of the history index (a loose index
# scan), and the configuration of one of its runs: a database of a million runs is not read through to find
# the few hundred configurations it holds.
_CONFIGURATIONS = """
WITH RECURSIVE hashes(config_hash) AS (
    SELECT min(config_hash) FROM runs
    UNION ALL
    SELECT (SELECT min(runs.config_hash) FROM runs WHERE runs.config_hash > hashes.config_hash)
    FROM hashes WHERE hashes.config_hash IS NOT NULL
)
SELECT config_hash, (SELECT runs.config FROM runs WHERE runs.config_hash = hashes.config_hash LIMIT 1)
FROM hashes WHERE config_hash IS NOT NULL
"""


def configurations(reader: Reader) -> dict[str, dict[str, Any]]:
    """Every configuration stored, by its hash."""
    return {config_hash: msgspec.json.decode(config) for config_hash, config in reader.rows(_CONFIGURATIONS)}


def _moment(text: str) -> datetime:
    moment = measured_at(text)
    if moment is None:
        raise UsageError(f"not an ISO 8601 time: {text!r} (e.g. 2026-01-31 or 2026-01-31T12:00:00Z)")
    return moment


_TIMED_COLUMNS = ("id", "run_id", "kind", "config", "options", "status", "error", "timestamp", "total_time",
                  "arrivals", "probes", "schema_version")
_WHOLE_COLUMNS = ("environment", "workers", "details")


def read_runs(database: Database, filters: RunFilter | None = None,
              model: type[TimedRun] = TimedRun) -> list[tuple[str, TimedRun]]:
    """The stored runs the filters match, oldest first, as ``(db:RUN_ID, run)`` pairs.

    ``model=TimedRun`` reads what statistics need; ``RunResult`` the whole result.
    """
    filters = filters or RunFilter()
    whole = issubclass(model, RunResult)
    columns = _TIMED_COLUMNS + (_WHOLE_COLUMNS if whole else ())
    with database.reading() as reader:
        conditions, parameters = filters.conditions(reader)
        rows = reader.rows(f"SELECT {', '.join('runs.' + name for name in columns)} FROM runs "
                           f"{where(conditions)} ORDER BY runs.measured_at, runs.id", parameters)
        durations = reader.rows("SELECT metrics.run, metrics.section, metrics.metric, metrics.seconds FROM metrics "
                                f"JOIN runs ON runs.id = metrics.run {where(conditions)}", parameters)
    sections: dict[int, dict[str, dict[str, float]]] = {}
    for run, section, metric, seconds in durations:
        sections.setdefault(run, {}).setdefault(section, {})[metric] = seconds
    found = []
    for values in rows:
        row = dict(zip(columns, values))
        found.append((PSEUDO_PATH_PREFIX + row["run_id"], _run(row, sections.get(row["id"], {}), whole)))
    return found


def _run(row: dict[str, Any], values: dict[str, dict[str, float]], whole: bool) -> TimedRun:
    fields: dict[str, Any] = {
        field: {metric[: -len("_time")]: seconds for metric, seconds in values.get(section, {}).items()}
        for section, field in MAPPING_SECTIONS.items()
    }
    if whole:
        fields.update(decoded_json(row["details"]) or {}, environment=decoded_json(row["environment"]) or {},
                      workers=decoded_json(row["workers"]) or [])
    return (RunResult if whole else TimedRun)(
        kind=row["kind"], config=msgspec.json.decode(row["config"]), options=decoded_json(row["options"]) or {}, run_id=row["run_id"],
        timestamp=row["timestamp"], status=row["status"], error=row["error"], total_time=row["total_time"],
        teardown_time=values.get(TEARDOWN, {}).get("teardown_time"), arrivals=decoded_json(row["arrivals"]),
        probes=decoded_json(row["probes"]), schema_version=row["schema_version"], **fields,
    )
