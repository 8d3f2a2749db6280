"""What many test files share: fake results written as the tools write theirs (for the analyzer, the gates, the
history and the plots), throwaway interpreters, the test databases, and the usage-error check.

Nothing here is a test; no test file imports another (``test_architecture`` checks).  The results database's
modules are imported where a helper needs them: they are an optional dependency of the package.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import sysconfig
import time
import uuid

import pytest

from dask_timing.analysis.groups import Group, group_results
from dask_timing.analysis.load import load
from dask_timing.errors import EXIT_USAGE
from dask_timing.phases import WORKER_PHASES
from dask_timing.record.files import write_json
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


# -- Result documents for the analyzer --------------------------------------------------------------------------------


def make_result(kind: str, workers: int, total_parts: list[float], **config) -> dict:
    """A result document of a ``kind`` run of ``workers`` workers whose four phases took ``total_parts``."""
    names = (
        ["cluster_init", "client_connect", "wait_for_workers", "first_task"]
        if kind == "local"
        else ["scheduler_start", "client_connect", "workers_start", "first_task"]
    )
    phases = dict(zip(names, total_parts))
    result = RunResult(
        kind=kind,
        config={"n_workers": workers, "threads_per_worker": 1, "wait_for_workers": True, **config},
        phases=phases,
        total_time=sum(total_parts),
        teardown_time=0.1,
        run_id=uuid.uuid4().hex,
        timestamp="2026-01-01T00:00:00Z",
    )
    return result.to_json()


# -- Interpreters and releases for studies across environments --------------------------------------------------------


def wrapper_interpreter(folder, *lines: str) -> str:
    """A virtual environment that runs this interpreter's packages (a .pth file points at them), plus
    ``lines`` run at every start: a second interpreter as cheap as a symbolic link."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True)
    python = folder / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    with open(os.path.join(site, "dask_timing_tests.pth"), "w") as stream:
        stream.write("\n".join([sysconfig.get_paths()["purelib"], *lines]) + "\n")
    return str(python)


