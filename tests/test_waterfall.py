"""Inside every worker: each worker's startup boundary by boundary, stragglers, the import profile.

Real LocalClusters and separate processes (the real Slurm is in
test_real_clusters.py); a straggler and a hung worker are made for real, by
a preload that sleeps only in one worker.  The rules (ordering, tiling, the
straggler rule, the import profile's parsing) are also checked on their own.
"""

from __future__ import annotations

import csv
import io
import json
import math

import pytest
from conftest import ANALYZER, DISTRIBUTED_TOOL, LOCAL_TOOL, read_json, run_tool
from matplotlib.image import imread

from dask_timing.present.import_profile import describe_import_profile
from dask_timing.record import import_profile
from dask_timing.measure.waterfall import find_stragglers, in_order, tile
from dask_timing.phases import WORKER_BOUNDARIES
from dask_timing.record.schema import RunResult

pytestmark = pytest.mark.timeout(180)

TILING_TOLERANCE = 0.005  # seconds: a worker's phases add up to its registration time within this
# A preload that sleeps (or ends its process) in dask_setup, only in the worker named $SLOW_WORKER.
SLOW_PRELOAD = """
import os, time

def dask_setup(worker):
    if str(worker.name) == os.environ["SLOW_WORKER"]:
        if os.environ["SLOW_SECONDS"] == "exit":
            os._exit(3)
        time.sleep(float(os.environ["SLOW_SECONDS"]))
"""


def slow_worker(tmp_path, name: str, seconds: str) -> dict[str, str]:
    """The environment that has the worker ``name`` sleep ``seconds`` in its dask_setup ("exit": die there)."""
    preload = tmp_path / "slow_preload.py"
    preload.write_text(SLOW_PRELOAD)
    return {"DASK_DISTRIBUTED__WORKER__PRELOAD": repr([str(preload)]), "SLOW_WORKER": name, "SLOW_SECONDS": seconds}


def check_waterfall(worker: dict, requested_at: float) -> dict:
    """Boundaries in order, from the request to the registration, and phases that tile them."""
    record = worker["waterfall"]
    assert record["status"] == "ok"
    boundaries = record["boundaries"]
    assert list(boundaries) == [name for name in WORKER_BOUNDARIES if name in boundaries]
    values = list(boundaries.values())
    assert values == sorted(values), boundaries
    assert boundaries["requested"] == pytest.approx(requested_at)
    assert boundaries["registered"] == pytest.approx(worker["arrival_time"])
    assert math.isclose(sum(record["phases"].values()), record["registration_time"], abs_tol=TILING_TOLERANCE)
    assert record["registration_time"] == pytest.approx(boundaries["registered"] - boundaries["requested"])
    return record


# -- The rules on their own --------------------------------------------------------------------------------------


def test_coarse_stamps_are_kept_in_order_and_phases_tile_whatever_is_absent():
    boundaries, clamped = in_order({"requested": 1.0, "nanny_created": 0.995, "nanny_ready": 1.2,
                                    "process_created": 1.19, "imports_done": 2.0, "worker_started": 2.1,
                                    "registered": 2.05, "first_task": 2.5})
    assert clamped == ["nanny_created", "process_created", "worker_started"]
    assert list(boundaries.values()) == sorted(boundaries.values())
    assert boundaries["requested"] == 1.0 and boundaries["registered"] == 2.05  # the driver's and scheduler's stay
    phases = tile(boundaries)
    assert list(phases) == ["launch", "nanny", "process", "imports", "start", "registration"]
    assert sum(phases.values()) == pytest.approx(1.05)
    # no nanny: the worker's process follows the request directly; the phases still add up
    phases = tile({"requested": 1.0, "process_created": 1.1, "imports_done": 1.6, "registered": 1.7})
    assert phases == pytest.approx({"process": 0.1, "imports": 0.5, "registration": 0.1})


def record(registration_time: float, **phases: float) -> dict:
    return {"registration_time": registration_time,
            "phases": {"imports": registration_time - sum(phases.values()), **phases}}


