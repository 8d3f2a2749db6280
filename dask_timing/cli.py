"""Command-line plumbing shared by every tool: options, validation, signals, exit codes.

Bad input gets one line on stderr and exit code 2 before anything starts.
Ctrl-C, SIGTERM and SIGHUP cancel the run, which then tears its cluster down
and still writes its result; a second signal kills what is left at once.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from typing import Any, Awaitable, Callable, NoReturn, TypeVar

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
DEFAULT_TIMEOUT = 60.0
DEFAULT_HOST = "127.0.0.1"
HANDLED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

T = TypeVar("T")


class UsageError(Exception):
    """Bad input, found after argument parsing (e.g. an existing output file)."""


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line, exit 2, no usage dump."""

    def error(self, message: str) -> NoReturn:
        fail_usage(f"{message} (see {self.prog} --help)", prog=self.prog)


def fail_usage(message: str, prog: str | None = None) -> NoReturn:
    """Print ``prog: error: message`` on stderr and exit with the usage code."""
    name = prog or os.path.basename(sys.argv[0])
    print(f"{name}: error: {message}", file=sys.stderr)
    sys.exit(EXIT_USAGE)


def _whole(text: str, minimum: int) -> int:
    try:
        value = int(text)
    except ValueError:
        value = minimum - 1
    if value < minimum:
        raise argparse.ArgumentTypeError(f"expected a whole number of {minimum} or more, got {text!r}")
    return value


def positive_int(text: str) -> int:
    """argparse type: a whole number of 1 or more."""
    return _whole(text, 1)


def non_negative_int(text: str) -> int:
    """argparse type: a whole number of 0 or more."""
    return _whole(text, 0)


