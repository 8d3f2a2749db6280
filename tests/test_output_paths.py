"""Every path a tool will write is checked before any work: an impossible one is one line, exit 2, no folder."""

from __future__ import annotations

import os
import subprocess

import pytest
from conftest import ANALYZER, COMPARE_SCHEDULERS, DISTRIBUTED_TOOL, LOCAL_TOOL, STUDY, run_tool
from helpers import assert_usage_error

from dask_timing.record.files import write_json

IMPOSSIBLE = {
    "under /proc": "/proc/dask-timing-test/{name}",
    "under a regular file": "{tmp}/a_file/{name}",
    "a broken symbolic link": "{tmp}/dangling",
    "a file where a folder goes": "{tmp}/a_file",
}
FILE_OPTIONS = {
    LOCAL_TOOL: ["--output", "--performance-report"],
    DISTRIBUTED_TOOL: ["--output"],
    ANALYZER: ["--csv", "--markdown", "--html", "--summary-json"],
}
FOLDER_OPTIONS = {
    LOCAL_TOOL: ["--log-dir"],
    DISTRIBUTED_TOOL: ["--log-dir"],
    ANALYZER: ["--plot-dir"],
    STUDY: ["--output-dir"],
    COMPARE_SCHEDULERS: ["--output-dir"],
}


@pytest.fixture
def places(tmp_path):
    (tmp_path / "a_file").write_text("not a folder")
    os.symlink(tmp_path / "nowhere", tmp_path / "dangling")
    write_json(str(tmp_path / "result.json"), {"document": "dask-timing-result", "kind": "local",
                                               "config": {"n_workers": 1}, "total_time": 1.0})
    return tmp_path


def extra_arguments(tool: str, option: str, places) -> list[str]:
    if tool == ANALYZER:
        return [str(places / "result.json")] + (["--plot"] if option == "--plot-dir" else [])
    if option == "--performance-report":
        return ["--workers", "1"]
    return ["--workers", "1"] if tool in (LOCAL_TOOL, DISTRIBUTED_TOOL, STUDY) else []


def cases(options: dict[str, list[str]], kinds: list[str]):
    return [pytest.param(tool, option, kind, id=f"{os.path.basename(tool)}-{option}-{kind}")
            for tool, names in options.items() for option in names for kind in kinds]


def check_refused(tool: str, option: str, path: str, places) -> None:
    check_refused_arguments(tool, [*extra_arguments(tool, option, places), option, path], places)


def check_refused_arguments(tool: str, arguments: list[str], places) -> subprocess.CompletedProcess:
    before = sorted(os.listdir(places))
    completed = run_tool([tool, *arguments], cwd=places, timeout=60)
    assert_usage_error(completed, stdout_empty=False)
    assert sorted(os.listdir(places)) == before  # nothing created
    assert not os.path.exists("/proc/dask-timing-test")
    return completed


@pytest.mark.parametrize("tool, option, kind", cases(FILE_OPTIONS, ["under /proc", "under a regular file",
                                                                     "a broken symbolic link"]))
def test_impossible_output_files_are_refused_before_any_work(tool, option, kind, places):
    check_refused(tool, option, IMPOSSIBLE[kind].format(tmp=places, name="out.file"), places)


@pytest.mark.parametrize("tool, option, kind", cases(FOLDER_OPTIONS, list(IMPOSSIBLE)))
def test_impossible_output_folders_are_refused_before_any_work(tool, option, kind, places):
    check_refused(tool, option, IMPOSSIBLE[kind].format(tmp=places, name="folder"), places)


@pytest.mark.parametrize("tool", [LOCAL_TOOL, DISTRIBUTED_TOOL])
def test_a_run_refused_for_another_reason_creates_no_folder(tool, places):
    """The output's and the logs' folders appear only once the run is accepted."""
    completed = run_tool([tool, "--workers", "1", "--output", str(places / "new" / "r.json"),
                          "--log-dir", str(places / "logs"), "--task-stream", "stream.json"], cwd=places)
    assert completed.returncode == 2
    assert not (places / "new").exists() and not (places / "logs").exists()


def test_results_are_written_with_the_users_umask(tmp_path):
    """Results are meant to be shared: the umask decides, as for any new file."""
    path = tmp_path / "shared.json"
    old = os.umask(0o022)
    try:
        write_json(str(path), {"a": 1})
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644


@pytest.mark.parametrize("tool, arguments", [
    (ANALYZER, ["result.json", "--csv", "out.txt", "--markdown", "./out.txt"]),
    (ANALYZER, ["result.json", "--baseline", "result2.json", "--summary-json", "out.txt", "--verdict-json",
                "out.txt"]),
    (ANALYZER, ["result.json", "--html", "out.txt", "--summary-json", "sub/../out.txt"]),
    (LOCAL_TOOL, ["--workers", "1", "--probes", "--output", "out.txt", "--task-stream", "out.txt", "--force"]),
    (LOCAL_TOOL, ["--workers", "1", "--output", "out.txt", "--performance-report", "out.txt", "--force"]),
], ids=["csv-markdown", "summary-verdict", "html-summary", "output-task-stream", "output-report"])
def test_one_file_for_two_outputs_is_refused_before_any_work(tool, arguments, places):
    """The second write would fail after the first, or with --force replace it: a result lost."""
    (places / "sub").mkdir()
    write_json(str(places / "result2.json"), {"document": "dask-timing-result", "kind": "local",
                                              "config": {"n_workers": 1}, "total_time": 1.0})
    before = sorted(os.listdir(places))
    completed = run_tool([tool, *arguments], cwd=places, timeout=60)
    assert completed.returncode == 2, completed.stdout[-1500:] + completed.stderr
    (line,) = completed.stderr.strip().splitlines()
    assert "both name" in line and "out.txt; give each its own file" in line
    assert sorted(os.listdir(places)) == before


@pytest.mark.parametrize("tool, option", [(LOCAL_TOOL, "--output"), (ANALYZER, "--csv"), (STUDY, "--output-dir")])
def test_a_path_through_a_loop_of_symbolic_links_is_named_as_one(tool, option, places):
    os.symlink(places / "loop_b", places / "loop_a")
    os.symlink(places / "loop_a", places / "loop_b")
    completed = check_refused_arguments(tool, [*extra_arguments(tool, option, places), option,
                                               str(places / "loop_a" / "out.file")], places)
    assert "loop_a is a broken symbolic link (or a loop of them)" in completed.stderr
