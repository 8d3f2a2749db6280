"""Grouping runs by configuration: never pooled across configurations.

Results are grouped by the full configuration: kind, workers, threads, every
other recorded setting, and the environment that ran them (the interpreter,
its Python, dask and distributed versions, and the study's name for it), so
runs of two Dask versions are never pooled.  Each group names itself by what
sets it apart.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any, Callable, Iterable

import msgspec

from dask_timing import phases
from dask_timing.phases import TOTAL_KEY
from dask_timing.record.releases import environment_key
from dask_timing.record.text import printable
from dask_timing.record.schema import (
    LEGACY_SCHEMA_VERSION, RESULT_DOCUMENT, SCHEMA_VERSION, SUMMARY_DOCUMENT, RunEnvironment, TimedRun, metric_columns,
)
from dask_timing.record.statistics import Summary, summarize

# Settings named in every label, in this order; others are named only when they differ.
LABEL_KEYS = ("n_workers", "threads_per_worker")
# The short names of settings in labels and tables (the others by their key).
SETTING_NAMES = {
    "n_workers": "workers",
    "threads_per_worker": "threads",
    "wait_for_workers": "wait",
    "batch_size": "batch",
    "processes": "processes",
    "dashboard": "dashboard",
    "nanny": "nanny",
    "host": "listen",  # the address the scheduler listens on; the machine is the environment's host
}


# What a label calls each part of an environment that differs between groups.
ENVIRONMENT_PARTS = (
    ("dask", lambda environment: environment.packages.dask),
    ("distributed", lambda environment: environment.packages.distributed),
    ("Python", lambda environment: environment.python_version),
)


def settings_key(result: TimedRun, leave_out: tuple[str, ...] = ()) -> tuple[str, bytes]:
    """The kind and every configuration setting: what a run measured, whatever ran it.

    The settings (cluster arguments may nest dicts and lists) are compared as
    canonical JSON, keys sorted at every level: one C call per run.
    """
    config = result.config
    if leave_out:
        config = {key: value for key, value in config.items() if key not in leave_out}
    return (result.kind, msgspec.json.encode(config, order="sorted"))


def configuration_key(result: TimedRun, leave_out: tuple[str, ...] = ()) -> tuple:
    """What makes two runs comparable: the settings, and the environment that ran them."""
    return (*settings_key(result, leave_out), result.run_environment().identity())


class Group(msgspec.Struct, dict=True):  # dict: room for the cached properties
    """The runs of one configuration."""

    kind: str
    config: dict[str, Any]
    runs: list[TimedRun] = []
    paths: list[str] = []
    label: str = ""  # the settings' label, then the environment's
    include_warmup: bool = False
    key: tuple = ()
    environment: RunEnvironment = RunEnvironment()  # of the first run (the load differs run to run)
    settings_label: str = ""  # kind, workers, threads and the settings that differ
    environment_label: str = ""  # the parts of the environment that differ between groups ("" if none)

    @property
    def settings_key(self) -> tuple:
        """The key without the environment: what two environments' groups must share to be compared."""
        return self.key[:2]

    # The derived lists below are computed once, after grouping has filled ``runs``.

    @cached_property
    def warmup_runs(self) -> list[TimedRun]:
        return [] if self.include_warmup else [run for run in self.runs if run.warmup]

    @cached_property
    def _counted(self) -> list[tuple[TimedRun, str]]:
        """(run, file) of the runs that count: warmup runs are left out unless asked for."""
        pairs = zip(self.runs, self.paths)
        return list(pairs) if self.include_warmup else [(run, path) for run, path in pairs if not run.warmup]

    @cached_property
    def ok_runs(self) -> list[TimedRun]:
        """The successful runs that count."""
        return [run for run, _ in self._counted if run.ok]

    @cached_property
    def failed_runs(self) -> list[TimedRun]:
        return [run for run, _ in self._counted if not run.ok]

    def hosts(self) -> dict[str, int]:
        """How many of the successful runs each machine ran (by host name; unknown ones left out)."""
        counts: dict[str, int] = {}
        for run in self.ok_runs:
            host = run.run_environment().host
            if host:
                counts[host] = counts.get(host, 0) + 1
        return counts

    def ordered_totals(self) -> list[tuple[str, float]]:
        """(file, total time) of the successful runs, in the order they were taken."""
        pairs = [
            (run.timestamp, path, run.total_time)
            for run, path in self._counted
            if run.ok and run.total_time is not None
        ]
        pairs.sort(key=lambda item: item[0])
        return [(path, total) for _, path, total in pairs]

    @cached_property
    def _values(self) -> dict[str, list[float]]:
        columns = metric_columns(self.ok_runs)
        return {name: columns[name] for name in sorted(columns, key=metric_order)}

    def metric_names(self) -> list[str]:
        """Every metric of the successful runs, phases first in run order."""
        return list(self._values)

    def values_by_metric(self) -> dict[str, list[float]]:
        """Each metric's values over the successful runs."""
        return self._values

    @cached_property
    def _summaries(self) -> dict[str, Summary]:
        return {name: summarize(values) for name, values in self._values.items()}

    def summaries(self) -> dict[str, Summary]:
        """Statistics of each metric over the successful runs."""
        return self._summaries

    @cached_property
    def resampled_total_medians(self) -> Any:
        """The bootstrap medians of the total time (``analysis.inference``), drawn once from this configuration's
        own seed: the ranking and what each setting costs read the same resamples, and they are the same
        whatever other configurations are analyzed with it."""
        from dask_timing.analysis.inference import bootstrap_generator, bootstrap_medians

        return bootstrap_medians(total_times(self), bootstrap_generator(msgspec.json.encode(self.key)))

    def sort_key(self) -> tuple:
        return (*configuration_order(self.kind, self.config), environment_key(self.environment))

    def to_json(self) -> dict[str, Any]:
        environment = self.environment
        return {
            "kind": self.kind,
            "config": self.config,
            "environment": {"name": environment.name, "python_executable": environment.python_executable,
                            "python_version": environment.python_version, **msgspec.structs.asdict(environment.packages)},
            "label": self.label,
            "n_runs": len(self.runs),
            "n_failed": len(self.failed_runs),
            "n_warmup_left_out": len(self.warmup_runs),
            "files": self.paths,
            "metrics": {name: summary.to_json() for name, summary in self.summaries().items()},
        }


