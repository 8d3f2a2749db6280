"""Bad input: one line on stderr, exit 2, no traceback, nothing started, nothing overwritten."""

from __future__ import annotations

import time

import pytest
from conftest import (
    ANALYZER, COMPARE_SCHEDULERS, DISTRIBUTED_TOOL, LOCAL_TOOL, REPOSITORY, STUDY, dask_processes, run_tool,
)
from helpers import assert_usage_error

BAD_RUN_ARGUMENTS = [
    ["--workers", "0"],
    ["--workers", "-1"],
    ["--workers", "abc"],
    ["-w", "2.5"],
    ["--threads", "0"],
    ["-t", "x"],
    ["--timeout", "0"],
    ["--timeout", "-3"],
    ["--timeout", "nan"],
    ["--batch", "-1"],
    ["--workers"],
    ["--output"],
    ["--no-such-option"],
    ["--task-stream", "stream.json"],  # needs --probes
    ["--probes", "--memory-interval", "0"],
    ["--memory-sample", "--memory-interval", "1e-300"],  # would poll the scheduler it measures without pause
    ["--performance-report"],
]
BAD_STUDY_ARGUMENTS = [
    ["--type", "kubernetes"],
    ["--type"],
    ["--workers", "0"],
    ["-w", "-1"],
    ["--threads", "0"],
    ["--runs", "0"],
    ["--runs", "abc"],
    ["-r"],
    ["--output-dir"],
    ["--timeout", "0"],
    ["--warmup", "-1"],
    ["--workers", "1,0"],
    ["--start-method", "threads"],
    ["--dashboard", "maybe"],
    ["--nanny", "off"],  # local is the default type: --nanny is for distributed
    ["--type", "distributed", "--processes", "off"],
    ["--resume", "--workers", "2"],
    ["--resume"],  # no timing_results folder here
    ["--warmup", "x"],
    ["--bogus"],
    ["--type", "local,kubernetes"],
    ["--type", "slurm,cluster"],  # cluster needs --cluster-class
    ["--python", "A"],
    ["--python", "=/usr/bin/python3"],
    ["--python", "A=/no/such/python"],
    ["--python", "A=/usr/bin/python3", "--python", "A=/usr/bin/python3"],
    ["--python", "dask-2026.8.0=/usr/bin/python3", "--dask-versions", "2026.8.0"],
    ["--dask-versions", ""],
    ["--dask-versions", ","],
    ["--dask-versions", "latest"],
    ["--fail-if-slower", "5"],  # a gate needs two environments
    ["--verdict-json", "verdict.json", "--python", "A=/usr/bin/python3"],
    ["--analysis", "loud"],
    # what each run would refuse, refused for the whole study before it begins
    ["--workers", "100000"],
    ["--timeout", "1e300"],
    ["--threads", "100000000000000000000000"],
    ["--type", "cluster", "--cluster-class", "distributed:LocalCluster", "--workers", "20000"],
    ["--workload", "weak-array", "--workload-chunk", "1000000"],
    ["--runs", "1000000000"],  # refused at once, before a schedule of a billion runs is made
]


@pytest.mark.parametrize("tool", [LOCAL_TOOL, DISTRIBUTED_TOOL])
@pytest.mark.parametrize("arguments", BAD_RUN_ARGUMENTS, ids=" ".join)
def test_timing_tools_reject_bad_input(tool, arguments):
    assert_usage_error(run_tool([tool, *arguments], timeout=60))


@pytest.mark.parametrize("arguments", BAD_STUDY_ARGUMENTS, ids=" ".join)
def test_study_rejects_bad_input_before_any_run(tmp_path, arguments):
    completed = run_tool([STUDY, *arguments], cwd=tmp_path, timeout=60)
    assert_usage_error(completed)
    assert list(tmp_path.iterdir()) == []  # not even the output folder was made


def test_rejections_name_the_problem():
    completed = run_tool([LOCAL_TOOL, "--workers", "0"], timeout=60)
    assert "--workers" in completed.stderr and "'0'" in completed.stderr
    completed = run_tool([STUDY, "--runs", "abc"], timeout=60)
    assert "--runs" in completed.stderr and "'abc'" in completed.stderr
    completed = run_tool([COMPARE_SCHEDULERS, "--task-ms", "1e300"], timeout=60)
    assert "--task-ms 1e+300 ms is more than a day" in completed.stderr  # in the unit it was given in
    completed = run_tool([DISTRIBUTED_TOOL, "--scheduler-file", REPOSITORY], timeout=60)
    assert_usage_error(completed)
    assert f"--scheduler-file {REPOSITORY} is a folder" in completed.stderr


