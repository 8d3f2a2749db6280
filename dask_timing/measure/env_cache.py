"""The built environments in the user's cache (``measure.environments``): what each is, its size, when a
study last used it; and removing them, never one a running study uses.

A study holds a shared lock on each built environment it runs in (``environments.in_use``) and a build holds
it exclusively: an environment is removed only under its lock taken exclusively without waiting, so one
in use or being built is left where it is, and said to be.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from dataclasses import dataclass
from typing import Iterator

from dask_timing.measure.environments import COMPLETE_MARKER, cache_root, lock_path

DAY = 86400.0


@dataclass(frozen=True)
class CachedEnvironment:
    """One folder of the cache: a built environment, or what an interrupted build left."""

    folder: str
    name: str  # the folder's name: a release, or git-<checkout>-<commit>
    interpreter: str  # the interpreter it was made from (implementation, version, which installation)
    what: str  # the versions it holds, or the commit it was built from
    size: int  # bytes
    last_used: float  # epoch seconds: the last study that ran in it, else its build
    complete: bool

    def age_days(self, now: float) -> float:
        return (now - self.last_used) / DAY


def _what(marker: dict) -> str:
    """The versions or the commit a built environment holds, as its marker says."""
    if "commit" in marker:
        shared = ", sharing its interpreter's packages" if marker.get("system_site_packages") else ""
        return f"commit {marker['commit'][:12]} of {marker.get('checkout', '?')}{shared}"
    return ", ".join(f"{name} {marker[name]}" for name in ("dask", "distributed") if name in marker)


def folder_size(folder: str) -> int:
    """Bytes of the files under ``folder`` (links counted as links, never followed)."""
    total = 0
    for parent, _, names in os.walk(folder):
        for name in names:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(parent, name)).st_size
    return total


def cached_environments() -> list[CachedEnvironment]:
    """Every environment folder of the cache, of every interpreter, the most recently used first."""
    root, found = cache_root(), []
    if not os.path.isdir(root):
        return found
    for interpreter in sorted(os.listdir(root)):
        parent = os.path.join(root, interpreter)
        if not os.path.isdir(parent):
            continue
        for name in sorted(os.listdir(parent)):
            folder = os.path.join(parent, name)
            if not os.path.isdir(folder) or os.path.islink(folder):
                continue
            marker_path = os.path.join(folder, COMPLETE_MARKER)
            try:
                with open(marker_path) as stream:
                    marker = json.load(stream)
                what, complete, used = _what(marker), True, os.path.getmtime(marker_path)
            except (OSError, ValueError):
                what, complete, used = "incomplete: a build that did not finish", False, os.path.getmtime(folder)
            found.append(CachedEnvironment(folder, name, interpreter, what, folder_size(folder), used, complete))
    return sorted(found, key=lambda environment: environment.last_used, reverse=True)


def chosen_for_pruning(environments: list[CachedEnvironment], everything: bool = False,
                       older_than_days: float | None = None, max_size: int | None = None,
                       now: float | None = None) -> list[CachedEnvironment]:
    """Which to remove: all; or what interrupted builds left, those last used more than ``older_than_days``
    ago, and then the least recently used until the rest fit in ``max_size`` bytes."""
    if everything:
        return list(environments)
    now = time.time() if now is None else now
    chosen = [environment for environment in environments if not environment.complete
              or (older_than_days is not None and environment.age_days(now) > older_than_days)]
    if max_size is not None:
        kept = 0
        for environment in sorted(environments, key=lambda environment: environment.last_used, reverse=True):
            if environment in chosen:
                continue
            if kept + environment.size <= max_size:
                kept += environment.size
            else:
                chosen.append(environment)
    return chosen


@contextlib.contextmanager
def _unused(folder: str) -> Iterator[bool]:
    """Its lock taken exclusively, without waiting: False while a study runs in it or a build is under way."""
    import fcntl

    with open(lock_path(folder), "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def remove(environment: CachedEnvironment) -> bool:
    """Remove an environment unless it is in use (True: removed).  Its lock file stays: a study waiting on it
    would otherwise hold a lock no one else sees."""
    with _unused(environment.folder) as free:
        if free:
            shutil.rmtree(environment.folder)
        return free