def test_straggler_rule_is_robust_and_names_the_phase():
    close = {str(k): record(1.5 + 0.001 * k, start=0.05) for k in range(4)}
    assert find_stragglers(close) == []  # a tight group: milliseconds are no straggler even with MAD near 0
    slow = {**close, "late": record(4.6, start=3.1)}
    (straggler,) = find_stragglers(slow)
    assert straggler["name"] == "late" and straggler["phase"] == "start"
    assert straggler["phase_excess"] == pytest.approx(3.05)
    assert straggler["excess"] == pytest.approx(4.6 - 1.502)
    assert find_stragglers({"a": record(1.0), "b": record(9.0)}) is None  # two workers: no "others" to compare


def test_import_profile_reads_interleaved_lines_of_several_interpreters():
    lines = [
        "import time: self [us] | cumulative | imported package",
        "import time:      1000 |       1000 |     bokeh.util",
        "import time:       500 |       1500 |   bokeh",  # a lazy __init__: its modules count, not its root alone
        "import time:    300000 |     301500 | bokeh.models",
        "import time:     20000 |     321500 | distributed",
        "2026-01-01 12:00:00,000 - distributed.nanny - INFO - Start Nanny",
        "import time: self [us] | cumulative | imported package",
        "import time:     40000 |      40000 |   numpy",
        "import time:     30000 |      70000 | distributed",  # not counting the numpy it imported
    ]
    totals = import_profile.package_seconds(lines)
    assert totals == pytest.approx({"bokeh": 0.3015, "distributed": 0.05, "numpy": 0.04})
    found = import_profile.profile(totals, workers=2)
    assert [entry["module"] for entry in found["top"]] == ["bokeh", "distributed", "numpy"]
    assert found["top"][0]["seconds"] == pytest.approx(0.15075)
    assert describe_import_profile(found) == "bokeh 0.15 s, distributed 0.03 s, numpy 0.02 s"
    merged = import_profile.merge([found, import_profile.profile(totals, workers=1), None])
    assert merged["workers"] == 3 and merged["top"][0]["seconds"] == pytest.approx(0.3015 * 2 / 3)


def test_results_without_waterfalls_load_and_their_worker_metrics_are_absent(tmp_path):
    current = RunResult(kind="local", config={"n_workers": 2, "threads_per_worker": 1},
                        phases={"first_task": 0.5}, total_time=0.5, timestamp="2026-01-01T00:00:00Z").to_json()
    for key in ("worker_phases", "stragglers", "import_profile"):  # as files written before waterfalls
        del current[key]
    (tmp_path / "current.json").write_text(json.dumps(current))
    (tmp_path / "flat.json").write_text(json.dumps({"n_workers": 4, "threads_per_worker": 1,
                                                    "workers_start_time": 2.0, "total_time": 3.0}))
    completed = run_tool([ANALYZER, str(tmp_path / "*.json"), "--csv", str(tmp_path / "out.csv")])
    assert completed.returncode == 0, completed.stderr
    assert "Loaded 2 result file(s)" in completed.stdout
    assert "WORKER STARTUP PHASES" not in completed.stdout
    assert not [row for row in csv.DictReader(open(tmp_path / "out.csv")) if row["metric"].startswith("worker_")]


# -- Real clusters -----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def local_runs(tmp_path_factory):
    """Two LocalCluster runs of 2 spawned workers with the import profile: the result files and one printout."""
    folder = tmp_path_factory.mktemp("local")
    outputs = []
    for index in range(2):
        completed = run_tool([LOCAL_TOOL, "-w", "2", "--start-method", "spawn", "--import-profile",
                              "-o", str(folder / f"run{index}.json")])
        assert completed.returncode == 0, completed.stdout + completed.stderr
        outputs.append(completed.stdout)
    return folder, outputs


