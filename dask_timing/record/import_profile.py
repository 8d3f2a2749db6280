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
"""

from __future__ import annotations

import glob
import os
import re
from collections import Counter
from typing import Any, Iterable

# How the figures were taken, as the result says it.
SOURCE = "PYTHONPROFILEIMPORTTIME in each worker's interpreter (distributed.nanny.pre-spawn-environ)"
TOP = 15
_LINE = re.compile(r"^import time:\s+(\d+) \|\s+\d+ \| *([\w.]+)\s*$")
MICROSECONDS = 1e-6


def package_seconds(lines: Iterable[str]) -> Counter:
    """Seconds of import time of each top-level package's own modules, over every interpreter's lines."""
    totals: Counter = Counter()
    for line in lines:
        found = _LINE.match(line)
        if found:
            totals[found[2].partition(".")[0]] += int(found[1]) * MICROSECONDS
    return totals


def log_sizes(patterns: list[str]) -> dict[str, int]:
    """The size of each existing log now, so that only what a run adds to it is read afterwards."""
    return {path: os.path.getsize(path) for pattern in patterns for path in glob.glob(pattern)}


def read_logs(patterns: list[str], skip: dict[str, int]) -> Counter:
    """The import times in the logs the patterns match, each read from where ``skip`` says the run began."""
    totals: Counter = Counter()
    for path in sorted({path for pattern in patterns for path in glob.glob(pattern)}):
        try:
            with open(path, encoding="utf-8", errors="replace") as log:
                log.seek(skip.get(path, 0))
                totals += package_seconds(log)
        except OSError:
            continue
    return totals


def profile(totals: Counter, workers: int) -> dict[str, Any]:
    """The result's import profile: the top packages in seconds per worker."""
    return {
        "source": SOURCE,
        "workers": workers,
        "top": [{"module": name, "seconds": seconds / workers} for name, seconds in totals.most_common(TOP)],
    }


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
