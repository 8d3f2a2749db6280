"""Loading result files and grouping them by configuration.

Results are grouped by the full configuration (kind, workers, threads and every
other recorded setting), never pooled across configurations.  Files that are
not usable results are skipped with the reason, and study summaries written by
the wrapper are recognised and left out quietly.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Iterable

from . import phases
from .phases import TOTAL_KEY
from .result import LEGACY_SCHEMA_VERSION, RESULT_DOCUMENT, SCHEMA_VERSION, SUMMARY_DOCUMENT, ResultFileError, RunResult, SummaryFile, load_result
from .stats import Summary, summarize

# Settings named in every label, in this order; others are named only when they differ.
LABEL_KEYS = ("n_workers", "threads_per_worker")
SETTING_NAMES = {
    "wait_for_workers": "wait",
    "batch_size": "batch",
    "processes": "processes",
    "dashboard": "dashboard",
    "nanny": "nanny",
    "host": "host",
}


@dataclass
class LoadedResults:
    """What a set of glob patterns yielded."""

    results: list[tuple[str, RunResult]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    summaries: list[str] = field(default_factory=list)
    empty_patterns: list[str] = field(default_factory=list)


def expand(patterns: Iterable[str]) -> tuple[list[str], list[str]]:
    """Paths matched by the patterns (a folder means its *.json), and patterns matching nothing."""
    paths: list[str] = []
    empty: list[str] = []
    for pattern in patterns:
        if os.path.isdir(pattern):
            pattern = os.path.join(pattern, "*.json")
        matched = sorted(glob.glob(pattern, recursive=True))
        matched = [path for path in matched if os.path.isfile(path)]
        if not matched:
            empty.append(pattern)
        paths.extend(matched)
    return list(dict.fromkeys(paths)), empty


# What the analysis needs of a run's environment (the HTML report shows it).
KEPT_ENVIRONMENT = ("host", "python_version", "packages", "cpu_count")


def _slim(result: RunResult) -> RunResult:
    """Drop what the analysis never reads, so thousands of runs fit in little memory."""
    result.environment = {key: result.environment.get(key) for key in KEPT_ENVIRONMENT}
    result.command_line = []
    result.measurement = {}
    return result


def _read(paths: list[str]) -> list[tuple[str, str, Any]]:
    """(path, 'result' | 'summary' | 'skipped', the run or the reason) for each file."""
    outcomes: list[tuple[str, str, Any]] = []
    for path in paths:
        try:
            outcomes.append((path, "result", _slim(load_result(path))))
        except SummaryFile:
            outcomes.append((path, "summary", None))
        except ResultFileError as error:
            outcomes.append((path, "skipped", str(error)))
    return outcomes


def load(patterns: Iterable[str]) -> LoadedResults:
    """Read every file the patterns match; keep results, note the rest and why."""
    paths, empty = expand(patterns)
    loaded = LoadedResults(empty_patterns=empty)
    for path, outcome, payload in _read(paths):
        if outcome == "result":
            loaded.results.append((path, payload))
        elif outcome == "summary":
            loaded.summaries.append(path)
        else:
            loaded.skipped.append((path, payload))
    return loaded


def frozen(value: Any) -> Any:
    """A hashable form of a configuration value (dicts and lists of cluster arguments too)."""
    if isinstance(value, dict):
        return tuple(sorted((str(key), frozen(item)) for key, item in value.items()))
    if isinstance(value, (list, tuple)):
        return tuple(frozen(item) for item in value)
    return value


def configuration_key(result: RunResult, leave_out: tuple[str, ...] = ()) -> tuple:
    """What makes two runs comparable: the kind and every configuration setting."""
    return (result.kind, frozen({key: value for key, value in result.config.items() if key not in leave_out}))


@dataclass
class Group:
    """The runs of one configuration."""

    kind: str
    config: dict[str, Any]
    runs: list[RunResult] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    label: str = ""
    include_warmup: bool = False
    key: tuple = ()

    # The derived lists below are computed once, after grouping has filled ``runs``.

    def _counts(self, run: RunResult) -> bool:
        return self.include_warmup or not run.warmup

    @cached_property
    def warmup_runs(self) -> list[RunResult]:
        return [run for run in self.runs if not self._counts(run)]

    @cached_property
    def ok_runs(self) -> list[RunResult]:
        """The successful runs that count (warmup runs are left out unless asked for)."""
        return [run for run in self.runs if self._counts(run) and run.ok]

    @cached_property
    def failed_runs(self) -> list[RunResult]:
        return [run for run in self.runs if self._counts(run) and not run.ok]

    def ordered_totals(self) -> list[tuple[str, float]]:
        """(file, total time) of the successful runs, in the order they were taken."""
        pairs = [
            (run.timestamp, path, run.total_time)
            for run, path in zip(self.runs, self.paths)
            if self._counts(run) and run.ok and run.total_time is not None
        ]
        return [(path, total) for _, path, total in sorted(pairs, key=lambda item: item[0])]

    @cached_property
    def _metrics_per_run(self) -> list[dict[str, float]]:
        return [run.metrics() for run in self.ok_runs]

    def metric_names(self) -> list[str]:
        """Every metric of the successful runs, phases first in run order."""
        names: dict[str, None] = {}
        for metrics in self._metrics_per_run:
            names.update(dict.fromkeys(metrics))
        return sorted(names, key=_metric_order)

    @cached_property
    def _values(self) -> dict[str, list[float]]:
        return {
            name: [metrics[name] for metrics in self._metrics_per_run if name in metrics]
            for name in self.metric_names()
        }

    def values_by_metric(self) -> dict[str, list[float]]:
        """Each metric's values over the successful runs."""
        return self._values

    def summaries(self) -> dict[str, Summary]:
        """Statistics of each metric over the successful runs."""
        return {name: summarize(values) for name, values in self.values_by_metric().items()}

    def sort_key(self) -> tuple:
        numbers = tuple(_as_number(self.config.get(key)) for key in LABEL_KEYS)
        rest = tuple(sorted((key, repr(value)) for key, value in self.config.items() if key not in LABEL_KEYS))
        return (self.kind, numbers, rest)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "config": self.config,
            "label": self.label,
            "n_runs": len(self.runs),
            "n_failed": len(self.failed_runs),
            "n_warmup_left_out": len(self.warmup_runs),
            "files": self.paths,
            "metrics": {name: summary.to_json() for name, summary in self.summaries().items()},
        }