@pytest.mark.usefixtures("no_leftovers")
def test_local_cluster_workers_have_their_boundaries_in_order_and_tiling(local_runs):
    folder, outputs = local_runs
    result = read_json(folder / "run0.json")
    assert result["config"]["import_profile"] is True
    requested = result["arrivals"]["requested_at"]
    assert len(result["workers"]) == 2
    for worker in result["workers"]:
        record = check_waterfall(worker, requested)
        # LocalCluster's nannies live in this process: a nanny row, but no nanny process
        assert {"nanny_ready", "process_created", "imports_done", "worker_started"} <= set(record["boundaries"])
        assert "nanny_created" not in record["boundaries"] and "job_running" not in record["boundaries"]
        assert set(record.get("clamped", [])) <= {"process_created"}  # only a clock tick's rounding, if anything
        assert record["pid"] > 0 and record["cpu_seconds"] > 0
        # one machine: one clock; the offset estimated by round trips brackets that zero
        assert record["clock"] == "same" and record["clock_offset"] == 0.0
        assert abs(record["clock_offset_estimate"]) <= record["clock_offset_uncertainty"] + 0.001
    assert any("first_task" in worker["waterfall"]["boundaries"] for worker in result["workers"])
    how = result["measurement"]["worker_waterfall"]
    assert set(how["boundaries"]) >= {"requested", "nanny_ready", "process_created", "registered"}
    assert "inside this process" in how["unavailable"]["nanny_created"] and "job_running" in how["unavailable"]
    assert sorted(result["worker_phases"]["registered"]) == sorted(
        worker["waterfall"]["registration_time"] for worker in result["workers"])
    assert result["stragglers"] is None  # two workers: too few to tell
    assert "distributed" in [entry["module"] for entry in result["import_profile"]["top"]]
    printout = outputs[0].split("TIMING SUMMARY")[1]
    assert "WORKER STARTUP" in printout and "median (" in printout and "slowest (" in printout
    assert "Interpreter and imports" in printout and "Worker imports (seconds per worker" in printout


def test_analyzer_reports_and_draws_the_workers(local_runs):
    folder, _ = local_runs
    paths = {option: folder / f"report.{option}" for option in ("csv", "markdown", "html")}
    completed = run_tool([ANALYZER, str(folder / "run*.json"), "--plot", "--plot-dir", str(folder / "plots"),
                          *[argument for option, path in paths.items() for argument in (f"--{option}", str(path))]])
    assert completed.returncode == 0, completed.stderr
    text = completed.stdout.split("WORKER STARTUP PHASES")[1]
    assert "imports" in text and "registered" in text and "distributed" in text.split("Worker imports")[1]
    label = "local, 2 workers, 1 thread(s) per worker"
    row = next(line.strip() for line in text.splitlines() if line.strip().startswith(label))
    assert row[len(label):].split()[0] == "4"  # 2 workers x 2 runs pooled
    rows = {row["metric"]: row for row in csv.DictReader(io.StringIO(paths["csv"].read_text()))}
    assert int(rows["worker_registered_time"]["n"]) == 4
    assert float(rows["worker_imports_time"]["median"]) > 0
    assert "Worker startup phases" in paths["markdown"].read_text()
    page = paths["html"].read_text()
    assert "<h2>Worker startup phases</h2>" in page and "Inside the workers: one run drawn worker by worker" in page
    for stem in ("timing_waterfall", "timing_worker_phases"):
        pixels = imread(folder / "plots" / f"{stem}.png")
        assert pixels.shape[1] == 1200 and 300 <= pixels.shape[0] <= 2400
        assert (pixels[..., :3].min(axis=-1) < 0.9).mean() > 0.03, f"{stem} is nearly blank"


@pytest.mark.usefixtures("no_leftovers")
@pytest.mark.parametrize("nanny", [True, False], ids=["nanny", "no-nanny"])
def test_separate_processes_with_and_without_a_nanny(tmp_path, nanny):
    output = tmp_path / "r.json"
    completed = run_tool([DISTRIBUTED_TOOL, "-w", "2", "--batch", "4", *([] if nanny else ["--no-nanny"]),
                          "-o", str(output)])
    assert completed.returncode == 0, completed.stdout + completed.stderr
    result = read_json(output)
    nanny_rows = {"nanny_created", "nanny_ready"}
    for worker in result["workers"]:
        record = check_waterfall(worker, result["arrivals"]["requested_at"])
        assert {"process_created", "imports_done", "worker_started", "first_task"} <= set(record["boundaries"])
        if nanny:  # a nanny process of its own, started by this run
            assert nanny_rows <= set(record["boundaries"]) and record["nanny_pid"] != record["pid"]
        else:  # absent, not zero
            assert not nanny_rows & set(record["boundaries"]) and "nanny" not in record["phases"]
    unavailable = result["measurement"]["worker_waterfall"]["unavailable"]
    assert (unavailable.get("nanny_ready") == "no nanny") is not nanny


