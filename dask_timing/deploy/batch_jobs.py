"""Worker jobs of dask-jobqueue clusters: queue wait apart from Dask's own start, no job left behind.

Minutes in a batch queue are not Dask's fault, yet they land in "workers
startup".  For each worker job, Slurm's own records give the submit and start
times; with the scheduler's registration stamp that splits a worker's arrival
into time in the queue (submit to running) and Dask's start (running to
registered).  Slurm keeps these times in whole seconds.
"""

from __future__ import annotations

import asyncio
import os
import shlex
from typing import Any

# Slurm prints times as Unix seconds when asked this way.
SLURM_EPOCH_FORMAT = {"SLURM_TIME_FORMAT": "%s"}


def job_ids(cluster: Any) -> dict[str, str]:
    """Worker-spec name -> batch job id, for clusters whose workers are jobs."""
    found = {}
    for name, worker in (getattr(cluster, "workers", None) or {}).items():
        job_id = getattr(worker, "job_id", None)
        if job_id:
            found[str(name)] = str(job_id)
    return found


def is_slurm(cluster: Any) -> bool:
    job_class = getattr(cluster, "job_cls", None)
    return getattr(job_class, "submit_command", None) == "sbatch"


async def _run(command: list[str], env: dict[str, str] | None = None) -> str:
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
    )
    output, _ = await process.communicate()
    return output.decode(errors="replace")


def parse_scontrol(text: str) -> dict[str, str]:
    """``Key=Value`` pairs of one ``scontrol show job -o`` line."""
    return dict(field.split("=", 1) for field in text.split() if "=" in field)


async def slurm_times(job_id: str) -> tuple[float, float] | None:
    """(submit, start) of a Slurm job as Unix seconds, or None if Slurm no longer knows it."""
    fields = parse_scontrol(await _run(["scontrol", "show", "job", "-o", job_id], SLURM_EPOCH_FORMAT))
    try:
        return float(fields["SubmitTime"]), float(fields["StartTime"])
    except (KeyError, ValueError):
        return None


async def queued(cluster: Any) -> str | None:
    """Why workers have not come, when the batch queue holds them back: which jobs are still
    pending and the reason Slurm gives (``Resources``: the partition has no room for them)."""
    if not is_slurm(cluster):
        return None
    pending = []
    for job_id in job_ids(cluster).values():
        fields = parse_scontrol(await _run(["scontrol", "show", "job", "-o", job_id]))
        if fields.get("JobState") == "PENDING":
            pending.append(f"{job_id} ({fields.get('Reason', 'no reason given')})")
    if not pending:
        return None
    partition = parse_scontrol(await _run(["scontrol", "show", "partition", "-o"]))
    room = f"; the partition {partition['PartitionName']} has {partition['TotalCPUs']} CPUs" \
        if {"PartitionName", "TotalCPUs"} <= partition.keys() else ""
    return (f"{len(pending)} of {len(job_ids(cluster))} worker jobs are still queued in Slurm, pending: "
            f"{', '.join(pending)}{room}")


async def job_records(cluster: Any, workers: list[dict[str, Any]], wall_to_run_time) -> list[dict[str, Any]] | None:
    """Per worker job: submitted and started (run time), queue wait, and running to registered."""
    if not is_slurm(cluster):
        return None
    records = []
    for name, job_id in job_ids(cluster).items():
        times = await slurm_times(job_id)
        worker = next((w for w in workers if w["name"] == name or w["name"].startswith(f"{name}-")), None)
        record: dict[str, Any] = {"worker": name, "job_id": job_id}
        if times is not None:
            submitted, started = (wall_to_run_time(stamp) for stamp in times)
            record.update(submitted_at=submitted, started_at=started, queue_wait=started - submitted)
            if worker is not None and worker.get("arrival_time") is not None:
                record["start_to_registered"] = worker["arrival_time"] - started
        records.append(record)
    return records


async def cancel(cluster: Any, ids: list[str]) -> None:
    """Cancel jobs still queued or running after the cluster closed (a no-op for finished ones)."""
    job_class = getattr(cluster, "job_cls", None)
    command = getattr(job_class, "cancel_command", None)
    if ids and command:
        await _run([*shlex.split(command), *ids])
