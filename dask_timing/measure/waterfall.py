"""Inside every worker: its startup, boundary by boundary, on the run's timeline.

A result says when each worker registered; this says why it took that long.
Each boundary (``phases.WORKER_BOUNDARIES``) comes from the one source that
measures it exactly (``BOUNDARY_METHODS``): the driver's clock, the batch
system's records, the kernel's process start times, the stamping preload
inside the nanny and the worker (``deploy/dask_timing_worker.py``), and the
scheduler's add-worker event.  A boundary a worker does not have (no batch
system, no nanny, a thread worker's process) is absent, never zero; the
result says which are unavailable and why.

Stamps taken on a worker's host are placed on the driver's clock: a host
that shares the driver's kernel (the same boot id) shares its clock, so the
offset is exactly zero; any other host's offset is estimated after ready
from ``Client.run`` round trips (the midpoint of the shortest of
``CLOCK_SAMPLES``, good to half its round trip).  Stamps are kept in their
order: one that a coarse source (a clock tick, Slurm's whole seconds) or a
clock estimate puts before the previous boundary is clamped to it, and named.

A worker's phases run between consecutive boundaries it has, from
"requested" to "registered", so they add up to its registration time.  A
straggler is a worker much slower to register than the run's others
(``is_straggler``), named with the phase in which it lost its time.
"""

from __future__ import annotations

import asyncio
import glob
import json
import os
import statistics
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from dask_timing.deploy import dask_timing_worker as inside
from dask_timing.deploy.base import Deployment, WorkerInstrumentation
from dask_timing.record import import_profile
from dask_timing.phases import (
    FIRST_WORKER_BOUNDARY, REGISTERED_BOUNDARY, WORKER_BOUNDARIES, WORKER_PHASE_ENDING, WORKER_PHASES,
)

STAMPS_FOLDER = "worker-stamps"
# Client.run round trips after ready; the shortest bounds a host's clock offset best.  Workers that all
# share the driver's kernel share its clock: one round trip (for their first tasks) is enough.
CLOCK_SAMPLES = 3
# A straggler registers later than the median by more than STRAGGLER_K robust standard deviations
# (1.4826 MAD) and by more than STRAGGLER_SHARE of the median; it takes at least 3 workers to say.
STRAGGLER_K = 3.0
MAD_TO_SIGMA = 1.4826
STRAGGLER_SHARE = 0.25
STRAGGLER_MIN_WORKERS = 3
STRAGGLER_RULE = f"registered after median + max({STRAGGLER_K:g} x {MAD_TO_SIGMA} x MAD, {STRAGGLER_SHARE:.0%} of median)"

BOUNDARY_METHODS = {
    "requested": "driver's monotonic clock: the run asked for its workers (scale, or their processes launched)",
    "job_running": "the batch system's record of the job's start (Slurm's StartTime, whole seconds)",
    "nanny_created": "the kernel's start time of the nanny's process (/proc/self/stat: the middle of its clock tick)",
    "nanny_ready": "the nanny's preload dask_setup: listening, about to start its worker's process",
    "process_created": "the kernel's start time of the worker's process (/proc/self/stat: the middle of its clock tick)",
    "imports_done": "the worker's preload imported while the Worker is built (its imports done)",
    "worker_started": "the worker's preload dask_setup: listening, preloads set up, about to register",
    "registered": "the scheduler's add-worker event (the scheduler's clock, on this host)",
    "first_task": "the first transition to executing in the worker's own log",
}
SAME_CLOCK = "same kernel as the driver (same boot id): offset exactly 0"
ESTIMATED_CLOCK = "Client.run round trip after ready: midpoint of the shortest, good to half of it"
# Seconds the collection of worker records and job records gets after a run failed (its --timeout may be
# spent): a failed run ends within --timeout, this, and its teardown's bound.
AFTER_FAILURE_TIMEOUT = 5.0


@dataclass(frozen=True)
class WaterfallPlan:
    """Ask the workers for their startup waterfall; ``folder``: the run's work folder."""

    folder: str
    import_profile: bool = False


