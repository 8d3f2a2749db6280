"""The one rule for SIGINT, SIGTERM and SIGHUP, in every tool.

The first signal asks the work to stop cleanly: the cluster is torn down and
what was measured is still written.  A second signal kills every process this
one started, at once, and exits.  How "stop cleanly" is asked differs by tool
(an asyncio task is cancelled, a synchronous loop gets an exception, a study
passes the signal on to its current run, the analyzer stops where it is and
leaves no file half-written); the rule does not.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any, Awaitable, Callable, TypeVar

from dask_timing.errors import signal_exit_code

HANDLED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

T = TypeVar("T")


def kill_descendants() -> None:
    """SIGKILL every living descendant of this process (the second signal's answer)."""
    import psutil

    for child in psutil.Process().children(recursive=True):
        try:
            child.kill()
        except psutil.NoSuchProcess:
            pass


class StopSignals:
    """Receives the handled signals; ``on_stop(signum)`` is called once, for the first."""

    def __init__(self, on_stop: Callable[[int], None], announce: str = "stopping and tearing down...",
                 last_words: Callable[[], str] | None = None) -> None:
        self.on_stop = on_stop
        self.announce = announce
        self.last_words = last_words  # said on the second signal, as nothing else is (a study's resume command)
        self.received: int | None = None

    def handle(self, signum: int, _frame: Any = None) -> None:
        if self.received is not None:
            kill_descendants()
            if self.last_words is not None:
                print(self.last_words(), file=sys.stderr, flush=True)
            os._exit(signal_exit_code(self.received))
        self.received = signum
        print(f"\nReceived {signal.Signals(signum).name}: {self.announce}", file=sys.stderr, flush=True)
        self.on_stop(signum)

    def install(self) -> "StopSignals":
        """Handle the signals in this (main) thread."""
        for signum in HANDLED_SIGNALS:
            signal.signal(signum, self.handle)
        return self

    def install_in_loop(self, loop: Any) -> "StopSignals":
        """Handle the signals in a running asyncio loop."""
        for signum in HANDLED_SIGNALS:
            loop.add_signal_handler(signum, self.handle, signum)
        return self

    @property
    def exit_code(self) -> int | None:
        return None if self.received is None else signal_exit_code(self.received)


class Interrupted(KeyboardInterrupt):
    """A handled signal, raised where the work is: ``finally`` blocks still run (a cluster is closed, a
    temporary file removed), and the command exits with the signal's code."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def raise_interrupted(signum: int) -> None:
    """``on_stop`` for synchronous work that started nothing to tear down: stop where it is."""
    raise Interrupted(signum)


def _quiet_about_abandoned_tasks(loop: Any, context: dict[str, Any]) -> None:
    """Leave out asyncio's "Task exception was never retrieved" for tasks a run gave up on.

    When a run stops waiting (its deadline, a stop request, a dead scheduler),
    distributed's client ends the waits it had pending, one task per future: a
    batch of 100,000 tasks would print 100,000 tracebacks that say nothing new.
    """
    if context.get("message") != "Task exception was never retrieved":
        loop.default_exception_handler(context)


def run_stoppable(make: Callable[[], Awaitable[T]], stop: StopSignals) -> T:
    """Run a coroutine under ``stop``'s rule, in an asyncio loop of its own.

    The signals are handled in the loop while it runs and, once it has closed
    (asyncio then puts the default handlers back), in the main thread again:
    a signal that comes while the result is being written is counted, not lost.
    """
    import asyncio  # here, not at the top: the synchronous tools never need it

    async def main() -> T:
        loop = asyncio.get_running_loop()
        stop.install_in_loop(loop)
        loop.set_exception_handler(_quiet_about_abandoned_tasks)
        return await make()

    try:
        return asyncio.run(main())
    finally:
        stop.install()
