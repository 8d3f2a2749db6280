"""One configuration's history on one machine (under one Python): per metric, its points in order, and their steps.

A point is what a history is ordered by:

- ``version``: the distributed (and dask) release measured, in release order;
- ``revision``: the commit or revision recorded, in the order of a local git
  checkout's history when one is given (``record.releases``), else in the order
  first measured;
- ``label``: the label recorded, in the order first measured;
- ``time``: the study (or, for runs outside a study, the day), in time order.

Only successful runs that are not warmups count; runs without what the order
needs (a revision, a label...) are left out and counted.
"""

from __future__ import annotations

import statistics
from datetime import datetime
from typing import Any, Callable, Mapping

import msgspec

from dask_timing.analysis.groups import configuration_order, setting_name, show_setting
from dask_timing.analysis.verdicts import LOAD_PER_CPU_DIFFERENCE
from dask_timing.record.statistics import Summary, summarize
from dask_timing.history.connection import Database, Reader, where
from dask_timing.history.steps import MIN_POINTS_FOR_STEPS, Point, Step, detect_steps
from dask_timing.history.reading import RunFilter, display_order
from dask_timing.record.releases import commit_key, release_key
from dask_timing.record.schema import STATUS_OK


class HistoryKey(msgspec.Struct, frozen=True):
    """A configuration on a machine, under one Python, that has runs: what one history is of.

    Two interpreters on one machine are two histories: their runs mixed in one
    point would give a median of neither, and a step wherever the mix changes.
    """

    config_hash: str
    host: str | None
    python_version: str | None
    kind: str
    config: dict[str, Any]
    n_runs: int
    first: datetime | None
    last: datetime | None


def histories(database: Database, filters: RunFilter | None = None) -> list[HistoryKey]:
    """Every configuration and machine with runs the filters match: the most runs first, then in the order the
    analyzer shows configurations in."""
    filters = filters or RunFilter()
    with database.reading() as reader:
        conditions, parameters = filters.conditions(reader)
        rows = reader.rows("SELECT config_hash, host, python_version, kind, config, count(id), min(measured_at), "
                           f"max(measured_at) FROM runs {where(conditions)} "
                           "GROUP BY config_hash, host, python_version, kind, config", parameters, moments=(6, 7))
    found = [HistoryKey(*row[:4], msgspec.json.decode(row[4]), *row[5:]) for row in rows]
    return sorted(found, key=lambda key: (-key.n_runs, configuration_order(key.kind, key.config), key.host or "",
                                          key.python_version or ""))


def metric_names(database: Database, filters: RunFilter | None = None) -> set[str]:
    """Every metric the runs the filters match have a value of."""
    with database.reading() as reader:
        conditions, parameters = (filters or RunFilter()).conditions(reader)
        return {row[0] for row in reader.rows("SELECT DISTINCT metrics.metric FROM metrics JOIN runs ON runs.id = "
                                              f"metrics.run {where(conditions)}", parameters)}


def version_label(dask: str | None, distributed: str | None) -> str | None:
    if distributed is None:
        return None if dask is None else f"dask {dask}"
    return f"distributed {distributed}" if dask in (None, distributed) else f"distributed {distributed} (dask {dask})"


# Per order: the columns of ``runs`` a point is told by, and its label from their values.
_POINT_KEYS: dict[str, tuple[tuple[str, ...], Callable[..., str | None]]] = {
    "version": (("dask_version", "distributed_version"), version_label),
    "revision": (("revision",), lambda revision: revision),
    "label": (("label",), lambda label: label),
    "time": (("study_id", "measured_at"),
             lambda study, moment: study or (None if moment is None else f"{moment:%Y-%m-%d}")),
}


class PointContext(msgspec.Struct, frozen=True):
    """What the machine was like while a point's runs ran: its median load per CPU, and the machines
    (CPUs and memory) its runs recorded."""

    load_per_cpu: float | None
    machines: tuple[str, ...]