@dataclass
class WorkerStartups:
    """What a run learns of its workers' startups as it goes; ``assemble`` turns it into the result's part."""

    instrumentation: WorkerInstrumentation | None
    unavailable: str | None  # why the workers could not be instrumented
    log_offsets: dict[str, int] = field(default_factory=dict)
    registrations: dict[str, dict[str, Any]] = field(default_factory=dict)  # by address: the stamps sent
    samples: dict[str, dict[str, Any]] = field(default_factory=dict)  # by address: clock and first task

    @classmethod
    def prepare(cls, deployment: Deployment, plan: WaterfallPlan) -> WorkerStartups:
        """Have the deployment load the stamping module into what it starts (before anything starts)."""
        # absolute: worker processes may run in another folder
        folder = os.path.abspath(os.path.join(plan.folder, f"{STAMPS_FOLDER}-{os.getpid()}-{time.monotonic_ns()}"))
        instrumentation = WorkerInstrumentation(folder, plan.import_profile)
        unavailable = deployment.instrument(instrumentation)
        if unavailable is not None:
            return cls(None, unavailable)
        os.makedirs(folder, exist_ok=True)
        return cls(instrumentation, None, import_profile.log_sizes(deployment.worker_log_patterns()))

    def note_registrations(self, identity_workers: dict[str, dict[str, Any]]) -> None:
        """The stamps each worker sent with its registration (the scheduler's identity shows them)."""
        for address, info in identity_workers.items():
            if isinstance(info.get(inside.STARTUP_KEY), dict):
                self.registrations[address] = info[inside.STARTUP_KEY]

    async def sample(self, client: Any) -> None:
        """Each worker's clock against this one, and when its first task started (after ready)."""
        if self.instrumentation is None:
            return
        import cloudpickle

        cloudpickle.register_pickle_by_value(inside)  # workers load the module from its file, under another name
        here = inside.boot_id()
        for _ in range(CLOCK_SAMPLES):
            before = time.time()
            replies = await client.run(inside.report, on_error="return")
            after = time.time()
            for address, reply in replies.items():
                kept = self.samples.get(address)
                if isinstance(reply, dict) and (kept is None or after - before < kept["round_trip"]):
                    self.samples[address] = {**reply, "midpoint": (before + after) / 2, "round_trip": after - before}
            if here is not None and all(isinstance(reply, dict) and reply.get("boot_id") == here
                                        for reply in replies.values()):
                return

    def stamp_files(self) -> dict[str, dict[str, Any]]:
        """What each worker's processes wrote down, by worker name (for workers that never registered)."""
        found: dict[str, dict[str, Any]] = {}
        folder = self.instrumentation.stamp_dir
        for path in glob.glob(os.path.join(folder, "*.jsonl")):
            try:
                with open(path, encoding="utf-8") as stream:
                    records = [json.loads(line) for line in stream if line.strip()]
            except (OSError, ValueError):
                continue
            for record in records:
                stamps = found.setdefault(str(record.get("name")), {})
                if record.pop("role", None) == "nanny":
                    stamps.setdefault("nanny", {}).update(record)
                else:
                    stamps.update(record)
        return found


def driver_identity() -> dict[str, Any]:
    """This process and its kernel: stamps of the same process are not a worker's own, of the same kernel
    share this clock."""
    return {"pid": os.getpid(), "boot_id": inside.boot_id()}


class Clock:
    """How one worker host's wall clock maps to the run's timeline."""

    def __init__(self, stamps: dict[str, Any], sample: dict[str, Any] | None, driver: dict[str, Any],
                 wall_to_run_time: Any) -> None:
        self.wall_to_run_time = wall_to_run_time
        self.offset: float | None = None
        self.record: dict[str, Any] = {}
        estimate = None if sample is None else sample["now"] - sample["midpoint"]
        if estimate is not None:
            self.record = {"clock_offset_estimate": estimate, "clock_offset_uncertainty": sample["round_trip"] / 2}
        host = stamps.get("boot_id") or (stamps.get("nanny") or {}).get("boot_id")  # a nanny shares its worker's host
        if driver["boot_id"] is not None and host == driver["boot_id"]:
            self.offset, self.record["clock"] = 0.0, "same"
        elif estimate is not None:
            self.offset, self.record["clock"] = estimate, "estimated"
        if self.offset is not None:
            self.record["clock_offset"] = self.offset

    def place(self, wall: float | None) -> float | None:
        """A stamp of the worker's host on the run's timeline; None if absent or the clock is unknown."""
        if wall is None or self.offset is None:
            return None
        return self.wall_to_run_time(wall - self.offset)


