"""Which modules the workers' interpreters spent their start importing (``--import-profile``).

With ``PYTHONPROFILEIMPORTTIME`` set, Python prints one line per import on
standard error as it goes: ``import time: self [us] | cumulative | name``,
nested imports indented.  Nannies set it for the worker processes they start
(``Nanny.pre_spawn_env``, Dask's ``distributed.nanny.pre-spawn-environ``),
so the worker's interpreter profiles its whole start and the nanny's does not.

Each top-level package (``distributed``, ``bokeh``, ``numpy``) is counted by
the time its own modules took to import: the self times of all of them
(``bokeh``, ``bokeh.models``...), whoever imported them.  The figures do not
overlap (``distributed`` does not include the ``numpy`` it imports) and add
up to the interpreter's whole import time; a package whose ``__init__`` is
lazy (bokeh's) is counted by all its modules, not by its root's import
alone.  The lines of every worker's interpreter are added up and divided by
the number of workers: seconds per worker.  Lines of several workers may
interleave in one log (LocalCluster's workers share this process's standard
error): each line stands alone, so that does not matter.

Where each worker writes a log of its own (a worker process started here,
``worker-3.log``), each worker's figures are kept apart too (``by_worker``): a
cause in one worker stays that worker's, never spread over the others.  What
brought a package in is read from the nesting (a module's imports are printed
before it, one level deeper): ``chains`` holds, for each package, the packages
that imported it, outermost first (``slowpkg``: ``site``, ``sitecustomize``);
``processes`` how many of the workers' interpreters imported a package that not
all of them did (one interpreter's slow import, even in a shared log).
"""

from __future__ import annotations

import glob
import os
import re
from collections import Counter
from typing import Any, Iterable, NamedTuple

# How the figures were taken, as the result says it.
SOURCE = "PYTHONPROFILEIMPORTTIME in each worker's interpreter (distributed.nanny.pre-spawn-environ)"
TOP = 15
_LINE = re.compile(r"^import time:\s+(\d+) \|\s+\d+ \|( *)([\w.]+)\s*$")
MICROSECONDS = 1e-6
# A worker's own figures keep the packages of at least this many seconds (the others are noise).
WORKER_FLOOR = 0.001


def package_seconds(lines: Iterable[str]) -> Counter:
    """Seconds of import time of each top-level package's own modules, over every interpreter's lines."""
    return read_lines(lines).totals


class ImportLines(NamedTuple):
    """What the import-time lines of one log say: each top-level package's seconds (its own modules'), the
    chain of packages that first brought each in (outermost first), and how many interpreters imported it
    (the lines that import its root module: one an interpreter)."""

    totals: Counter
    chains: dict[str, list[str]]
    processes: Counter


def read_lines(lines: Iterable[str]) -> ImportLines:
    """The import times of one log's lines (lines of interleaved interpreters may hide a chain, never invent
    one that no line shows)."""
    totals: Counter = Counter()
    processes: Counter = Counter()
    parents: dict[str, str] = {}
    waiting: dict[int, list[str]] = {}  # by depth: packages whose importer is not printed yet
    for line in lines:
        found = _LINE.match(line)
        if not found:
            continue
        package, depth = found[3].partition(".")[0], len(found[2]) // 2
        totals[package] += int(found[1]) * MICROSECONDS
        processes[package] += package == found[3]
        for deeper in [level for level in waiting if level > depth]:
            for child in waiting.pop(deeper):
                if child != package:
                    parents.setdefault(child, package)
        waiting.setdefault(depth, []).append(package)
    return ImportLines(totals, {package: _chain(package, parents) for package in totals if package in parents},
                       processes)


def _chain(package: str, parents: dict[str, str]) -> list[str]:
    """The packages that brought ``package`` in, outermost first (a cycle, as ``asyncio`` and ``_asyncio``
    import each other, ends it)."""
    chain: list[str] = []
    seen = {package}
    while parents.get(package) is not None and parents[package] not in seen:
        package = parents[package]
        seen.add(package)
        chain.insert(0, package)
    return chain


def log_sizes(patterns: list[str]) -> dict[str, int]:
    """The size of each existing log now, so that only what a run adds to it is read afterwards."""
    return {path: os.path.getsize(path) for pattern in patterns for path in glob.glob(pattern)}


def read_logs(patterns: list[str], skip: dict[str, int]) -> dict[str, ImportLines]:
    """Each log the patterns match, by its name without ``.log``: what its import-time lines say, read from
    where ``skip`` says the run began; logs without import times are left out."""
    found = {}
    for path in sorted({path for pattern in patterns for path in glob.glob(pattern)}):
        try:
            with open(path, encoding="utf-8", errors="replace") as log:
                log.seek(skip.get(path, 0))
                lines = read_lines(log)
        except OSError:
            continue
        if lines.totals:
            found[os.path.splitext(os.path.basename(path))[0]] = lines
    return found


def profile(totals: Counter, workers: int, by_worker: dict[str, Counter] | None = None,
            chains: dict[str, list[str]] | None = None, processes: Counter | None = None) -> dict[str, Any]:
    """The result's import profile: the top packages in seconds per worker; each worker's own packages
    where its log was its own (``by_worker``), what brought each top package in (``chains``), and the top
    packages fewer of the workers' interpreters imported than there are workers (``processes``)."""
    top = totals.most_common(TOP)
    found: dict[str, Any] = {
        "source": SOURCE,
        "workers": workers,
        "top": [{"module": name, "seconds": seconds / workers} for name, seconds in top],
    }
    if by_worker:
        found["by_worker"] = {name: {module: seconds for module, seconds in counts.most_common(TOP)
                                     if seconds >= WORKER_FLOOR} for name, counts in by_worker.items()}
    kept = {name: chains[name] for name, _ in top if chains and chains.get(name)}
    if kept:
        found["chains"] = kept
    fewer = {name: processes[name] for name, _ in top if processes and 0 < processes[name] < workers}
    if fewer:
        found["processes"] = fewer
    return found


def merge(profiles: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Profiles of several runs as one: seconds per worker over all their workers (only their top modules
    are recorded, so a module that misses one run's top list counts zero there)."""
    usable = [found for found in profiles if found and found.get("top")]
    if not usable:
        return None
    workers = sum(found["workers"] for found in usable)
    totals: Counter = Counter()
    for found in usable:
        for entry in found["top"]:
            totals[entry["module"]] += entry["seconds"] * found["workers"]
    return profile(totals, workers)
