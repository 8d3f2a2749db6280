"""The order of releases and commits: one rule for every table, plot, history and export.

Releases sort by version as PEP 440 defines it (``packaging.version``): 2025.8.0
before 2025.10.0, a pre-release before its release; text sorts 2025.12.0 before
2025.7.0.  What is no version at all (a branch name, nothing recorded) comes after
every release, by its text.

Commits sort by a local git checkout's history (``git_commit_order``: oldest
first, along the first parents, merges included), or by the time each was
committed when the runs recorded it; a commit the checkout does not have comes
after those it has.

Usage::

    sorted(versions, key=release_key)
    sorted(environments, key=environment_key)
    rank = git_commit_order("/path/to/distributed")   # {full hash: position}
    sorted(revisions, key=lambda revision: commit_key(revision, rank))
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Mapping

from dask_timing.errors import UsageError, one_line
from dask_timing.record.schema import RunEnvironment

GIT_TIMEOUT = 60  # seconds for git to list a checkout's history


@lru_cache(maxsize=4096)
def release_key(text: str | None) -> tuple:
    """A sort key for a version string: releases in PEP 440 order, anything unparsable after them, by text."""
    if not text:  # nothing recorded (flat files, older results): after every release, and no parser loaded
        return (1, None, "")
    from packaging.version import InvalidVersion, Version

    try:
        return (0, Version(text), "")
    except InvalidVersion:
        return (1, None, text)


def environment_key(environment: RunEnvironment) -> tuple:
    """A sort key for an environment: by its distributed release, then its dask release, then its study's
    name, interpreter and Python (environments of one release in the order their names give)."""
    return (release_key(environment.packages.distributed), release_key(environment.packages.dask),
            *(str(part) for part in (environment.name, environment.python_executable, environment.python_version)))


def git_commit_order(checkout: str) -> dict[str, int]:
    """Every commit reachable from the checkout's HEAD, by its full hash: its position, oldest first.

    A folder that is not a git checkout (or git that is missing) is a UsageError, in one line.
    """
    import subprocess  # here: the analyzer, which imports this module for release order, runs no command

    try:
        listed = subprocess.run(["git", "-C", checkout, "rev-list", "--topo-order", "--reverse", "HEAD"],
                                capture_output=True, text=True, timeout=GIT_TIMEOUT)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise UsageError(f"cannot read the history of {checkout}: {one_line(error)}") from None
    if listed.returncode != 0:
        raise UsageError(f"{checkout} is not a git checkout with a commit "
                         f"({one_line(listed.stderr) or 'git rev-list failed'})")
    return {commit: position for position, commit in enumerate(listed.stdout.split())}


def commit_key(revision: str | None, order: Mapping[str, int] | None = None,
               committed: datetime | None = None) -> tuple:
    """A sort key for a recorded revision: its place in ``order`` (``git_commit_order``; a short hash is found
    by its prefix), else the time it was committed, else after both, by its text."""
    text = revision or ""
    if order and text:
        position = order.get(text)
        if position is None and len(text) >= 4:
            position = next((place for commit, place in order.items() if commit.startswith(text.lower())), None)
        if position is not None:
            return (0, position, datetime.min, text)
    if committed is not None:
        return (1, 0, committed.replace(tzinfo=None), text)
    return (2, 0, datetime.min, text)