def pypi_has(version: str) -> bool:
    """Whether the package index offers distributed ``version`` (False when it does not answer in time)."""
    try:
        completed = subprocess.run([sys.executable, "-m", "pip", "index", "versions", "distributed"],
                                   capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        return False
    return any(line.startswith("Available versions:") and f" {version}," in line + ","
               for line in completed.stdout.splitlines())


OTHER_RELEASE = "2025.12.0"


# -- Runs in environments, for the gates and the exports --------------------------------------------------------------


STEADY = [2.0, 2.02, 1.98, 2.01, 1.99, 2.03, 1.97, 2.0, 2.01, 1.99]


def write_environment_results(folder, totals, workers=2, name=None, version="2026.8.0", load=0.3, minute=0,
                              status="ok", every=1, host="ci-1") -> None:
    """One result file per total, ``every`` minutes apart from ``minute`` on, in an environment."""
    folder.mkdir(exist_ok=True)
    for index, total in enumerate(totals):
        ok = status == "ok"
        run = RunResult(
            kind="local", config={"n_workers": workers, "threads_per_worker": 1}, status=status, run_id=uuid.uuid4().hex,
            error=None if ok else "worker died", phases={"cluster_init": total - 0.1, "first_task": 0.1},
            total_time=total if ok else None, timestamp=f"2026-01-01T{(minute + index * every) // 60:02d}:"
                                                        f"{(minute + index * every) % 60:02d}:00Z",
            environment={"name": name, "python_executable": f"/envs/{name or version}/bin/python",
                         "python_version": "3.11.9", "packages": {"dask": version, "distributed": version},
                         "load": {"load_per_cpu": load, "cpu_mhz": 2600.0}, "host": host},
        )
        save_run(folder / f"{name or version}_{workers}_{minute + index * every:04d}.json", run)


# -- The results database and its histories (on SQLite and on PostgreSQL) ---------------------------------------------


POSTGRES_ENVIRONMENT = "DASK_TIMING_TEST_POSTGRES"
VERSIONS = ("2025.11.0", "2025.12.0", "2026.1.0", "2026.2.0", "2026.3.0")


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    """A fresh, empty database: a SQLite file, or a database of its own on the PostgreSQL server."""
    import sqlalchemy as sa

    from dask_timing.history import connection

    if request.param == "sqlite":
        yield str(tmp_path / "history.db")
        return
    server = os.environ.get(POSTGRES_ENVIRONMENT)
    if not server:
        pytest.skip(f"{POSTGRES_ENVIRONMENT} is not set (scripts/start_postgres.sh starts a server and prints one)")
    name = f"dask_timing_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(connection.database_url(server), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    try:
        yield sa.make_url(connection.database_url(server)).set(database=name).render_as_string(hide_password=False)
    finally:
        drop_database(admin, name)
        admin.dispose()


def drop_database(admin, name: str, tries: int = 20) -> None:
    """Drop a test's database; FORCE ends our own sessions in it, but not a moment's autovacuum worker
    (a superuser's, which our role may not end): that one is waited out."""
    import sqlalchemy as sa

    for attempt in range(tries):
        try:
            with admin.connect() as conn:
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            return
        except sa.exc.DBAPIError:
            if attempt == tries - 1:
                raise
            time.sleep(0.5)


def synthetic(version: str = "2026.1.0", *, seconds: float = 0.3, host: str = "machine-a", n_workers: int = 2,
              kind: str = "local", timestamp: str = "2026-01-01T00:00:00Z", options: dict | None = None,
              status: str = "ok", rng: random.Random | None = None) -> RunResult:
    """A result as the tools write them, with made-up durations."""
    rng = rng or random.Random(0)
    phases = {"cluster_init": 0.3 * rng.uniform(0.97, 1.03), "client_connect": 0.01,
              "wait_for_workers": seconds * rng.uniform(0.97, 1.03), "first_task": 0.005}
    ok = status == "ok"
    return RunResult(
        kind=kind, config={"n_workers": n_workers, "threads_per_worker": 1, "processes": True},
        options={"warmup": False, **(options or {})}, run_id=uuid.UUID(int=rng.getrandbits(128)).hex,
        timestamp=timestamp, status=status, error=None if ok else "workers never came",
        phases=phases if ok else {"cluster_init": phases["cluster_init"]},
        total_time=sum(phases.values()) if ok else None, teardown_time=0.05,
        before_start={"interpreter_and_imports": 0.4},
        arrivals={"requested_at": 0.31, "first_worker": 0.2, "half_workers": 0.2, "all_workers": 0.25} if ok else None,
        environment={"host": host, "python_version": "3.11.7", "cpu_count": 2, "dask_worker_start_method": "spawn",
                     "packages": {"dask": version, "distributed": version}},
        workers=[{"name": "0", "arrival_time": 0.5}, {"name": "1", "arrival_time": 0.55}] if ok else [],
        command_line=["time_local_cluster.py", "-w", str(n_workers)],
    )


def write_history_results(folder, results) -> list[str]:
    """Write ``results`` to ``folder`` as a study names its files; return their paths."""
    os.makedirs(folder, exist_ok=True)
    paths = []
    for index, result in enumerate(results):
        path = os.path.join(folder, f"local_w2_t1_run{index:03d}_20260101-000000-abcdef.json")
        write_json(path, result.to_json())
        paths.append(path)
    return paths


# -- Many configurations, for the plots -------------------------------------------------------------------------------


PLOT_RUNS = 4
SLURM_KWARGS = {"queue": "debug", "walltime": "00:10:00", "cores": 1, "memory": "2GB", "account": "dask-startup"}
PBS_KWARGS = {"queue": "workq", "walltime": "00:20:00", "cores": 1, "memory": "4GB", "resource_spec": "select=1"}


def cluster_config(workers: int, variant: int) -> dict:
    """Job-queue clusters whose labels are long: a manager class, nested arguments, several knobs differing."""
    slurm = variant % 2 == 0
    full = variant // 2 % 2 == 0  # dashboard and nanny, workers spawned; else neither, workers forked by a server
    return {
        "n_workers": workers, "threads_per_worker": 1,
        "cluster_class": "dask_jobqueue:SLURMCluster" if slurm else "dask_jobqueue.pbs:PBSCluster",
        "cluster_kwargs": SLURM_KWARGS if slurm else PBS_KWARGS,
        "dashboard": full, "nanny": full, "start_method": "spawn" if full else "forkserver",
        "workload": "weak-array", "workload_chunk": 1000 * (1 + variant // 4),
    }


# Shares of a worker's registration time taken by each phase inside it (a batch job with a nanny).
WORKER_SHARES = {"queue": 0.3, "launch": 0.05, "nanny": 0.1, "process": 0.02, "imports": 0.4, "start": 0.1,
                 "registration": 0.03}


def worker_waterfall(requested: float, registered: float) -> dict:
    """A worker's waterfall: boundaries from the request to its registration, phases tiling it."""
    phases = {key: share * (registered - requested) for key, share in WORKER_SHARES.items()}
    boundaries, at = {"requested": requested}, requested
    for phase in WORKER_PHASES:
        at += phases[phase.key]
        boundaries[phase.ends_at] = at
    boundaries["registered"] = registered
    return {"status": "ok", "boundaries": boundaries, "phases": phases, "registration_time": registered - requested}


def cluster_run(config: dict, generator: random.Random, index: int) -> RunResult:
    """A run with its phases, every worker's arrival and waterfall, memory samples and the weak-scaling
    workload timed."""
    workers = config["n_workers"]
    slow = 1.0 + 0.4 * ("PBS" in config["cluster_class"]) + 0.2 * config["dashboard"]

    def noisy(seconds: float) -> float:
        return seconds * slow * generator.uniform(0.85, 1.25)

    phases = {"cluster_init": noisy(1.5), "client_connect": noisy(0.01),
              "wait_for_workers": noisy(2.0 + 0.6 * workers), "first_task": noisy(0.02)}
    requested = phases["cluster_init"] + phases["client_connect"]
    arrivals = sorted(requested + noisy(1.5 + 0.6 * k) for k in range(1, workers + 1))
    ready = requested + phases["wait_for_workers"]
    end = ready + phases["first_task"] + 1.0
    samples = [[t / 10, int(1e8 * min(workers, t / 10) * slow)] for t in range(int(end * 10))]
    return RunResult(
        kind="cluster", config=config, phases=phases, total_time=sum(phases.values()), teardown_time=noisy(0.5),
        after_ready={"workload_weak_array": noisy(0.3 + 0.02 * workers)},
        arrivals={"requested_at": requested, "first_worker": arrivals[0] - requested,
                  "half_workers": arrivals[(workers - 1) // 2] - requested, "all_workers": arrivals[-1] - requested},
        workers=[{"name": str(k), "arrival_time": time, "waterfall": worker_waterfall(requested, time)}
                 for k, time in enumerate(arrivals)],
        worker_phases={**{key: [share * (time - requested) for time in arrivals]
                          for key, share in WORKER_SHARES.items()},
                       "registered": [time - requested for time in arrivals]},
        memory_samples={"measure": "process", "interval": 0.1, "samples": samples},
        run_id=f"{index:032x}", timestamp=f"2026-01-01T00:{index // 60:02d}:{index % 60:02d}Z",
    )


def scheduler_run(config: dict, generator: random.Random, index: int) -> RunResult:
    """A run of a ``compare_schedulers`` configuration: its compute time, a little noisy."""
    compute = config["n_tasks"] * config["task_ms"] / 1000 / (1 if config["scheduler"] == "synchronous" else 2)
    compute *= generator.uniform(1.0, 1.3)
    return RunResult(kind="schedulers", config=config, phases={"compute": compute}, total_time=compute,
                     run_id=f"{index:032x}", timestamp=f"2026-01-01T00:{index // 60:02d}:{index % 60:02d}Z")


def cluster_configs(count: int) -> list[dict]:
    """``count`` configurations: families of 1, 2, 4 and 8 workers (one family when fewer than four)."""
    counts = (1, 2, 4, 8)
    return [cluster_config(counts[k % 4], k // 4) for k in range(count)] if count >= 4 else [
        cluster_config(2 * k + 2, 0) for k in range(count)]


def scheduler_configs(count: int) -> list[dict]:
    """``count`` scheduler comparisons: each scheduler on sleeping and on Python tasks, 8 and 16 of them."""
    return [{"scheduler": scheduler, "task_kind": kind, "n_tasks": tasks, "task_ms": 100.0, "n_workers": 2,
             "threads_per_worker": 1}
            for tasks in (8, 16) for scheduler in ("synchronous", "threads", "processes", "distributed")
            for kind in ("sleep", "python")][:count]


def write_plot_results(folder, count: int, kind: str = "cluster") -> list[Group]:
    """Result files of ``count`` configurations written to ``folder``, loaded and grouped as the analyzer does."""
    generator = random.Random(count)
    configs, make = (cluster_configs(count), cluster_run) if kind == "cluster" else (scheduler_configs(count),
                                                                                    scheduler_run)
    index = 0
    for number, config in enumerate(configs):
        for run in range(PLOT_RUNS):
            index += 1
            path = folder / f"config{number:02d}_run{run}.json"
            save_run(path, make(config, generator, index))
    return group_results(load([str(folder)]).results)