def configuration_order(kind: str, config: dict[str, Any]) -> tuple:
    """Where a configuration comes in tables, plots and histories: by kind, then by workers, threads and the
    other labelled settings as numbers (2 before 16), then by the rest."""
    numbers = tuple(_as_number(config.get(key)) for key in LABEL_KEYS)
    return (kind, numbers, tuple(sorted((key, repr(value)) for key, value in config.items() if key not in LABEL_KEYS)))


def metric_order(name: str) -> tuple[int, int]:
    """Where a metric goes among others: the phases in run order, the total, the rest, teardown last."""
    key = name[: -len("_time")] if name.endswith("_time") else name
    if key in phases.PHASES_BY_KEY:
        return (0, phases.phase_order(key))
    if name == phases.TOTAL_KEY:
        return (1, 0)
    if name == phases.TEARDOWN_KEY:
        return (3, 0)
    return (2, 0)


def _as_number(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else float("inf")


def group_results(results: Iterable[tuple[str, TimedRun]], include_warmup: bool = False) -> list[Group]:
    """Group runs by configuration, sorted by kind then numerically by workers and threads."""
    groups: dict[tuple, Group] = {}
    settings: dict[int, tuple[str, bytes]] = {}  # by the config's id: the runs of a configuration share one
    for path, result in results:
        found = settings.get(id(result.config))
        if found is None or found[0] != result.kind:
            found = settings[id(result.config)] = settings_key(result)
        key = (*found, result.run_environment().identity())
        group = groups.get(key)
        if group is None:
            group = groups[key] = Group(result.kind, dict(result.config), include_warmup=include_warmup, key=key,
                                        environment=result.run_environment())
        group.runs.append(result)
        group.paths.append(path)
    ordered = sorted(groups.values(), key=Group.sort_key)
    _label(ordered)
    return ordered


def _label(groups: list[Group]) -> None:
    """Name each group by its settings, then by what differs between the groups' environments."""
    _label_settings(groups)
    name_environment = _environment_namer([group.environment for group in groups])
    for group in groups:
        group.environment_label = printable(name_environment(group.environment))
        group.label = ", ".join(part for part in (group.settings_label, group.environment_label) if part)


def _environment_namer(environments: list[RunEnvironment]) -> Callable[[RunEnvironment], str]:
    """How to name an environment among these: by the study's names when they differ (chosen to tell
    them apart); else by the versions that differ; else by the interpreter's path; "" when all are one."""
    def differ(read: Callable[[RunEnvironment], Any]) -> bool:
        return len({read(environment) for environment in environments}) > 1

    if differ(lambda environment: environment.name):
        return lambda environment: f"env={environment.name or 'unnamed'}"
    parts = [(title, read) for title, read in ENVIRONMENT_PARTS if differ(read)]
    if parts:
        return lambda environment: ", ".join(f"{title}={read(environment) or 'unknown'}" for title, read in parts)
    if differ(lambda environment: environment.python_executable):
        return lambda environment: f"python={environment.python_executable or 'unknown'}"
    return lambda environment: ""


def _label_settings(groups: list[Group]) -> None:
    """Name each group by kind, workers, threads, and the settings that differ within its kind."""
    values: dict[tuple[str, str], set[str]] = {}
    for group in groups:
        for key, value in group.config.items():
            values.setdefault((group.kind, key), set()).add(repr(value))
    for group in groups:
        workers = group.config.get("n_workers")
        threads = group.config.get("threads_per_worker")
        parts = [_kind_name(group)]
        # Unknown is left unsaid: a cluster whose workers never came up has no observed threads.
        if workers is not None:
            parts.append(f"{workers} workers")
        if threads is not None:
            parts.append(f"{threads} thread(s) per worker")
        for key in sorted(group.config):
            if key not in LABEL_KEYS and key != "cluster_class" and len(values[(group.kind, key)]) > 1:
                parts.append(f"{setting_name(key)}={show_setting(group.config[key])}")
        if all(run.schema_version == LEGACY_SCHEMA_VERSION for run in group.runs):
            parts.append("legacy flat files")
        group.settings_label = ", ".join(parts)


def _kind_name(group: Group) -> str:
    """The kind, with the cluster manager's class name for clusters started by one."""
    cluster_class = group.config.get("cluster_class")
    if isinstance(cluster_class, str):
        return printable(f"{group.kind} {cluster_class.replace(':', '.').rsplit('.', 1)[-1]}")
    return printable(group.kind)


def setting_name(key: str) -> str:
    """What labels and tables call a configuration setting."""
    return SETTING_NAMES.get(key, key)


def show_setting(value: Any) -> str:
    """A setting's value as labels and tables show it: switches as on and off."""
    if isinstance(value, bool):
        return "on" if value else "off"
    return printable(str(value))


def total_times(group: Group) -> list[float]:
    return group.values_by_metric().get(TOTAL_KEY, [])


def all_metric_names(groups: list[Group]) -> list[str]:
    """Every metric any configuration's successful runs have, phases first in run order."""
    found = dict.fromkeys(name for group in groups for name in group.metric_names())  # in a stable order
    return sorted(found, key=metric_order)


def total_summary(group: Group) -> Summary:
    """Statistics of the total time; the group must have successful runs with one."""
    return group.summaries()[TOTAL_KEY]


def summary_document(groups: list[Group], created: str) -> dict[str, Any]:
    """A study summary: per configuration, statistics of every metric."""
    return {
        "document": SUMMARY_DOCUMENT,
        "schema_version": SCHEMA_VERSION,
        "created": created,
        "describes": RESULT_DOCUMENT,
        "configurations": [group.to_json() for group in groups],
    }
