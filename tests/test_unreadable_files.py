"""One bad file never stops the analyzer or a resume: each is skipped with its name and why."""

from __future__ import annotations

import json
import os
import re

import pytest
from conftest import ANALYZER, STUDY, run_tool

GOOD = {"document": "dask-timing-result", "schema_version": 1, "kind": "local",
        "config": {"n_workers": 1, "threads_per_worker": 1}, "phases": {"cluster_init": 0.5}, "total_time": 0.5}

# file name -> (its bytes, what the warning must say about it)
BAD_FILES = {
    "not_utf8.json": (b'{"kind": "local", "config": {}, "error": "\xff\xfe", "total_time": 1.0}', "not UTF-8"),
    "deep_list.json": (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    "deep_config.json": (b'{"kind": "local", "config": ' + b'{"a": ' * 5000 + b"1" + b"}" * 5000 + b"}",
                         "nested too deeply"),
    "negative.json": (json.dumps({**GOOD, "total_time": -1.0}).encode(), "Expected `float` > 0.0"),
    "negative_phase.json": (json.dumps({**GOOD, "phases": {"cluster_init": -0.5}}).encode(), ">= 0.0"),
    "negative_flat.json": (json.dumps({"total_time": 1.0, "first_task_time": -0.1}).encode(), "not a number of seconds"),
    "empty.json": (b"", "not valid JSON"),
    "binary.json": (bytes(range(256)), "not valid JSON"),
    "infinite.json": (b'{"kind": "local", "config": {}, "total_time": 1e999}', "not valid JSON"),
    # finite, but its square overflows: the statistics would crash or print inf
    "enormous_total.json": (json.dumps({**GOOD, "total_time": 1e300}).encode(), "<= 10000000.0"),
    "enormous_flat.json": (json.dumps({"total_time": 1e300}).encode(), "not a number of seconds"),
    # every ratio divides by a median total time
    "zero_total.json": (json.dumps({**GOOD, "total_time": 0.0}).encode(), "> 0.0"),
    "zero_total_flat.json": (json.dumps({"total_time": 0}).encode(), "no cluster is ready in no time"),
    "arrival_text.json": (json.dumps({**GOOD, "arrivals": {"first_worker": "soon"}}).encode(), "got `str`"),
}


@pytest.fixture
def mixed_folder(tmp_path):
    for index, total in enumerate((0.5, 0.6, 0.7)):
        (tmp_path / f"good{index}.json").write_text(json.dumps({**GOOD, "total_time": total}))
    for name, (data, _) in BAD_FILES.items():
        (tmp_path / name).write_bytes(data)
    with open(tmp_path / "huge.json", "wb") as stream:  # sparse: larger than any result, costs no disk
        stream.truncate(100 << 20)
    return tmp_path


def test_each_bad_file_is_skipped_with_its_name_and_why(mixed_folder):
    completed = run_tool([ANALYZER, str(mixed_folder / "*.json")])
    assert completed.returncode == 0, completed.stderr
    assert "Traceback" not in completed.stderr
    assert "Loaded 3 result file(s), skipped 15 unusable file(s)" in completed.stdout
    warnings = completed.stderr.splitlines()
    for name, (_, reason) in BAD_FILES.items():
        line = next((line for line in warnings if f"skipped {mixed_folder / name}:" in line), None)
        assert line is not None and reason in line, (name, completed.stderr)
    assert any("huge.json" in line and "larger than any file" in line for line in warnings)
    assert re.search(r"Median:\s+0\.6000 seconds", completed.stdout)


def test_bad_files_on_the_baseline_side_are_skipped_too(mixed_folder, tmp_path_factory):
    new = tmp_path_factory.mktemp("new")  # other files than the baseline's: a set is not compared with itself
    for good in mixed_folder.glob("good*.json"):
        (new / good.name).write_bytes(good.read_bytes())
    completed = run_tool([ANALYZER, str(new / "good*.json"), "--baseline", str(mixed_folder / "*.json")])
    assert completed.returncode == 0, completed.stderr
    assert "skipped" in completed.stderr and "deep_list.json" in completed.stderr
    assert "Traceback" not in completed.stderr


@pytest.mark.timeout(180)
def test_resume_sets_an_unreadable_result_aside_and_runs_it_again(tmp_path):
    out = tmp_path / "out"
    first = run_tool([STUDY, "--type", "local", "--workers", "1", "--runs", "2", "--output-dir", str(out)])
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr
    results = sorted(name for name in os.listdir(out) if name.startswith("local_") and name.endswith(".json"))
    assert len(results) == 2
    broken = out / results[1]
    broken.write_bytes(b'{"kind": "local", "config": ' + b"[" * 50_000)
    (out / (results[1] + ".interrupted")).write_text("an earlier file of that name, which must survive")
    resumed = run_tool([STUDY, "--output-dir", str(out), "--resume"])
    assert resumed.returncode == 0, resumed.stdout[-2000:] + resumed.stderr
    assert "Resuming: 1 of 2 run(s) already done" in resumed.stdout
    assert json.loads(broken.read_text())["status"] == "ok"  # run again
    assert (out / (results[1] + ".interrupted")).read_text().startswith("an earlier file")
    assert (out / (results[1] + "-1.interrupted")).read_bytes().startswith(b'{"kind": "local", "config": [[[')


def test_an_unreadable_manifest_is_one_line_and_exit_2(tmp_path):
    (tmp_path / "study_20260101-000000-abcdef.json").write_bytes(b"[" * 100_000)
    completed = run_tool([STUDY, "--output-dir", str(tmp_path), "--resume"])
    assert completed.returncode == 2
    assert len(completed.stderr.strip().splitlines()) == 1 and "not a readable study manifest" in completed.stderr