class History(msgspec.Struct):
    """Per metric, the points of one configuration's history on one machine, in order."""

    config_hash: str
    host: str | None
    order: str
    points: dict[str, list[Point]]
    left_out: int  # successful runs without what the order needs
    context: dict[str, PointContext] = {}  # by point label

    def warnings(self) -> list[str]:
        """Points that ran under clearly different load, or on different machines under one name."""
        found = []
        loads = [(label, context.load_per_cpu) for label, context in self.context.items()
                 if context.load_per_cpu is not None]
        if loads:
            (low_label, low), (high_label, high) = min(loads, key=_second), max(loads, key=_second)
            if high - low > LOAD_PER_CPU_DIFFERENCE:
                found.append(f"its points ran under different load: {low_label} under {low:.1f} per CPU, "
                             f"{high_label} under {high:.1f} (medians, more than {LOAD_PER_CPU_DIFFERENCE:g} apart): "
                             "a change between them may be the machine's, not Dask's")
        machines = sorted({machine for context in self.context.values() for machine in context.machines})
        if len(machines) > 1:
            found.append(f"its points ran on different machines under the name {self.host or '(unknown)'}: "
                         f"{'; '.join(machines)}: a change between them may be the machine's, not Dask's")
        return found


def _second(pair: tuple) -> Any:
    return pair[1]


def _where(reader: Reader, config_hash: str, host: str | None, filters: RunFilter) -> tuple[str, dict[str, Any]]:
    """The successful timed runs of one history: the WHERE clause and its parameters."""
    conditions, parameters = filters.conditions(reader)
    own = ["runs.config_hash = :history_config_hash", "runs.host IS NULL" if host is None else
           "runs.host = :history_host", "runs.status = :history_status", "NOT runs.warmup"]
    parameters.update(history_config_hash=config_hash, history_status=STATUS_OK)
    if host is not None:
        parameters["history_host"] = host
    return where(own + conditions), parameters


def _machine(cpus: int | None, memory: float | None) -> str:
    shown = f"{cpus} CPUs" if cpus is not None else "unknown CPUs"
    return shown + (f", {memory / 2**30:.0f} GiB" if memory else "")


class _Run(msgspec.Struct, frozen=True):
    """What a history reads of one run besides its values: its point's label and key, and when it ran."""

    label: str | None
    key: tuple
    moment: datetime


def _runs(reader: Reader, where_clause: tuple[str, dict[str, Any]], columns: tuple[str, ...],
          label_of: Callable[..., str | None]) -> tuple[dict[int, _Run], dict[str, PointContext]]:
    """Each run of the history, by id, and each point's context, read from the runs' environments: one row a
    run (the values' rows then name only their run, never again what it shares with its other values)."""
    clause, parameters = where_clause
    load = reader.json_number("runs.environment", "load", "load_per_cpu")
    memory = reader.json_number("runs.environment", "total_memory_bytes")
    shown = ", ".join(f"runs.{column}" for column in columns)
    rows = reader.rows(f"SELECT runs.id, runs.measured_at, {shown}, {load}, runs.cpu_count, {memory} FROM runs "
                       f"{clause}", parameters,
                       moments=(1, *(2 + index for index, column in enumerate(columns) if column == "measured_at")))
    width = len(columns)
    found: dict[int, _Run] = {}
    loads: dict[str, list[float]] = {}
    machines: dict[str, set[str]] = {}
    for row in rows:
        key = tuple(row[2:2 + width])
        label = label_of(*key)
        found[row[0]] = _Run(label, key, row[1] or datetime.max)
        if label is None:
            continue
        point_load, cpus, point_memory = row[2 + width:]
        if point_load is not None:
            loads.setdefault(label, []).append(point_load)
        machines.setdefault(label, set()).add(_machine(cpus, point_memory))
    contexts = {label: PointContext(statistics.median(loads[label]) if loads.get(label) else None,
                                    tuple(sorted(machines_seen))) for label, machines_seen in machines.items()}
    return found, contexts


