"""A command run as its process's main ends the process: exit code, exit handlers and printout kept."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from conftest import REPOSITORY

# A command that prints about 1 MB without a newline at its end, registers an exit handler, and returns 3.
COMMAND = """
import atexit, sys
from dask_timing.cli.ending import keep_to_the_end, run_to_the_end

def command():
    atexit.register(lambda: open(sys.argv[1], "w").write("handled"))
    if sys.argv[2] == "keep":
        keep_to_the_end([{"run": index} for index in range(100_000)])
    for _ in range(1000):  # what is left in the stream's buffer at the end must be flushed
        sys.stdout.write("x" * 999)
    return 3

run_to_the_end(command)
"""


@pytest.mark.parametrize("keep", ["keep", "nothing"])
def test_the_process_ends_with_the_commands_code_its_exit_handlers_run_and_its_printout_whole(tmp_path, keep):
    marker = tmp_path / "handled"
    completed = subprocess.run([sys.executable, "-c", COMMAND, str(marker), keep], capture_output=True, text=True,
                               timeout=60, env={**{name: value for name, value in os.environ.items() if name != "PYTHONUNBUFFERED"},
                                                "PYTHONPATH": REPOSITORY})
    assert completed.returncode == 3, completed.stderr
    assert completed.stdout == "x" * 999_000 and completed.stderr == ""
    assert marker.read_text() == "handled"
