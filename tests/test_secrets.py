"""Secrets in cluster arguments are masked wherever they would be written or printed."""

from __future__ import annotations

from dask_timing.record.secrets import MASK, mask_command_line, mask_secrets


def test_values_of_secret_keys_environment_lines_and_urls_are_masked():
    arguments = {
        "password": "hunter2",
        "job_script_prologue": ["export AWS_SECRET_ACCESS_KEY=abc123", "module load python", "TOKEN='a b'"],
        "env": {"API_TOKEN": "s3cret", "OMP_NUM_THREADS": "1"},
        "scheduler_options": {"db": "postgresql://me:pw@db.example/x", "apiKey": "k"},
        "cores": 2,
        "authors": "kept",
    }
    masked = mask_secrets(arguments)
    assert masked == {
        "password": MASK,
        "job_script_prologue": [f"export AWS_SECRET_ACCESS_KEY={MASK}", "module load python", f"TOKEN={MASK}"],
        "env": {"API_TOKEN": MASK, "OMP_NUM_THREADS": "1"},
        "scheduler_options": {"db": f"postgresql://me:{MASK}@db.example/x", "apiKey": MASK},
        "cores": 2,
        "authors": "kept",
    }
    assert arguments["password"] == "hunter2"  # a copy: the run itself keeps the real values


def test_command_lines_mask_json_arguments_and_secret_options():
    line = ["python", "tool.py", "--cluster-kwargs", '{"password": "s3", "cores": 1}', "--token", "abc",
            "--api-key=foo", "-w", "2"]
    masked = mask_command_line(line)
    assert masked == ["python", "tool.py", "--cluster-kwargs", '{"password": "***", "cores": 1}', "--token", MASK,
                      f"--api-key={MASK}", "-w", "2"]
    assert not any(secret in " ".join(masked) for secret in ("s3", "abc", "foo"))