def load_history(database: Database, config_hash: str, host: str | None, order: str = "version",
                 filters: RunFilter | None = None, commits: Mapping[str, int] | None = None) -> History:
    """Read one history's values, grouped into points in ``order`` (one of ``history.ORDERS``); by revision,
    in the order of ``commits`` (``record.releases.git_commit_order``) when given."""
    columns, label_of = _POINT_KEYS[order]
    with database.reading() as reader:
        where_clause = _where(reader, config_hash, host, filters or RunFilter())
        described, contexts = _runs(reader, where_clause, columns, label_of)
        rows = reader.rows("SELECT runs.id, metrics.section, metrics.metric, metrics.seconds FROM runs "
                           f"JOIN metrics ON metrics.run = runs.id {where_clause[0]}", where_clause[1])
    values: dict[str, dict[str, list[float]]] = {}  # label -> metric -> values
    sections: dict[str, str] = {}  # metric -> its section
    first_seen: dict[str, datetime] = {}
    sort_keys: dict[str, tuple] = {}
    left_out: set[int] = set()
    previous = None
    for run_id, section, metric, seconds in rows:
        run = described.get(run_id)
        if run is None:  # stored after the runs were read (a server's other transaction): not in this read
            continue
        if run.label is None:
            left_out.add(run_id)
            continue
        sections[metric] = section
        values.setdefault(run.label, {}).setdefault(metric, []).append(seconds)
        if run_id == previous:  # the run's other values: its point is counted already
            continue
        previous = run_id
        if run.label not in first_seen or run.moment < first_seen[run.label]:
            first_seen[run.label] = run.moment
        if order == "version" and run.label not in sort_keys:
            sort_keys[run.label] = (release_key(run.key[1]), release_key(run.key[0]))
    if order == "revision" and commits:
        sort_keys = {label: (commit_key(label, commits), first_seen[label]) for label in values}
    labels = sorted(values, key=sort_keys.__getitem__ if sort_keys else first_seen.__getitem__)
    points: dict[str, list[Point]] = {metric: [] for metric in sorted(sections, key=lambda name: display_order(
        sections[name], name))}
    for label in labels:
        for metric, measured in values[label].items():
            points[metric].append(Point(label, tuple(measured)))
    return History(config_hash, host, order, points, len(left_out), contexts)


class MetricHistory(msgspec.Struct):
    """One metric's history: each point's statistics, the steps found, the largest change between neighbours."""

    metric: str
    points: list[tuple[str, Summary]]
    steps: list[Step]
    largest_change: float  # relative change of the median between neighbouring points, the largest

    def describe(self) -> list[str]:
        """The steps, one line each, or what the history shows when it has none."""
        if self.steps:
            return [step.describe(self.metric) for step in self.steps]
        largest = f"{self.largest_change * 100:.0f} %"
        if len(self.points) < MIN_POINTS_FOR_STEPS:  # "no step" would say more than such a history can
            return [f"{self.metric}: {len(self.points)} point(s), too few to tell a step from the drift between "
                    f"points (that takes {MIN_POINTS_FOR_STEPS}); the largest change between neighbouring points: "
                    f"{largest}"]
        return [f"{self.metric}: no step over {len(self.points)} point(s); no change between neighbouring "
                f"points larger than {largest}"]


def summarise(history: History) -> list[MetricHistory]:
    """Statistics and steps of every metric of a history."""
    return [metric_history(metric, points) for metric, points in history.points.items()]


def metric_history(metric: str, points: list[Point]) -> MetricHistory:
    """One metric's points summarised, with the steps found in them."""
    medians = [point.median for point in points]
    changes = [abs(after / before - 1) for before, after in zip(medians, medians[1:]) if before > 0]
    return MetricHistory(metric, [(point.label, summarize(point.values)) for point in points],
                         detect_steps(points), max(changes, default=0.0))


def settings_name(kind: str, config: dict[str, Any]) -> str:
    """A configuration in words: its kind and every setting that is set."""
    return ", ".join([kind, *(f"{setting_name(key)}={show_setting(value)}" for key, value in sorted(config.items())
                              if value is not None)])
