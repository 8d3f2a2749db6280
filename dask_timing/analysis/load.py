"""Finding result files (globs, folders) and reading each, noting the unusable ones and why."""

from __future__ import annotations

import fnmatch
import glob
import os
import re
from typing import Any, Iterable

import msgspec

from dask_timing.record.load import ResultFileError, SummaryFile, load_result
from dask_timing.record.schema import RunResult, TimedRun


class LoadedResults(msgspec.Struct):
    """What a set of glob patterns yielded."""

    results: list[tuple[str, TimedRun]] = []
    skipped: list[tuple[str, str]] = []
    summaries: list[str] = []
    empty_patterns: list[str] = []


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
    for pattern in patterns:
        if os.path.isdir(pattern):
            pattern = os.path.join(pattern, "*.json")
        matched = sorted(_matching_files(pattern))
        if not matched:
            empty.append(pattern)
        paths.extend(matched)
    if len(patterns) == 1:
        return paths, empty
    first_spelling = {}
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
    """(path, 'result' | 'summary' | 'skipped', the run or the reason) for each file."""
    outcomes: list[tuple[str, str, Any]] = []
    for path in paths:
        try:
            outcomes.append((path, "result", load_result(path, model)))
        except SummaryFile:
            outcomes.append((path, "summary", None))
        except ResultFileError as error:
            outcomes.append((path, "skipped", str(error)))
    return outcomes


def load(patterns: Iterable[str], model: type[TimedRun] = RunResult) -> LoadedResults:
    """Read every file the patterns match; keep results, note the rest and why.

    ``model=AnalyzedRun`` reads only what statistics need, the environment's identity
    included (enough for every text output); plots and the HTML report need the
    whole ``RunResult``.
    """
    paths, empty = expand(patterns)
    loaded = LoadedResults(empty_patterns=empty)
    for path, outcome, payload in read_files(paths, model):
        if outcome == "result":
            loaded.results.append((path, payload))
        elif outcome == "summary":
            loaded.summaries.append(path)
        else:
            loaded.skipped.append((path, payload))
    return loaded
