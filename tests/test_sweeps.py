"""Sweeps on real clusters: interleaved order, knobs recorded, scaling and weak scaling, resume."""

from __future__ import annotations

import re
import subprocess

import pytest
from conftest import ANALYZER, STUDY, read_json, run_tool, signal_at

pytestmark = [pytest.mark.timeout(240), pytest.mark.usefixtures("no_leftovers")]


def results(folder):
    return sorted(path for path in folder.glob("local_*.json"))


def test_sweep_interleaves_and_reports_scaling(tmp_path):
    completed = run_tool([STUDY, "-w", "1,2", "--start-method", "fork", "-r", "2", "--workload", "weak-array",
                          "--workload-chunk", "200", "-o", str(tmp_path)], timeout=220)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    order = re.findall(r"=== \d/4: (local_w\d_t1_fork), run (\d) of 2", completed.stdout)
    assert order == [("local_w1_t1_fork", "1"), ("local_w2_t1_fork", "1"),
                     ("local_w1_t1_fork", "2"), ("local_w2_t1_fork", "2")]
    assert "left)" in completed.stdout  # an estimate of the time left
    runs = [read_json(path) for path in results(tmp_path)]
    assert len(runs) == 4
    assert {run["config"]["start_method"] for run in runs} == {"fork"}
    assert {run["config"]["workload"] for run in runs} == {"weak-array"}
    assert all(run["workload_weak_array_time"] > 0 for run in runs)
    assert "CONFIGURATION COMPARISON" in completed.stdout  # configurations ranked at the end
    assert "SCALING WITH THE NUMBER OF WORKERS" in completed.stdout
    assert "weak scaling" in completed.stdout and "E = 1.00" in completed.stdout
    (manifest,) = tmp_path.glob("study_*.json")
    assert read_json(manifest)["runs"] == 2
    analyzed = run_tool([ANALYZER, str(tmp_path), "--plot", "--plot-dir", str(tmp_path / "plots")])
    assert analyzed.returncode == 0, analyzed.stderr
    assert {"timing_scaling.png", "timing_weak_scaling.png"} <= {path.name for path in (tmp_path / "plots").iterdir()}


def test_an_interrupted_study_resumes_without_redoing_runs(tmp_path):
    study = subprocess.Popen([STUDY, "-w", "1", "--start-method", "fork", "-r", "3", "-o", str(tmp_path)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, _, stderr = signal_at(study, "✓ total time to ready", timeout=120)
    assert study.returncode == 143
    assert "--resume" in stderr
    done_before = [path for path in results(tmp_path) if read_json(path)["status"] == "ok"]
    assert 1 <= len(done_before) < 3
    before = {path.name: path.read_bytes() for path in done_before}
    resumed = run_tool([STUDY, "-o", str(tmp_path), "--resume"], timeout=200)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert f"Resuming: {len(done_before)} of 3 run(s) already done" in resumed.stdout
    finished = [read_json(path) for path in results(tmp_path)]
    assert [run["status"] for run in finished] == ["ok", "ok", "ok"]
    assert all((tmp_path / name).read_bytes() == content for name, content in before.items())


def test_types_are_interleaved_in_one_study(tmp_path):
    completed = run_tool([STUDY, "--type", "local,distributed,cluster", "--cluster-class", "distributed:LocalCluster",
                          "--cluster-kwargs", '{"threads_per_worker": 1}', "--processes", "off", "--nanny", "off",
                          "-w", "1", "-r", "2", "-o", str(tmp_path)], timeout=220)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "Study type: local, distributed, cluster" in completed.stdout
    runs = sorted((read_json(path) for path in tmp_path.glob("*_run00*.json")), key=lambda run: run["timestamp"])
    assert [run["kind"] for run in runs] == ["local", "distributed", "cluster"] * 2
    assert {run["kind"]: run["config"].get("processes", run["config"].get("nanny")) for run in runs} == {
        "local": False, "distributed": False, "cluster": None}
    assert read_json(next(tmp_path.glob("study_*.json")))["types"] == ["local", "distributed", "cluster"]


def test_combinations_that_cannot_differ_are_left_out_with_a_note():
    """A start method means nothing for thread workers or workers without a nanny: one configuration each."""
    from dask_timing.study.plan import PLAN_OPTIONS, Plan

    options = dict.fromkeys(PLAN_OPTIONS)
    options.update(type=["local"], workers=[2], processes=["on", "off"], start_method=["spawn", "fork"])
    plan = Plan.from_options(options)
    described = {(configuration.isolation, configuration.start_method) for configuration in plan.configurations}
    assert described == {("on", "spawn"), ("on", "fork"), ("off", None)}
    assert len(plan.configurations) == 3
    assert plan.notes and plan.notes[0].startswith("1 combination(s) left out")
    options.update(type=["distributed"], processes=None, nanny=["on", "off"])
    assert len(Plan.from_options(options).configurations) == 3