def in_order(boundaries: dict[str, float]) -> tuple[dict[str, float], list[str]]:
    """The boundaries in their order, each clamped between its neighbours where a coarse stamp put it
    out of order; "requested" and "registered" (the driver's and the scheduler's) stay as measured."""
    names = [name for name in WORKER_BOUNDARIES if boundaries.get(name) is not None]
    placed = {name: boundaries[name] for name in names}
    clamped: list[str] = []

    def clamp(name: str, value: float) -> None:
        if name not in (FIRST_WORKER_BOUNDARY, REGISTERED_BOUNDARY) and value != placed[name]:
            placed[name] = value
            if name not in clamped:
                clamped.append(name)

    for earlier, later in zip(names, names[1:]):  # never before the one before
        clamp(later, max(placed[later], placed[earlier]))
    ending = names.index(REGISTERED_BOUNDARY) if REGISTERED_BOUNDARY in names else None
    if ending is not None:
        for earlier, later in reversed(list(zip(names[:ending], names[1:ending + 1]))):  # never after registration
            clamp(earlier, min(placed[earlier], placed[later]))
    return placed, clamped


def tile(boundaries: dict[str, float]) -> dict[str, float]:
    """The phases between consecutive boundaries from "requested" to the last one up to "registered"."""
    phases: dict[str, float] = {}
    previous = None
    for name in WORKER_BOUNDARIES:
        if boundaries.get(name) is None:
            continue
        if previous is not None and name in WORKER_PHASE_ENDING:
            phases[WORKER_PHASE_ENDING[name].key] = max(0.0, boundaries[name] - boundaries[previous])
        if name == REGISTERED_BOUNDARY:
            break
        previous = name
    return phases


def waterfall(stamps: dict[str, Any], known: dict[str, float | None], clock: Clock,
              driver: dict[str, Any]) -> dict[str, Any]:
    """One worker's record: boundaries on the run's timeline, its phases, how its clock was placed.

    ``stamps``: what its processes stamped (wall clock of its host); ``known``:
    boundaries the driver has itself (run time).  Rows of a process that is the
    driver's own (a nanny inside it, a thread worker) are left out.
    """
    nanny = stamps.get("nanny") or {}
    own_process = stamps.get("pid") not in (None, driver["pid"])
    found = {
        "nanny_created": clock.place(nanny.get("nanny_created")) if nanny.get("pid") != driver["pid"] else None,
        "nanny_ready": clock.place(nanny.get("nanny_ready")),
        "process_created": clock.place(stamps.get("process_created")) if own_process else None,
        "imports_done": clock.place(stamps.get("imports_done")) if own_process else None,
        "worker_started": clock.place(stamps.get("worker_started")),
        **known,
    }
    boundaries, clamped = in_order({name: value for name, value in found.items() if value is not None})
    record: dict[str, Any] = {"status": "ok", "boundaries": boundaries, "phases": tile(boundaries)}
    if REGISTERED_BOUNDARY in boundaries and FIRST_WORKER_BOUNDARY in boundaries:
        record["registration_time"] = boundaries[REGISTERED_BOUNDARY] - boundaries[FIRST_WORKER_BOUNDARY]
    if clamped:
        record["clamped"] = clamped
    record.update(clock.record)
    if own_process:
        record.update(pid=stamps["pid"], cpu_seconds=stamps.get("cpu_seconds"))
    if nanny.get("pid") not in (None, driver["pid"]):
        record["nanny_pid"] = nanny["pid"]
    return record