@pytest.mark.usefixtures("no_leftovers")
def test_a_straggler_is_named_with_the_phase_that_lost_its_time(tmp_path):
    output = tmp_path / "straggler.json"
    completed = run_tool([LOCAL_TOOL, "-w", "3", "-o", str(output)], env=slow_worker(tmp_path, "1", "4"))
    assert completed.returncode == 0, completed.stdout + completed.stderr
    result = read_json(output)
    straggler = result["stragglers"][0]  # the slowest first
    assert (straggler["name"], straggler["phase"]) == ("1", "start")
    assert straggler["phase_excess"] > 3.5
    assert "Straggler: worker 1 registered" in completed.stdout and "in Worker start" in completed.stdout


@pytest.mark.usefixtures("no_leftovers")
def test_a_hung_worker_stops_at_its_last_boundary_and_the_run_still_writes_its_result(tmp_path):
    output = tmp_path / "hung.json"
    completed = run_tool([DISTRIBUTED_TOOL, "-w", "2", "--timeout", "10", "-o", str(output)],
                         env=slow_worker(tmp_path, "worker-1", "1000"))
    assert completed.returncode == 1
    result = read_json(output)
    assert result["status"] == "failed" and "timed out after 10 s" in result["error"]
    workers = {worker["name"]: worker for worker in result["workers"]}
    check_waterfall(workers["worker-0"], result["arrivals"]["requested_at"])
    hung = workers["worker-1"]["waterfall"]
    assert hung["status"] == "failed" and workers["worker-1"]["arrival_time"] is None
    # its Worker was built (imports done) and then never started: it hangs in a preload's dask_setup
    assert hung["last_boundary"] == "imports_done"
    assert list(hung["boundaries"]) == ["requested", "nanny_created", "nanny_ready", "process_created", "imports_done"]
    assert hung["log_tail"]
    assert "Worker worker-1 failed to start: it stopped after imports_done" in completed.stdout


@pytest.mark.usefixtures("no_leftovers")
def test_a_worker_that_dies_while_starting_is_marked_failed(tmp_path):
    output = tmp_path / "died.json"
    completed = run_tool([LOCAL_TOOL, "-w", "2", "--timeout", "60", "-o", str(output)],
                         env=slow_worker(tmp_path, "1", "exit"))
    assert completed.returncode == 1
    result = read_json(output)
    assert result["status"] == "failed"
    died = next(worker for worker in result["workers"] if worker["name"] == "1")["waterfall"]
    assert died["status"] == "failed" and died["last_boundary"] == "imports_done"


@pytest.mark.parametrize("arguments, message", [
    ([DISTRIBUTED_TOOL, "--scheduler-address", "tcp://127.0.0.1:9"], "needs workers this run starts"),
    ([DISTRIBUTED_TOOL, "--cluster-class", "distributed.deploy.spec:SpecCluster"],
     "do not start with this process's environment"),
    ([LOCAL_TOOL, "--no-processes"], "thread workers"),
    ([LOCAL_TOOL, "--start-method", "fork"], "forked workers inherit"),
    ([LOCAL_TOOL, "--no-waterfall"], "--no-waterfall leaves out"),
    ([LOCAL_TOOL, "--verbose"], "drop --verbose"),
])
def test_import_profile_refused_where_workers_cannot_take_it(tmp_path, arguments, message):
    output = tmp_path / "r.json"
    completed = run_tool([*arguments, "--import-profile", "-o", str(output)], timeout=60)
    assert completed.returncode == 2, completed.stdout + completed.stderr
    assert len(completed.stderr.strip().splitlines()) == 1 and message in completed.stderr
    assert completed.stdout == "" and not output.exists()
