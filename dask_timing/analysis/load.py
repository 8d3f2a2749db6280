"""Finding result files (globs, folders) and reading each, noting the unusable ones and why."""

from __future__ import annotations

import fnmatch
import glob
import os
import re
from typing import Any, Iterable

import msgspec

from dask_timing.record.kinds import KIND_SCHEDULERS
from dask_timing.record.load import ResultFileError, SummaryFile, load_result
from dask_timing.record.schema import RunEnvironment, RunResult, TimedRun


class LoadedResults(msgspec.Struct):
    """What a set of glob patterns yielded."""

    results: list[tuple[str, TimedRun]] = []
    skipped: list[tuple[str, str]] = []
    left_out: list[tuple[str, str]] = []  # results read but not counted, and why (a copy of a run, another measure)
    summaries: list[str] = []
    empty_patterns: list[str] = []

    def unused(self) -> str:
        """What the files matched were instead of counted results, e.g. "2 unusable, 1 summary or manifest"."""
        found = [f"{len(files)} {what}" for what, files in (
            ("unusable (see the warnings)", self.skipped), ("left out (see the warnings)", self.left_out),
            ("study summary, manifest or verdict file(s)", self.summaries)) if files]
        return ", ".join(found) or "no file matches"

    def warnings(self) -> list[str]:
        """A line for each pattern that matched nothing and each file left out, saying why."""
        return ([f"no file matches {pattern!r}" for pattern in self.empty_patterns]
                + [f"skipped {path}: {reason}" for path, reason in self.skipped]
                + [f"left out {path}: {reason}" for path, reason in self.left_out])


def expand(patterns: Iterable[str]) -> tuple[list[str], list[str]]:
    """Paths matched by the patterns (a folder means its *.json), and patterns matching nothing.

    A file that several patterns match counts once, however each spells it
    (``results/*.json ./results/r1.json``, a symbolic link): counted twice, its
    run would weigh double in every statistic.  One pattern spells each file
    once, so the real paths are compared only when there are several.
    """
    patterns = list(patterns)
    paths: list[str] = []
    empty: list[str] = []
    matching = 0
    for pattern in patterns:
        if os.path.isdir(pattern):
            pattern = os.path.join(pattern, "*.json")
        matched = sorted(_matching_files(pattern))
        if not matched:
            empty.append(pattern)
        matching += bool(matched)
        paths.extend(matched)
    if matching < 2:
        return paths, empty  # one pattern's matches are distinct: the everyday case costs nothing more
    first_spelling: dict[str, str] = {}
    for path in paths:
        first_spelling.setdefault(os.path.realpath(path), path)
    return list(first_spelling.values()), empty


def _matching_files(pattern: str) -> list[str]:
    """Files matching a glob pattern (directories named like results are left out).

    The everyday pattern, ``folder/*.json``, is answered from one directory
    listing whose entries already say whether they are files; other patterns
    go through ``glob``, which checks each match with a system call of its own.
    """
    folder, name = os.path.split(pattern)
    if _has_wildcard(folder) or not _has_wildcard(name) or "**" in name:
        return [path for path in glob.glob(pattern, recursive=True) if os.path.isfile(path)]
    matches = re.compile(fnmatch.translate(name)).match
    hidden_too = name.startswith(".")  # as glob: a leading dot is matched only by a leading dot
    try:
        with os.scandir(folder or os.curdir) as entries:
            return [
                entry.path if folder else entry.name for entry in entries
                if matches(entry.name) and (hidden_too or not entry.name.startswith(".")) and entry.is_file()
            ]
    except OSError:
        return []


def _has_wildcard(text: str) -> bool:
    return any(character in text for character in "*?[")


def read_files(paths: list[str], model: type[TimedRun]) -> list[tuple[str, str, Any]]:
    """(path, 'result' | 'summary' | 'skipped', the run or the reason) for each file, in order.

    Read by the calling thread alone: every open, read and close hands the interpreter's lock over, and
    threads sharing it spent a third more processor time than they saved, whether the machine was quiet
    or busy (``benchmarks/bench_analyzer_speed.py``).
    """
    shared: dict[Any, Any] = {}
    outcomes: list[tuple[str, str, Any]] = []
    for path in paths:
        try:
            run = load_result(path, model)
            _share(run, shared)
            outcomes.append((path, "result", run))
        except SummaryFile:
            outcomes.append((path, "summary", None))
        except ResultFileError as error:
            outcomes.append((path, "skipped", str(error)))
    return outcomes


def _share(run: TimedRun, shared: dict[Any, Any]) -> None:
    """What the runs of one configuration repeat (its settings, and its environment but for the machine's
    load) made one object for them all, kept in ``shared``: the runs of a big study in half the memory."""
    run.config = shared.setdefault(msgspec.json.encode(run.config), run.config)
    environment = getattr(run, "environment", None)
    if not isinstance(environment, RunEnvironment):  # what the analyzer reads of it (whole runs keep it whole)
        return
    if environment.load is None:  # none recorded (flat files, older results): shared as it is
        run.environment = shared.setdefault(environment, environment)
    else:
        unloaded = msgspec.structs.replace(environment, load=None)
        run.environment = msgspec.structs.replace(shared.setdefault(unloaded, unloaded), load=environment.load)


def load(patterns: Iterable[str], model: type[TimedRun] = RunResult) -> LoadedResults:
    """Read every file the patterns match; keep results, note the rest and why.

    ``model=AnalyzedRun`` reads only what statistics need, the environment's identity
    included (enough for every text output); plots and the HTML report need the
    whole ``RunResult``.
    """
    paths, empty = expand(patterns)
    loaded = LoadedResults(empty_patterns=empty)
    first_file_of_run: dict[str, str] = {}
    for path, outcome, payload in read_files(paths, model):
        if outcome == "result" and payload.run_id in first_file_of_run:
            # A copy of a run (two folders, a backup) counted twice would narrow every interval.
            loaded.left_out.append((path, f"the same run as {first_file_of_run[payload.run_id]} (one run_id), "
                                          "counted once"))
        elif outcome == "result":
            if payload.run_id:
                first_file_of_run[payload.run_id] = path
            loaded.results.append((path, payload))
        elif outcome == "summary":
            loaded.summaries.append(path)
        else:
            loaded.skipped.append((path, payload))
    _set_apart_scheduler_runs(loaded)
    return loaded


def _set_apart_scheduler_runs(loaded: LoadedResults) -> None:
    """Scheduler comparisons time a computation, not a cluster's startup: among startup results they
    would be ranked and costed against them, so they are left out, each said (analyzed alone, they are read)."""
    kinds = {run.kind for _, run in loaded.results}
    if KIND_SCHEDULERS not in kinds or len(kinds) == 1:
        return
    loaded.left_out += [(path, "a scheduler comparison (compute time), among results of a cluster's startup: "
                               "analyze the two apart") for path, run in loaded.results if run.kind == KIND_SCHEDULERS]
    loaded.results = [(path, run) for path, run in loaded.results if run.kind != KIND_SCHEDULERS]


def shared_runs(first: LoadedResults, second: LoadedResults) -> list[str]:
    """The files of ``second`` whose runs ``first`` holds too (one run_id, or one file)."""
    seen = {run.run_id for _, run in first.results if run.run_id}
    seen_files = {os.path.realpath(path) for path, _ in first.results}  # one file, as ``expand`` tells files
    return [path for path, run in second.results if run.run_id in seen or os.path.realpath(path) in seen_files]