def _belongs_to(name: str, spec: str) -> bool:
    """Whether a worker of that name was started by that worker spec (a batch job's workers are named
    after it: ``SLURMCluster-0``, or ``SLURMCluster-0-1`` with several processes a job)."""
    return name == spec or name.startswith(f"{spec}-")


def _registered(spec: str, names: set[str]) -> bool:
    return any(_belongs_to(name, spec) for name in names)


def _job_starts(jobs: list[dict[str, Any]] | None, names: list[str]) -> dict[str, float]:
    """Worker name -> when its batch job started running."""
    return {name: job["started_at"] for job in jobs or [] if job.get("started_at") is not None
            for name in names if _belongs_to(name, job["worker"])}


@dataclass
class Assembled:
    """The result's parts that come from the waterfalls."""

    worker_phases: dict[str, list[float]] | None = None
    stragglers: list[dict[str, Any]] | None = None
    import_profile: dict[str, Any] | None = None
    measurement: dict[str, Any] = field(default_factory=dict)


def assemble(startups: WorkerStartups | None, workers: list[dict[str, Any]], requested_at: float | None,
             jobs: list[dict[str, Any]] | None, wall_to_run_time: Any, deployment: Deployment,
             failed: bool) -> Assembled:
    """Give each worker record its waterfall (and, after a failure, add the workers that never registered);
    return the run's worker phases, stragglers, import profile and how they were measured."""
    if startups is None or requested_at is None:
        return Assembled()
    if startups.instrumentation is None:
        return Assembled(measurement={"unavailable": {name: startups.unavailable for name in WORKER_BOUNDARIES}})
    driver = driver_identity()
    files = startups.stamp_files()
    registered = {worker["name"] for worker in workers}
    lost = [name for name in deployment.started_worker_names() if not _registered(name, registered)] if failed else []
    job_starts = _job_starts(jobs, [*registered, *lost])
    for worker in workers:
        stamps = {**files.get(worker["name"], {}), **startups.registrations.get(worker["address"], {})}
        sample = startups.samples.get(worker["address"])
        clock = Clock(stamps, sample, driver, wall_to_run_time)
        first_task = clock.place(sample.get("first_task")) if sample else None
        known = {"requested": requested_at, "job_running": job_starts.get(worker["name"]),
                 "registered": worker.get("arrival_time"), "first_task": first_task}
        worker["waterfall"] = waterfall(stamps, known, clock, driver)
    for name in lost:
        stamps = files.get(name, {})
        clock = Clock(stamps, None, driver, wall_to_run_time)
        record = waterfall(stamps, {"requested": requested_at, "job_running": job_starts.get(name)}, clock, driver)
        record.update(status="failed", last_boundary=list(record["boundaries"])[-1],
                      log_tail=deployment.worker_log_tail(name))
        workers.append({"name": name, "address": None, "arrival_time": None, "waterfall": record})
    ok = [worker["waterfall"] for worker in workers if worker["waterfall"]["status"] == "ok"]
    return Assembled(
        worker_phases=_worker_phases(ok) or None,
        stragglers=find_stragglers({worker["name"]: worker["waterfall"] for worker in workers
                                    if worker["waterfall"]["status"] == "ok"}),
        import_profile=_import_profile(startups, deployment, [str(worker["name"]) for worker in workers
                                                             if worker["waterfall"]["status"] == "ok"]),
        measurement={"boundaries": {name: BOUNDARY_METHODS[name] for name in WORKER_BOUNDARIES
                                    if any(name in record["boundaries"] for record in ok)},
                     "unavailable": _unavailable(ok, driver, jobs),
                     "clock": {"same": SAME_CLOCK, "estimated": ESTIMATED_CLOCK},
                     "straggler_rule": STRAGGLER_RULE},
    )


def _worker_phases(records: list[dict[str, Any]]) -> dict[str, list[float]]:
    """Each phase's seconds over the workers that have it, in phase order, then each worker's registration
    time under "registered" (what the analyzer pools)."""
    found = {phase.key: values for phase in WORKER_PHASES
             if (values := [record["phases"][phase.key] for record in records if phase.key in record["phases"]])}
    registered = [record["registration_time"] for record in records if "registration_time" in record]
    return {**found, REGISTERED_BOUNDARY: registered} if registered else found


