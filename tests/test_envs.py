"""dask-timing envs: the built environments listed (versions or commit, size, last use) and pruned, never
one a running study uses."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from conftest import REPOSITORY, STUDY, run_tool, signal_at
from helpers import assert_usage_error

pytestmark = [pytest.mark.timeout(300), pytest.mark.usefixtures("no_leftovers")]

DAY = 86400


def envs(arguments: list[str], cache) -> subprocess.CompletedProcess:
    return run_tool(["-m", "dask_timing", "envs", *arguments], env={"PYTHONPATH": REPOSITORY,
                                                                    "XDG_CACHE_HOME": str(cache)})


def built(cache, name: str, commit: str) -> str:
    """An environment built by the tool's own builder, sharing this interpreter's packages (nothing to download):
    the recipe of a commit, this repository's own folder standing in for the checkout it names."""
    code = ("import sys; from dask_timing.measure.environments import Recipe, build; "
            f"recipe = Recipe({name!r}, (), (('checkout', {REPOSITORY!r}), ('commit', {commit!r})), True); "
            "build(recipe, lambda line: None); print(recipe.python())")
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                               env={**os.environ, "PYTHONPATH": REPOSITORY, "XDG_CACHE_HOME": str(cache)})
    return completed.stdout.strip()


def age(python: str, days: float) -> None:
    """Make an environment look last used ``days`` ago (its marker's time is its last use)."""
    marker = os.path.join(os.path.dirname(os.path.dirname(python)), "dask-timing-environment.json")
    then = time.time() - days * DAY
    os.utime(marker, (then, then))


def test_environments_are_listed_and_pruned_by_age_and_by_size(tmp_path):
    cache = tmp_path / "cache"
    assert "No environment is built" in envs([], cache).stdout
    old, recent = built(cache, "git-x-aaaaaaaaaaaa-shared", "a" * 40), built(cache, "git-x-bbbbbbbbbbbb-shared", "b" * 40)
    age(old, 40)
    os.makedirs(cache / "dask-timing" / "envs" / os.path.basename(os.path.dirname(os.path.dirname(os.path.dirname(old))))
                / "2025.12.0")  # what an interrupted build leaves
    listed = envs([], cache)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0].startswith("3 environment(s) in ") and "name" in lines[1] and "last used" in lines[1]
    assert lines[-1].startswith("git-x-aaaaaaaaaaaa-shared  commit aaaaaaaaaaaa of ") and "40 days ago" in lines[-1]
    assert any(line.startswith("2025.12.0") and "incomplete" in line for line in lines)
    dry = envs(["prune", "--older-than", "30", "--dry-run"], cache)
    assert "Would remove git-x-aaaaaaaaaaaa-shared" in dry.stdout and os.path.exists(old)
    aged = envs(["prune", "--older-than", "30"], cache)
    assert aged.returncode == 0 and "Removed git-x-aaaaaaaaaaaa-shared" in aged.stdout, aged.stdout
    assert "Removed 2 environment(s)" in aged.stdout  # and what the interrupted build left
    assert not os.path.exists(old) and os.path.exists(recent)
    sized = envs(["prune", "--max-size", "0"], cache)
    assert "Removed 1 environment(s)" in sized.stdout and not os.path.exists(recent), sized.stdout
    for bad in (["prune"], ["prune", "--max-size", "lots"], ["prune", "--all", "--older-than", "3"],
                ["prune", "--older-than", "-1"], ["nosuch"]):
        assert_usage_error(envs(bad, cache))


def test_an_environment_a_running_study_uses_is_never_pruned(tmp_path):
    cache = tmp_path / "cache"
    python = built(cache, "git-x-cccccccccccc-shared", "c" * 40)
    age(python, 10)
    study = subprocess.Popen([STUDY, "--python", f"cached={python}", "--workers", "1", "--processes", "off",
                              "--runs", "3", "-o", str(tmp_path / "out")], stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "XDG_CACHE_HOME": str(cache)})
    try:
        for line in study.stdout:
            if line.startswith("=== 1/"):
                break
        pruned = envs(["prune", "--all"], cache)
        assert "Kept git-x-cccccccccccc-shared: a running study uses it" in pruned.stdout, pruned.stdout
        assert "just now" in envs([], cache).stdout  # the study marked it used
    finally:
        signal_at(study, "", signal.SIGTERM)
    assert os.path.exists(python)
    assert "Removed 1 environment(s)" in envs(["prune", "--all"], cache).stdout and not os.path.exists(python)
