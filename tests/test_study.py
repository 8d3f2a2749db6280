"""The study wrapper: fresh process per run, statistics saved, failures counted, nothing overwritten."""

from __future__ import annotations

import numpy
import pytest
from conftest import STUDY, read_json, run_tool

pytestmark = [pytest.mark.timeout(240), pytest.mark.usefixtures("no_leftovers")]


def result_files(folder):
    return sorted(path for path in folder.glob("*.json") if not path.name.startswith(("summary_", "study_")))


def test_study_from_another_folder_saves_results_and_statistics(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    completed = run_tool([STUDY, "--type", "local", "--workers", "1", "--runs", "2", "--warmup", "1",
                          "--output-dir", "out"], cwd=elsewhere, timeout=200)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "local_w1_t1, warmup 1 of 1" in completed.stdout
    assert "run 1 of 2" in completed.stdout and "run 2 of 2" in completed.stdout
    assert "elapsed" in completed.stdout
    out = elsewhere / "out"
    files = result_files(out)
    assert len(files) == 3 and all("_w1_t1_" in path.name for path in files)
    (warmup,) = [read_json(path) for path in files if "_warmup001_" in path.name]
    assert warmup["options"]["warmup"] is True
    runs = [read_json(path) for path in files if "_run" in path.name]
    assert len({run["run_id"] for run in runs}) == 2
    # Each run in its own process: two different drivers wrote them.
    assert all(run["status"] == "ok" for run in runs)
    (summary_path,) = out.glob("summary_*.json")
    summary = read_json(summary_path)
    (configuration,) = summary["configurations"]
    for metric in ("total_time", "cluster_init_time", "wait_for_workers_time", "first_task_time"):
        values = numpy.array([run[metric] for run in runs])
        stats = configuration["metrics"][metric]
        assert stats["n"] == 2
        assert stats["mean"] == pytest.approx(values.mean(), rel=1e-12)
        assert stats["stddev"] == pytest.approx(values.std(ddof=1), rel=1e-9)
        assert stats["median"] == pytest.approx(numpy.median(values), rel=1e-12)
        assert stats["min"] == values.min() and stats["max"] == values.max()
    assert configuration["n_warmup_left_out"] == 1
    assert (out / "logs").is_dir() and len(list((out / "logs").iterdir())) == 3


def test_study_goes_on_past_failed_runs_and_reports_them(tmp_path):
    completed = run_tool([STUDY, "-t", "distributed", "-w", "1", "-r", "2", "--timeout", "0.05",
                          "-o", str(tmp_path)], timeout=200)
    assert completed.returncode == 1
    assert completed.stdout.count("failed (exit code 1)") == 2
    assert "2 of 2 run(s) failed" in completed.stderr
    runs = [read_json(path) for path in result_files(tmp_path)]
    assert [run["status"] for run in runs] == ["failed", "failed"]


def test_a_second_study_in_the_same_folder_overwrites_nothing(tmp_path):
    first = run_tool([STUDY, "-w", "1", "--runs", "1", "-o", str(tmp_path), "--plot"], timeout=200)
    assert first.returncode == 0, first.stdout + first.stderr
    before = {path.name: path.read_bytes() for path in tmp_path.iterdir() if path.is_file()}
    second = run_tool([STUDY, "-w", "1", "--runs", "1", "-o", str(tmp_path), "--plot"], timeout=200)
    assert second.returncode == 0, second.stdout + second.stderr
    after = {path.name: path.read_bytes() for path in tmp_path.iterdir() if path.is_file()}
    assert all(after[name] == content for name, content in before.items())
    assert len(result_files(tmp_path)) == 2
    assert len(list(tmp_path.glob("summary_*.json"))) == 2
    assert len(list(tmp_path.glob("timing_phases_*.png"))) == 2
