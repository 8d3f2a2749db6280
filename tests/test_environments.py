"""Environments as an axis of a study: two interpreters interleaved, compared, never pooled; Dask versions built once."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time

import pytest
from conftest import ANALYZER, STUDY, read_json, run_tool, signal_at
from helpers import OTHER_RELEASE, assert_usage_error, pypi_has, wrapper_interpreter

pytestmark = [pytest.mark.timeout(240), pytest.mark.usefixtures("no_leftovers")]


@pytest.fixture(scope="module")
def interpreters(tmp_path_factory):
    folder = tmp_path_factory.mktemp("interpreters")
    return wrapper_interpreter(folder / "a"), wrapper_interpreter(folder / "b")


def results(folder):
    return [read_json(path) for path in folder.glob("local_*.json")]


def test_two_interpreters_run_interleaved_are_compared_and_never_pooled(interpreters, tmp_path):
    a, b = interpreters
    verdict_path = tmp_path / "verdict.json"
    completed = run_tool([STUDY, "--python", f"A={a}", "--python", f"B={b}", "--workers", "1", "--processes", "off",
                          "--runs", "4", "--verdict-json", str(verdict_path),
                          "-o", str(tmp_path / "out")], timeout=220)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert f"A: {a} (Python" in completed.stdout and "Preparing the environments took" in completed.stdout
    runs = sorted(results(tmp_path / "out"), key=lambda run: run["timestamp"])
    assert len(runs) == 8
    # Interleaved, as the result timestamps show; each run in its environment's interpreter, named.
    assert [run["environment"]["name"] for run in runs] == ["A", "B"] * 4
    assert {run["environment"]["name"]: run["environment"]["python_executable"] for run in runs} == {"A": a, "B": b}
    assert all(run["environment"]["load"]["load_per_cpu"] >= 0 for run in runs)
    assert "B is " in completed.stdout and " than A (95 % CI [" in completed.stdout and "n = 4 + 4)" in completed.stdout
    verdicts = read_json(verdict_path)  # no gate asked: compared (the gate's outcomes: test_gates.py)
    assert (verdicts["outcome"], verdicts["exit_code"], verdicts["threshold_percent"]) == ("compared", 0, None)
    (total,) = [row for row in verdicts["verdicts"] if row["metric"] == "total_time"]
    assert (total["baseline_name"], total["new_name"], total["n_baseline"], total["n_new"]) == ("A", "B", 4, 4)
    assert not total["gated"] and total["sentence"].startswith("B is ")
    # The analyzer keeps the two environments apart and compares them the same way.
    analyzed = run_tool([ANALYZER, str(tmp_path / "out"), "--compare", "--baseline-env", "A",
                         "--markdown", str(tmp_path / "report.md"), "--csv", str(tmp_path / "report.csv")])
    assert analyzed.returncode == 0, analyzed.stdout + analyzed.stderr
    assert "Only one configuration" not in analyzed.stdout
    assert "1 thread(s) per worker, env=A" in analyzed.stdout and "1 thread(s) per worker, env=B" in analyzed.stdout
    assert "| B / A | total_time | 4 + 4 |" in (tmp_path / "report.md").read_text()
    with open(tmp_path / "report.csv", newline="") as stream:  # an environment's columns, for pandas
        totals = [row for row in csv.DictReader(stream) if row["metric"] == "total_time"]
    assert {row["environment"]: (row["python_executable"], row["n"]) for row in totals} == {"A": (a, "4"), "B": (b, "4")}
    assert all(row["dask"] and row["distributed"] and row["python_version"] for row in totals)
    unknown = run_tool([ANALYZER, str(tmp_path / "out"), "--baseline-env", "C"])
    assert_usage_error(unknown)
    assert "environments are A, B" in unknown.stderr


def test_an_interrupted_comparison_resumes_in_its_environments(interpreters, tmp_path):
    a, b = interpreters
    study = subprocess.Popen([STUDY, "--python", f"A={a}", "--python", f"B={b}", "--workers", "1", "--processes",
                              "off", "--runs", "2", "-o", str(tmp_path)], stdout=subprocess.PIPE, text=True)
    signal_at(study, "✓ total time to ready", timeout=120)
    assert study.returncode == 143
    resumed = run_tool([STUDY, "-o", str(tmp_path), "--resume", "--fail-if-slower", "1000"], timeout=200)
    assert resumed.returncode == 3, resumed.stdout + resumed.stderr  # 2 runs a side: too few for any verdict
    assert "run at least 4 of each" in resumed.stdout
    assert f"B: {b} (Python" in resumed.stdout and "B is " in resumed.stdout
    runs = sorted(results(tmp_path), key=lambda run: run["timestamp"])
    assert [run["environment"]["name"] for run in runs] == ["A", "B", "A", "B"]


def test_an_interpreter_without_the_requirements_is_refused_before_anything_starts(tmp_path):
    bare = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(bare)], check=True)
    work = tmp_path / "work"
    work.mkdir()
    for python in (bare / "bin" / "python", "/bin/true" if os.path.exists("/bin/true") else tmp_path / "none"):
        completed = run_tool([STUDY, "--python", f"A={python}", "--python", f"B={sys.executable}"], cwd=work)
        assert_usage_error(completed)
        assert f"--python A={python}" in completed.stderr
    assert "lacks dask, distributed" in run_tool([STUDY, "--python", f"A={bare / 'bin' / 'python'}"], cwd=work).stderr
    assert list(work.iterdir()) == []


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_another_release_of_distributed_is_built_once_compared_and_never_pooled(tmp_path):
    if not pypi_has(OTHER_RELEASE):
        pytest.skip(f"the package index has no distributed {OTHER_RELEASE} here")
    pip_cache = subprocess.run([sys.executable, "-m", "pip", "cache", "dir"], capture_output=True, text=True).stdout
    environment = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    if pip_cache.strip():  # a fresh cache folder for the environments, pip's downloads kept
        environment["PIP_CACHE_DIR"] = pip_cache.strip()
    study = [STUDY, "--dask-versions", OTHER_RELEASE, "--python", f"installed={sys.executable}", "--workers", "1",
             "--processes", "off", "--runs", "2"]
    # Interrupted while building: nothing a later study would use is left.
    interrupted = subprocess.Popen([*study, "-o", str(tmp_path / "first")], stdout=subprocess.PIPE, text=True,
                                   env=environment, start_new_session=True)
    try:
        assert "Building the environment" in interrupted.stdout.readline()
        time.sleep(3)
        os.killpg(interrupted.pid, signal.SIGKILL)
    finally:
        interrupted.wait(timeout=60)
    built = list((tmp_path / "cache" / "dask-timing" / "envs").glob(f"*/{OTHER_RELEASE}/dask-timing-environment.json"))
    assert built == []
    # Built, then used.
    first = subprocess.run([*study, "-o", str(tmp_path / "first")], capture_output=True, text=True, env=environment,
                           timeout=500)
    assert first.returncode == 0, first.stdout + first.stderr
    assert f"built: dask-{OTHER_RELEASE}" in first.stdout
    versions = {run["environment"]["name"]: run["environment"]["packages"]["distributed"]
                for run in results(tmp_path / "first")}
    assert versions == {"installed": subprocess.run([sys.executable, "-c", "import distributed; print(distributed.__version__)"],
                                                    capture_output=True, text=True).stdout.strip(),
                        f"dask-{OTHER_RELEASE}": OTHER_RELEASE}
    assert f"dask-{OTHER_RELEASE} is " in first.stdout and "than installed (95 % CI" in first.stdout
    # Reused by a later study; the analyzer never pools the two releases.
    second = subprocess.run([*study, "--runs", "1", "-o", str(tmp_path / "second")], capture_output=True, text=True,
                            env=environment, timeout=300)
    assert second.returncode == 0, second.stdout + second.stderr
    assert f"cached: dask-{OTHER_RELEASE}" in second.stdout and "Building" not in second.stdout
    analyzed = run_tool([ANALYZER, str(tmp_path / "first"), str(tmp_path / "second"), "--compare"])
    assert analyzed.returncode == 0, analyzed.stderr
    assert analyzed.stdout.count("Configuration: local, 1 workers") == 2
    unknown = subprocess.run([*study[:2], "1999.1.1", "-o", str(tmp_path / "third")], capture_output=True, text=True,
                             env=environment, timeout=300)
    assert_usage_error(unknown)
    assert "1999.1.1 cannot be installed" in unknown.stderr and not (tmp_path / "third").exists()