def _unavailable(records: list[dict[str, Any]], driver: dict[str, Any], jobs: list | None) -> dict[str, str]:
    """Why each boundary no worker has is missing."""
    present = {name for record in records for name in record["boundaries"]}
    reasons = {
        "job_running": "no batch system: the workers are not jobs",
        "nanny_created": ("the nannies run inside this process: no process of their own"
                          if "nanny_ready" in present else "no nanny"),
        "nanny_ready": "no nanny",
        "process_created": "the workers are threads of this process: no process of their own",
        "imports_done": "the workers are threads of this process: no process of their own",
        "first_task": "no task ran on the workers before they were asked (or their log no longer held it)",
        "registered": "no worker registered",
    }
    if not any("pid" in record or "worker_started" in record["boundaries"] for record in records):
        for name in ("nanny_created", "nanny_ready", "process_created", "imports_done", "worker_started"):
            reasons[name] = "the workers did not load the stamping module (their cluster manager did not pass it on)"
    if jobs:
        reasons["job_running"] = "the batch system kept no start time for the jobs"
    return {name: reasons.get(name, "not stamped") for name in WORKER_BOUNDARIES if name not in present}


def _import_profile(startups: WorkerStartups, deployment: Deployment, names: list[str]) -> dict[str, Any] | None:
    """The workers' import profile, each worker's own where each wrote a log of its own."""
    workers = len(names)
    if not startups.instrumentation.import_profile:
        return None
    logs = import_profile.read_logs(deployment.worker_log_patterns(), startups.log_offsets)
    if not logs or not workers:
        return {"source": import_profile.SOURCE, "unavailable": "no import times in the workers' logs"}
    totals = sum((lines.totals for lines in logs.values()), Counter())
    processes = sum((lines.processes for lines in logs.values()), Counter())
    chains = {package: chain for lines in logs.values() for package, chain in lines.chains.items()}
    own_logs = set(logs) <= set(names)  # one log a worker: its figures are its own
    return import_profile.profile(totals, workers, {name: lines.totals for name, lines in logs.items()}
                                  if own_logs else None, chains, processes)


def is_straggler(seconds: float, median: float, mad: float) -> bool:
    """Much slower than the others: robust to the stragglers themselves (median and MAD, not mean and
    standard deviation), and never for a few milliseconds when the others agree closely (MAD near 0)."""
    return seconds - median > max(STRAGGLER_K * MAD_TO_SIGMA * mad, STRAGGLER_SHARE * median)


def find_stragglers(records: dict[str, dict[str, Any]]) -> list[dict[str, Any]] | None:
    """The workers much slower to register than the run's others, each with the phase that lost its time
    (the one furthest over the other workers' median of it).  None: too few workers to tell."""
    times = {name: record["registration_time"] for name, record in records.items() if "registration_time" in record}
    if len(times) < STRAGGLER_MIN_WORKERS:
        return None
    median = statistics.median(times.values())
    mad = statistics.median(abs(seconds - median) for seconds in times.values())
    found = []
    for name, seconds in sorted(times.items(), key=lambda item: -item[1]):
        if not is_straggler(seconds, median, mad):
            continue
        others = [record["phases"] for other, record in records.items() if other != name]
        excess = {phase: value - statistics.median([phases.get(phase, 0.0) for phases in others])
                  for phase, value in records[name]["phases"].items()}
        phase = max(excess, key=excess.get)
        found.append({"name": name, "registration_time": seconds, "median_registration_time": median,
                      "excess": seconds - median, "phase": phase, "phase_excess": excess[phase]})
    return found


async def bounded(awaitable: Any, seconds: float = AFTER_FAILURE_TIMEOUT) -> Any:
    """Await within ``seconds``; None if it fails or takes longer (collection after a failure is best effort)."""
    try:
        return await asyncio.wait_for(awaitable, seconds)
    except Exception:  # noqa: BLE001 - the run has failed already; what cannot be collected is left out
        return None