def _metric_order(name: str) -> tuple[int, int]:
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


def group_results(results: Iterable[tuple[str, RunResult]], include_warmup: bool = False) -> list[Group]:
    """Group runs by configuration, sorted by kind then numerically by workers and threads."""
    groups: dict[tuple, Group] = {}
    for path, result in results:
        key = configuration_key(result)
        group = groups.setdefault(key, Group(result.kind, dict(result.config), include_warmup=include_warmup, key=key))
        group.runs.append(result)
        group.paths.append(path)
    ordered = sorted(groups.values(), key=Group.sort_key)
    _label(ordered)
    return ordered


def _label(groups: list[Group]) -> None:
    """Name each group by kind, workers, threads, and the settings that differ within its kind."""
    values: dict[tuple[str, str], set[str]] = {}
    for group in groups:
        for key, value in group.config.items():
            values.setdefault((group.kind, key), set()).add(repr(value))
    for group in groups:
        workers = group.config.get("n_workers")
        threads = group.config.get("threads_per_worker")
        parts = [_kind_name(group), f"{workers} workers", f"{threads} thread(s) per worker"]
        for key in sorted(group.config):
            if key not in LABEL_KEYS and key != "cluster_class" and len(values[(group.kind, key)]) > 1:
                parts.append(f"{SETTING_NAMES.get(key, key)}={_show(group.config[key])}")
        if all(run.schema_version == LEGACY_SCHEMA_VERSION for run in group.runs):
            parts.append("legacy flat files")
        group.label = ", ".join(parts)


def _kind_name(group: Group) -> str:
    """The kind, with the cluster manager's class name for clusters started by one."""
    cluster_class = group.config.get("cluster_class")
    if isinstance(cluster_class, str):
        return f"{group.kind} {cluster_class.replace(':', '.').rsplit('.', 1)[-1]}"
    return group.kind


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)


def total_times(group: Group) -> list[float]:
    return group.values_by_metric().get(TOTAL_KEY, [])


def summary_document(groups: list[Group], created: str) -> dict[str, Any]:
    """A study summary: per configuration, statistics of every metric."""
    return {
        "document": SUMMARY_DOCUMENT,
        "schema_version": SCHEMA_VERSION,
        "created": created,
        "describes": RESULT_DOCUMENT,
        "configurations": [group.to_json() for group in groups],
    }