def _number(text: str, minimum: float, inclusive: bool, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    if value != value or value == float("inf") or value < minimum or (value == minimum and not inclusive):
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
    return value


def non_negative_float(text: str) -> float:
    """argparse type: a number of 0 or more."""
    return _number(text, 0.0, True, "a number of 0 or more")


def positive_float(text: str) -> float:
    """argparse type: a number above 0."""
    return _number(text, 0.0, False, "a number above 0")


def positive_seconds(text: str) -> float:
    """argparse type: a duration in seconds, above zero."""
    return _number(text, 0.0, False, "a number of seconds above 0")


def comma_list(item: Callable[[str], Any]) -> Callable[[str], list]:
    """argparse type: a comma-separated list of ``item`` values, duplicates dropped, order kept."""

    def parse(text: str) -> list:
        values = list(dict.fromkeys(item(part.strip()) for part in text.split(",") if part.strip()))
        if not values:
            raise argparse.ArgumentTypeError(f"expected a comma-separated list, got {text!r}")
        return values

    return parse


def one_of(allowed) -> Callable[[str], str]:
    """argparse type: one of the ``allowed`` names."""

    def parse(text: str) -> str:
        if text not in allowed:
            raise argparse.ArgumentTypeError(f"expected one of {', '.join(allowed)}, got {text!r}")
        return text

    return parse


def signal_exit_code(signum: int) -> int:
    """The shell's convention: 128 + the signal number."""
    return 128 + signum


def run_cancellable(make: Callable[[], Awaitable[T]], on_second_signal: Callable[[], None]) -> tuple[T, int | None]:
    """Run a coroutine; the first handled signal cancels it, a second one ends the process.

    Returns the coroutine's value and the signal that cancelled it, if any.
    The coroutine is expected to handle its cancellation (tear down) and return.
    """
    import asyncio  # here, not at the top: the analyzer never needs it

    received: list[int] = []

    async def main() -> T:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()

        def on_signal(signum: int) -> None:
            if received:
                on_second_signal()
                os._exit(signal_exit_code(received[0]))
            received.append(signum)
            print(f"\nReceived {signal.Signals(signum).name}: stopping and tearing down...", file=sys.stderr, flush=True)
            task.cancel()

        for signum in HANDLED_SIGNALS:
            loop.add_signal_handler(signum, on_signal, signum)
        return await make()

    value = asyncio.run(main())
    return value, (received[0] if received else None)


def require_dask() -> None:
    """Exit with a one-line hint when Dask is not installed."""
    try:
        import distributed  # noqa: F401
    except ImportError as error:
        fail_usage(f"{error.name or 'distributed'} is not installed; run: pip install -r requirements.txt")


def describe_failure(error: BaseException) -> str:
    """A one-line description of an unexpected error."""
    return f"{type(error).__name__}: {error}"


def guarded(main: Callable[[list[str] | None], int], prog: str | None = None) -> Callable[[list[str] | None], int]:
    """Wrap a tool's main so unexpected errors are one line on stderr, not a traceback."""

    def wrapper(argv: list[str] | None = None) -> int:
        name = prog or os.path.basename(sys.argv[0])
        try:
            return main(argv)
        except UsageError as error:
            fail_usage(str(error), prog=name)
        except KeyboardInterrupt:
            return signal_exit_code(signal.SIGINT)
        except Exception as error:  # noqa: BLE001 - the point is no traceback for users
            if os.environ.get("DASK_TIMING_DEBUG"):
                raise
            print(
                f"{name}: error: {describe_failure(error)} "
                "(set DASK_TIMING_DEBUG=1 for the traceback)",
                file=sys.stderr,
            )
            return EXIT_FAILED

    return wrapper


def add_common_run_options(parser: argparse.ArgumentParser, default_batch: int) -> None:
    """Options every timing tool shares, with the specification's short forms."""
    parser.add_argument("-w", "--workers", type=positive_int, default=4, metavar="N",
                        help="number of workers (default: 4)")
    parser.add_argument("-t", "--threads", type=positive_int, default=1, metavar="N",
                        help="threads per worker (default: 1)")
    parser.add_argument("-o", "--output", metavar="FILE",
                        help="save the result as JSON to FILE (never overwritten unless --force)")
    parser.add_argument("--force", action="store_true",
                        help="overwrite --output if it exists")
    parser.add_argument("--no-wait", dest="wait", action="store_false",
                        help="do not wait for all workers: time the first task from the moment "
                             "workers are requested")
    parser.add_argument("--batch", type=non_negative_int, default=default_batch, metavar="N",
                        help=f"after ready, time a batch of N tasks; 0 skips it (default: {default_batch})")
    parser.add_argument("--timeout", type=positive_seconds, default=DEFAULT_TIMEOUT, metavar="SECONDS",
                        help=f"bound on every wait of the run (default: {DEFAULT_TIMEOUT:g})")
    parser.add_argument("--host", default=DEFAULT_HOST,
                        help=f"address the scheduler and workers listen on (default: {DEFAULT_HOST}; "
                             "a scheduler runs any function it is sent, so widen with care)")
    parser.add_argument("--log-dir", metavar="DIR",
                        help="keep the work folder in DIR: each started process's log, the scheduler file "
                             "and worker scratch space "
                             "(default: a temporary folder, removed after a successful run)")


def add_diagnostic_options(parser: argparse.ArgumentParser) -> None:
    """Dask's own diagnostics and the overhead probes, all after ready and opt-in."""
    group = parser.add_argument_group("diagnostics (after the cluster is ready; not in the total)")
    group.add_argument("--probes", action="store_true",
                       help="measure scheduler overhead: round-trip latency, throughput, per-task "
                            "overhead (0, 1, 10 ms tasks) and inter-task gaps")
    group.add_argument("--performance-report", metavar="FILE.html",
                       help="record the first task, batch and probes in Dask's HTML performance report")
    group.add_argument("--memory-sample", action="store_true",
                       help="sample cluster memory (Dask's MemorySampler) over the run into the result")
    group.add_argument("--memory-interval", type=positive_seconds, default=0.1, metavar="SECONDS",
                       help="memory sampling interval (default: 0.1)")
    group.add_argument("--task-stream", metavar="FILE.json",
                       help="save the raw task stream of the probes (needs --probes)")
    parser.add_argument("--warmup-run", action="store_true",
                        help="mark the result as a warmup run, left out of statistics "
                             "(set by run_timing_study.sh --warmup)")


def options_of(args: argparse.Namespace, names: tuple[str, ...]) -> dict[str, Any]:
    """The parsed options that do not change what is measured, for the result file."""
    return {name: getattr(args, name) for name in names}
