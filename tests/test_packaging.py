"""The package people install: pip install, the dask-timing and `dask timing` commands, honest hints."""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
import tomllib

import pytest
from conftest import ANALYZER, COMPARE_SCHEDULERS, DISTRIBUTED_TOOL, LOCAL_TOOL, REPOSITORY, STUDY, read_json

SCRIPTS = [LOCAL_TOOL, DISTRIBUTED_TOOL, ANALYZER, COMPARE_SCHEDULERS]


def requirement_lines(name: str) -> list[str]:
    with open(os.path.join(REPOSITORY, name), encoding="utf-8") as stream:
        return [line.strip() for line in stream if line.strip() and not line.startswith("#")]


def test_requirements_files_agree_with_pyproject():
    """pyproject.toml holds the dependencies; the requirements files a clone installs say the same."""
    with open(os.path.join(REPOSITORY, "pyproject.toml"), "rb") as stream:
        project = tomllib.load(stream)["project"]
    extras = project["optional-dependencies"]
    assert sorted(requirement_lines("requirements.txt")) == sorted(
        project["dependencies"] + extras["jobqueue"] + extras["history"])
    test_lines = requirement_lines("requirements-test.txt")
    assert test_lines[0] == "-r requirements.txt"
    assert sorted(test_lines[1:]) == sorted(set(extras["test"]) - set(extras["jobqueue"]) - set(extras["history"]))


def test_pyproject_requires_the_python_the_scripts_check_for():
    """The minimum Python has its home in ``entry`` (read by any interpreter); pip's metadata says the same."""
    from dask_timing.entry import MINIMUM_PYTHON

    with open(os.path.join(REPOSITORY, "pyproject.toml"), "rb") as stream:
        project = tomllib.load(stream)["project"]
    assert project["requires-python"] == ">=" + ".".join(map(str, MINIMUM_PYTHON))


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The package installed with pip (from a copy of this checkout) into a folder of its own."""
    source = tmp_path_factory.mktemp("source") / "dask-timing"
    # a copy, so the build leaves nothing in the checkout
    shutil.copytree(REPOSITORY, source, ignore=shutil.ignore_patterns(".git", "build", "*.egg-info", "__pycache__"))
    target = tmp_path_factory.mktemp("site")
    completed = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-compile", "--target", str(target),
         str(source)],
        capture_output=True, text=True, timeout=300,
    )
    assert completed.returncode == 0, completed.stderr
    environment = {**os.environ, "PYTHONPATH": str(target)}
    return target, environment


def run_installed(installed, arguments: list[str], cwd, timeout: float = 120) -> subprocess.CompletedProcess:
    target, environment = installed
    return subprocess.run(arguments, cwd=cwd, env=environment, capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


@pytest.mark.timeout(400)
def test_pip_install_gives_the_dask_timing_command(installed, tmp_path):
    target, _ = installed
    command = str(target / "bin" / "dask-timing")
    help_text = run_installed(installed, [command, "--help"], tmp_path)
    assert help_text.returncode == 0, help_text.stderr
    for name in ("local", "processes", "study", "analyze", "schedulers"):
        assert re.search(rf"^  {name} ", help_text.stdout, re.M)
    version = run_installed(installed, [command, "--version"], tmp_path)
    assert version.returncode == 0 and re.fullmatch(r"dask-timing \d+\.\d+\.\d+\n", version.stdout)
    unknown = run_installed(installed, [command, "nosuch"], tmp_path)
    assert unknown.returncode == 2 and len(unknown.stderr.strip().splitlines()) == 1
    assert "unknown command 'nosuch'" in unknown.stderr


@pytest.mark.timeout(400)
def test_dask_timing_sits_in_dasks_own_command_line(installed, tmp_path):
    """Registered in the dask_cli entry-point group, as distributed registers `dask scheduler`."""
    listing = run_installed(installed, [sys.executable, "-m", "dask", "--help"], tmp_path)
    assert listing.returncode == 0, listing.stderr
    assert re.search(r"^\s+timing\s", listing.stdout, re.M)
    help_text = run_installed(installed, [sys.executable, "-m", "dask", "timing", "--help"], tmp_path)
    assert help_text.returncode == 0, help_text.stderr
    assert help_text.stdout.startswith("usage: dask timing COMMAND")
    local_help = run_installed(installed, [sys.executable, "-m", "dask", "timing", "local", "--help"], tmp_path)
    assert local_help.returncode == 0 and "usage: dask timing local" in local_help.stdout


@pytest.mark.timeout(400)
def test_installed_study_runs_without_the_checkout(installed, tmp_path):
    """The installed command times real runs from any folder: nothing needs the clone's scripts."""
    target, _ = installed
    study = run_installed(
        installed,
        [str(target / "bin" / "dask-timing"), "study", "--type", "local", "--workers", "1", "--runs", "1",
         "--output-dir", "out"],
        tmp_path, timeout=180,
    )
    assert study.returncode == 0, study.stdout[-2000:] + study.stderr
    results = [name for name in os.listdir(tmp_path / "out") if name.startswith("local_w1_t1_run")]
    assert len(results) == 1
    result = read_json(tmp_path / "out" / results[0])
    assert result["status"] == "ok" and result["total_time"] > 0
    # the run was the installed copy's `python -m dask_timing local`, not a script of this checkout
    assert result["command_line"][1:3] == [str(target / "dask_timing" / "__main__.py"), "local"]


@pytest.mark.parametrize("script", SCRIPTS)
def test_a_missing_requirement_is_one_line(script, tmp_path):
    """Without the project's requirements (no site-packages at all) each script says what to install."""
    completed = subprocess.run([sys.executable, "-S", script, "--help"], capture_output=True, text=True, timeout=60,
                               cwd=tmp_path)
    assert completed.returncode == 2
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1, completed.stderr
    assert "is not installed" in lines[0] and "pip install" in lines[0]
    assert "Traceback" not in completed.stderr


def test_the_study_wrapper_names_a_missing_requirement(tmp_path):
    bare = tmp_path / "bare-python"
    bare.write_text(f"#!/bin/sh\nexec {sys.executable} -S \"$@\"\n")
    bare.chmod(0o755)
    completed = subprocess.run([STUDY, "--help"], capture_output=True, text=True, timeout=60,
                               env={**os.environ, "PYTHON": str(bare)})
    assert completed.returncode == 2
    assert len(completed.stderr.strip().splitlines()) == 1 and "is not installed" in completed.stderr


def test_an_interpreter_too_old_gets_one_line():
    """The scripts' entry checks the interpreter before loading anything it could not parse."""
    source = open(os.path.join(REPOSITORY, "dask_timing", "entry.py"), encoding="utf-8").read()
    ast.parse(source, feature_version=(3, 4))  # no syntax a very old Python 3 cannot read
    code = ("import sys, dask_timing.entry as entry; entry.MINIMUM_PYTHON = (99,); sys.argv = ['x', '--help']; "
            "sys.exit(entry.run_script('local'))")
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                               cwd=REPOSITORY)
    assert completed.returncode == 2 and completed.stdout == ""
    assert completed.stderr.startswith("time_local_cluster.py: error: dask-timing needs Python 99 or newer;")
    assert len(completed.stderr.strip().splitlines()) == 1


def test_python_dash_m_is_the_same_command():
    completed = subprocess.run([sys.executable, "-m", "dask_timing", "analyze", "--help"], capture_output=True,
                               text=True, timeout=60, cwd=REPOSITORY)
    assert completed.returncode == 0 and completed.stdout.startswith("usage: dask-timing analyze")
