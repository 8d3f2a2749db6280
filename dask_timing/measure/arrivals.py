"""Worker registrations, pushed by the scheduler as they happen.

The scheduler publishes an ``add-worker`` event on its ``all`` topic the moment
a worker registers, stamped with the scheduler's own clock.  Subscribing to
that topic lets the tools see each arrival within the scheduler's batching
interval for clients (2 ms in current distributed), without polling, and works
the same for an in-process LocalCluster, separate processes or a remote
scheduler.  ``Client.wait_for_workers`` polls every 100 ms instead.

A subscription becomes active only once the scheduler has read it, so after
subscribing we wait for an echo of an event we publish ourselves (a barrier),
then read the topic's history for anything that arrived before.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from typing import Any

from dask_timing.measure.clock import Timeline

SCHEDULER_TOPIC = "all"
DETECTION_METHOD = "scheduler add-worker events (pushed, no polling)"
# How long to wait for the barrier's echo before publishing it again.
_BARRIER_RETRY = 0.02


class WorkerLeft(RuntimeError):
    """A worker left the cluster while the run was still measuring."""


@dataclass
class Arrival:
    """One worker's registration, in seconds on the run's timeline."""

    address: str
    scheduler_time: float  # the scheduler's stamp, placed on the run's timeline
    seen_time: float | None  # when this client learned of it (None: from history)


class WorkerArrivals:
    """Follows workers joining and leaving one scheduler."""

    def __init__(self, client: Any, timeline: Timeline) -> None:
        self._client = client
        self._timeline = timeline
        self.arrivals: dict[str, Arrival] = {}
        self.present: set[str] = set()
        self.departed: list[str] = []  # addresses of workers that left, in order
        self._changed = asyncio.Event()
        self._subscribed = False
        self._barrier_topic = f"dask-timing-barrier-{uuid.uuid4().hex}"
        self._barrier_echoed = asyncio.Event()

    async def start(self) -> None:
        """Subscribe, wait until the subscription is live, then read history."""
        self._subscribed = True
        self._client.subscribe_topic(SCHEDULER_TOPIC, self._on_event)
        self._client.subscribe_topic(self._barrier_topic, lambda event: self._barrier_echoed.set())
        while not self._barrier_echoed.is_set():
            await self._client.scheduler.log_event(topic=self._barrier_topic, msg="ping")
            try:
                await asyncio.wait_for(self._barrier_echoed.wait(), _BARRIER_RETRY)
            except asyncio.TimeoutError:
                continue
        self._client.unsubscribe_topic(self._barrier_topic)
        for stamp, message in await self._client.scheduler.events(topic=SCHEDULER_TOPIC):
            self._record(stamp, message, seen_time=None)

    def stop(self) -> None:
        """Stop listening, if listening started (the client may already be closing)."""
        if self._subscribed:
            self._subscribed = False
            self._client.unsubscribe_topic(SCHEDULER_TOPIC)

    def _on_event(self, event: tuple[float, Any]) -> None:
        stamp, message = event
        self._record(stamp, message, seen_time=self._timeline.now())

    def _record(self, stamp: float, message: Any, seen_time: float | None) -> None:
        if not isinstance(message, dict):
            return
        address = message.get("worker")
        action = message.get("action")
        if action == "add-worker" and address:
            if address not in self.arrivals:
                self.arrivals[address] = Arrival(
                    address, self._timeline.wall_to_run_time(stamp), seen_time
                )
            self.present.add(address)
            self._changed.set()
        elif action == "remove-worker" and address:
            self.present.discard(address)
            self.departed.append(address)
            self._changed.set()

    async def wait_for(self, n_workers: int) -> None:
        """Return as soon as ``n_workers`` workers are registered at once.

        Has no timeout of its own: callers bound it (see ``runner``).
        """
        while len(self.present) < n_workers:
            self._changed.clear()
            await self._changed.wait()

    async def watch_departures(self) -> None:
        """Raise WorkerLeft as soon as a worker leaves from now on; never return otherwise.

        Once the cluster is ready, a worker that leaves has died or lost the
        scheduler (a nanny restarts a killed worker process, under a new
        address): what is timed after that is a restart, not the work asked for.
        """
        known = len(self.departed)
        while len(self.departed) == known:
            self._changed.clear()
            await self._changed.wait()
        raise WorkerLeft(f"worker {self.departed[known]} left the cluster after it was ready "
                         "(its process died or lost the scheduler)")

    def ordered(self) -> list[Arrival]:
        """Arrivals in the order the scheduler registered them."""
        return sorted(self.arrivals.values(), key=lambda arrival: arrival.scheduler_time)


def arrival_summary(workers: list[dict[str, Any]], requested_at: float | None, n_workers: int) -> dict[str, Any] | None:
    """When the first worker, half of them and all of them had registered.

    Seconds after the workers were requested, from the scheduler's stamps; a
    milestone not reached is None.
    """
    if requested_at is None:
        return None
    times = sorted(worker["arrival_time"] - requested_at for worker in workers if worker.get("arrival_time") is not None)
    reached = {
        "first_worker": 1,
        "half_workers": (n_workers + 1) // 2,
        "all_workers": n_workers,
    }
    summary: dict[str, Any] = {"requested_at": requested_at}
    for name, count in reached.items():
        summary[name] = times[count - 1] if len(times) >= count else None
    return summary
