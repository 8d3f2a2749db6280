"""What many test files share: fake results written as the tools write theirs, and the usage-error check."""

from __future__ import annotations

import json
import subprocess

from dask_timing.errors import EXIT_USAGE
from dask_timing.record.schema import RunResult

NEVER_READY = "workers never arrived"


def fake_run(config: dict, total: float | None, kind: str = "local", second: int = 0, error: str | None = None,
             environment: dict | None = None) -> RunResult:
    """A run of ``config`` at second ``second`` of 2026, its total time all first task; without a total, a
    failed run (``error``, by default that its workers never arrived)."""
    return RunResult(kind=kind, config=config, phases={} if total is None else {"first_task": total},
                     total_time=total, status="ok" if total is not None else "failed",
                     error=None if total is not None else error or NEVER_READY, environment=environment or {},
                     timestamp=f"2026-01-01T00:00:{second:02d}Z")


def save_run(path, run: RunResult) -> None:
    """Write ``run`` to ``path`` (a pathlib.Path) as a result file."""
    path.write_text(json.dumps(run.to_json()))


def assert_usage_error(completed: subprocess.CompletedProcess, *expected: str, stdout_empty: bool = True) -> str:
    """Refused input as users get it: exit 2, one line on standard error saying ``error:`` (and each of
    ``expected``), no traceback; nothing on standard output unless told.  Returns the line."""
    assert completed.returncode == EXIT_USAGE, completed.stdout[-1500:] + completed.stderr
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1 and "error:" in lines[0], completed.stderr
    assert all(text in lines[0] for text in expected), completed.stderr
    assert "Traceback" not in completed.stderr + completed.stdout
    if stdout_empty:
        assert completed.stdout == ""
    return lines[0]