def test_rejected_input_starts_no_process():
    before = set(dask_processes())
    started = time.monotonic()
    run_tool([DISTRIBUTED_TOOL, "--workers", "0"], timeout=60)
    assert time.monotonic() - started < 10
    assert set(dask_processes()) - before == set()


@pytest.mark.parametrize("tool", [LOCAL_TOOL, DISTRIBUTED_TOOL])
def test_existing_output_is_never_overwritten(tmp_path, tool):
    output = tmp_path / "result.json"
    output.write_text("precious\n")
    completed = run_tool([tool, "-w", "1", "--output", str(output)], timeout=60)
    assert_usage_error(completed)
    assert "already exists" in completed.stderr and "--force" in completed.stderr
    assert output.read_text() == "precious\n"


@pytest.mark.parametrize("tool", [LOCAL_TOOL, DISTRIBUTED_TOOL, STUDY, ANALYZER])
def test_help_exits_zero(tool):
    completed = run_tool([tool, "--help"], timeout=60)
    assert completed.returncode == 0
    assert "usage:" in completed.stdout


def test_help_lists_the_specification_options():
    local = run_tool([LOCAL_TOOL, "--help"], timeout=60).stdout
    for option in ("-w N, --workers N", "-t N, --threads N", "-o FILE, --output FILE", "--no-wait"):
        assert option in local
    study = run_tool([STUDY, "--help"], timeout=60).stdout
    for option in ("-t {local,distributed,slurm,cluster}, --type", "-w NUM[,NUM...], --workers", "-T NUM[,NUM...], --threads",
                   "-o DIR, --output-dir DIR", "-r NUM, --runs NUM", "-h, --help"):
        assert option in study


# An empty or blank value (an unset shell variable, say) is refused, never read as the option not given:
# an empty --scheduler-address would time a cluster of its own, an empty --output would save nothing.
EMPTY_VALUES = [
    [LOCAL_TOOL, "--output", ""],
    [LOCAL_TOOL, "--log-dir", " "],
    [LOCAL_TOOL, "--performance-report", ""],
    [DISTRIBUTED_TOOL, "--scheduler-address", ""],
    [DISTRIBUTED_TOOL, "--scheduler-file", ""],
    [DISTRIBUTED_TOOL, "--cluster-class", ""],
    [DISTRIBUTED_TOOL, "--tls-ca-file", ""],
    [DISTRIBUTED_TOOL, "--db", ""],
    [ANALYZER, "--csv", ""],
    [ANALYZER, ""],
    [STUDY, "--output-dir", ""],
    [STUDY, "--label", "\t"],
    [COMPARE_SCHEDULERS, "--output-dir", ""],
]


@pytest.mark.parametrize("arguments", EMPTY_VALUES, ids=lambda arguments: " ".join(map(repr, arguments[1:])))
def test_empty_values_are_refused_not_ignored(tmp_path, arguments):
    before = set(dask_processes())
    completed = run_tool([*arguments, "--workers", "1"] if arguments[0] in (LOCAL_TOOL, DISTRIBUTED_TOOL)
                         else arguments, cwd=tmp_path, timeout=60)
    assert_usage_error(completed)
    assert "expected a value" in completed.stderr
    assert list(tmp_path.iterdir()) == []
    assert set(dask_processes()) - before == set()


def test_an_empty_value_inside_a_subcommand_is_named_by_it(tmp_path):
    completed = run_tool(["-m", "dask_timing", "history", "show", "--db", ""], cwd=tmp_path,
                         timeout=60, env={"PYTHONPATH": REPOSITORY})
    assert_usage_error(completed)
    assert "history show: error: argument --db: expected a value" in completed.stderr


def test_no_command_is_one_line_on_standard_error():
    completed = run_tool(["-m", "dask_timing"], timeout=60, env={"PYTHONPATH": REPOSITORY})
    assert_usage_error(completed)
    assert "give a command: local, processes" in completed.stderr
