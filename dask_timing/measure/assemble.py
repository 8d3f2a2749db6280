"""The result of a run, built from what it measured, once the run is over."""

from __future__ import annotations

import sys
import uuid
from typing import Any

from dask_timing import phases
from dask_timing.deploy.base import Deployment
from dask_timing.measure.arrivals import DETECTION_METHOD, arrival_summary
from dask_timing.measure import waterfall
from dask_timing.measure.clock import CLOCK_NAME
from dask_timing.measure.run import FIRST_TASK_CALL, Measurements, RunPlan
from dask_timing.record.environment import collect_environment
from dask_timing.record.schema import STATUS_FAILED, STATUS_OK, RunResult
from dask_timing.record.secrets import mask_command_line, mask_secrets


def assemble_result(
    measured: Measurements,
    deployment: Deployment,
    plan: RunPlan,
    options: dict[str, Any],
    before_start: dict[str, float],
) -> RunResult:
    """The run's result: what was measured, what was run, on what, and how it was measured.

    Secrets in the configuration, the options and the command line are masked
    (``record.secrets``): results are meant to be shared.

    ``options`` are the recorded settings that do not change what is measured;
    ``before_start`` the durations timed before the run began (the process's
    cold start).
    """
    timeline = measured.timeline
    after_ready = {key: value for key, value in timeline.extras.items() if key != phases.TEARDOWN.key}
    inside = waterfall.assemble(measured.startups, measured.workers, measured.workers_requested_at, measured.jobs,
                                timeline.wall_to_run_time, deployment, failed=measured.status == STATUS_FAILED)
    return RunResult(
        kind=deployment.kind,
        config=mask_secrets({**plan.config(), **deployment.config()}),
        options=mask_secrets(options),
        command_line=mask_command_line([sys.executable, *sys.argv]),
        environment=collect_environment(measured.load),
        run_id=uuid.uuid4().hex,
        timestamp=measured.started_at,
        status=measured.status,
        error=measured.error,
        phases=dict(timeline.phases),
        total_time=timeline.total() if measured.status == STATUS_OK else None,
        teardown_time=timeline.extras.get(phases.TEARDOWN.key),
        after_ready=after_ready,
        before_start=before_start,
        arrivals=arrival_summary(measured.workers, measured.workers_requested_at, plan.n_workers),
        probes=measured.probes,
        memory_samples=_memory_samples(measured, plan.diagnostics.memory_sample_interval),
        workers=measured.workers,
        worker_phases=inside.worker_phases,
        stragglers=inside.stragglers,
        import_profile=inside.import_profile,
        scheduler={"address": deployment.address, "dashboard": deployment.dashboard},
        versions=measured.versions,
        jobs=measured.jobs,
        measurement={
            "clock": CLOCK_NAME,
            "scheduler_readiness": deployment.scheduler_readiness,
            "worker_readiness": DETECTION_METHOD,
            "poll_interval": deployment.poll_interval,
            "first_task": FIRST_TASK_CALL,
            "run_started_utc": timeline.origin_wall,
            "excluded_from_total": dict(timeline.excluded),
            **({"worker_waterfall": inside.measurement} if inside.measurement else {}),
        },
    )


def _memory_samples(measured: Measurements, interval: float | None) -> dict[str, Any] | None:
    """Dask's memory samples, their wall-clock stamps placed on the run's timeline."""
    if measured.memory_samples is None:
        return None
    return {
        "measure": "process",
        "interval": interval,
        "samples": [[measured.timeline.wall_to_run_time(stamp), size] for stamp, size in measured.memory_samples],
    }
