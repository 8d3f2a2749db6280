"""Command-line plumbing shared by every command: option types, checks before work, one-line errors.

Bad input gets one line on stderr and exit code 2 before anything starts;
an unexpected failure is one line too, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from typing import Any, Callable, NoReturn

from dask_timing.defaults import DEFAULT_HOST, DEFAULT_THREADS, DEFAULT_TIMEOUT, DEFAULT_WORKERS
from dask_timing.errors import (
    EXIT_FAILED, EXIT_OK, EXIT_USAGE, UsageError, describe_failure, is_missing_requirement, missing_requirement, one_line,
    signal_exit_code,
)

__all__ = ["DEFAULT_HOST", "DEFAULT_TIMEOUT", "EXIT_FAILED", "EXIT_OK", "EXIT_USAGE", "UsageError",
           "signal_exit_code"]


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line, exit 2, no usage dump.

    Options given as plain text (paths, addresses, names) refuse an empty or blank
    value: ``--output ""`` or ``--scheduler-address "$UNSET"`` would otherwise read
    as the option not given, and the run would quietly do something else.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.register("type", None, non_blank)  # the type of every option that names none (groups share it)

    def add_subparsers(self, **kwargs: Any) -> Any:
        subcommands = super().add_subparsers(**kwargs)
        subcommands.type = str  # its values are a subcommand's arguments, which that subcommand's parser checks
        return subcommands

    def error(self, message: str) -> NoReturn:
        fail_usage(f"{message} (see {self.prog} --help)", prog=self.prog)


def fail_usage(message: str, prog: str | None = None) -> NoReturn:
    """Print ``prog: error: message`` on stderr and exit with the usage code."""
    name = prog or os.path.basename(sys.argv[0])
    print(f"{name}: error: {one_line(message)}", file=sys.stderr)
    sys.exit(EXIT_USAGE)


def non_blank(text: str) -> str:
    """argparse type: any text but an empty or blank one."""
    if not text.strip():
        raise argparse.ArgumentTypeError(f"expected a value, got {text!r}")
    return text


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


def checked(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    """argparse type from a parser that raises ValueError with a message saying what was expected."""

    def convert(text: str) -> Any:
        try:
            return parse(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    return convert


def one_of(allowed) -> Callable[[str], str]:
    """argparse type: one of the ``allowed`` names."""

    def parse(text: str) -> str:
        if text not in allowed:
            raise argparse.ArgumentTypeError(f"expected one of {', '.join(allowed)}, got {text!r}")
        return text

    return parse


def require_dask() -> None:
    """Refuse with a one-line hint when Dask is not installed or cannot read its configuration (imported here,
    as the run would)."""
    from importlib import import_module

    try:
        import_module("distributed")
    except ImportError as error:
        raise UsageError(missing_requirement(error)) from None
    except ValueError as error:  # Dask reads its configuration files as it is imported
        raise UsageError(f"{error}; fix that file, or point DASK_CONFIG elsewhere") from None


def without_blas_threads() -> None:
    """Leave numpy's BLAS thread pool unstarted, unless the user set its size: a command that multiplies no
    matrices (the analyzer, the history) would otherwise pay a tenth of a 10,000-file summary's processor
    time for threads it never uses.  Never for a command that starts Dask: its workers would inherit it."""
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def guarded(main: Callable[[list[str] | None], int], prog: str | None = None) -> Callable[[list[str] | None], int]:
    """Wrap a tool's main so unexpected errors are one line on stderr, not a traceback."""

    def wrapper(argv: list[str] | None = None) -> int:
        name = prog or os.path.basename(sys.argv[0])
        try:
            return main(argv)
        except UsageError as error:
            fail_usage(str(error), prog=name)
        except ImportError as error:
            if not is_missing_requirement(error) or os.environ.get("DASK_TIMING_DEBUG"):
                raise
            fail_usage(missing_requirement(error), prog=name)  # an extra not installed: which one, in one line
        except KeyboardInterrupt as stop:  # Ctrl-C, or a handled signal raised as ``signals.Interrupted``
            return signal_exit_code(getattr(stop, "signum", signal.SIGINT))
        except BrokenPipeError:
            # The reader has gone (``| head``): stop quietly, as Unix tools do; what is still buffered
            # goes nowhere, so that the interpreter's last flush does not fail again.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return signal_exit_code(signal.SIGPIPE)
        except Exception as error:  # noqa: BLE001 - the point is no traceback for users
            if os.environ.get("DASK_TIMING_DEBUG"):
                raise
            print(
                f"{name}: error: {one_line(describe_failure(error))} "
                "(set DASK_TIMING_DEBUG=1 for the traceback)",
                file=sys.stderr,
            )
            return EXIT_FAILED

    return wrapper


def add_common_run_options(parser: argparse.ArgumentParser, default_batch: int) -> None:
    """Options every timing tool shares, with the specification's short forms."""
    parser.add_argument("-w", "--workers", type=positive_int, default=DEFAULT_WORKERS, metavar="N",
                        help=f"number of workers (default: {DEFAULT_WORKERS})")
    parser.add_argument("-t", "--threads", type=positive_int, default=DEFAULT_THREADS, metavar="N",
                        help=f"threads per worker (default: {DEFAULT_THREADS})")
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
    parser.add_argument("--verbose", action="store_true",
                        help="show Dask's own log lines and the worker processes' output here (by default "
                             "they go to dask.log in the run's work folder, kept when the run fails)")
    parser.add_argument("--log-dir", metavar="DIR",
                        help="keep the work folder in DIR: each started process's log, the scheduler file "
                             "and worker scratch space "
                             "(default: a temporary folder, removed after a successful run)")


def recorded_text(text: str) -> str:
    """argparse type: a label or revision the results database can hold (checked before anything runs,
    rather than a run's recording refused once it is measured)."""
    from dask_timing.history import RECORDED_TEXT_LENGTH

    text = non_blank(text)
    if len(text) > RECORDED_TEXT_LENGTH:
        raise argparse.ArgumentTypeError(f"expected at most {RECORDED_TEXT_LENGTH} characters, got {len(text)}")
    if "\0" in text:
        raise argparse.ArgumentTypeError("expected text without a NUL character")
    return text


MEMORY_INTERVAL = 0.1  # seconds between two samples of --memory-sample


def add_history_options(parser: argparse.ArgumentParser, records: str) -> None:
    """--db, --label and --revision: where runs are recorded, and what they are recorded as."""
    group = parser.add_argument_group("history (the results database)")
    group.add_argument("--db", metavar="URL",
                       help=f"also record {records} in this database (a SQLite file or URL, or "
                            "postgresql://...), after the JSON file is written; checked before anything runs")
    group.add_argument("--label", metavar="TEXT", type=recorded_text,
                       help="a label recorded with each run (e.g. a branch or a machine's role)")
    group.add_argument("--revision", metavar="TEXT", type=recorded_text,
                       help="the commit or revision measured, recorded with each run")


def add_gate_options(parser: argparse.ArgumentParser, when: str, slower: str, nothing: str = "") -> None:
    """The regression gate and its verdict file, for the commands that compare (the analyzer, a study of
    environments); ``when``: what makes a comparison, ``slower``: what is judged against what."""
    parser.add_argument("--fail-if-slower", type=non_negative_float, metavar="PCT",
                        help=f"{when}: a gate; exit 1 if {slower} by more than PCT percent, 3 if the runs cannot "
                             f"tell (too few, or measures that disagree){nothing}")
    parser.add_argument("--verdict-json", metavar="FILE",
                        help=f"{when}: save the verdicts and the gate's conclusion as JSON to FILE (never "
                             "overwritten)")


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
    group.add_argument("--memory-interval", type=positive_seconds, metavar="SECONDS",
                       help=f"memory sampling interval, with --memory-sample (default: {MEMORY_INTERVAL:g})")
    group.add_argument("--task-stream", metavar="FILE.json",
                       help="save the raw task stream of the probes (needs --probes)")
    parser.add_argument("--warmup-run", action="store_true",
                        help="mark the result as a warmup run, left out of statistics "
                             "(set by run_timing_study.sh --warmup)")


def options_of(args: argparse.Namespace, names: tuple[str, ...]) -> dict[str, Any]:
    """The parsed options that do not change what is measured, for the result file."""
    return {name: getattr(args, name) for name in names}


def parse_cluster_kwargs(text: str | None) -> dict[str, Any]:
    """--cluster-kwargs: a JSON object inline, or the path of a YAML or JSON file."""
    from dask_timing.record.settings import SettingsError, parse_json, read_settings_file

    if text is None:
        return {}
    if os.path.isfile(text):
        try:
            value = read_settings_file(text)
        except (SettingsError, OSError) as error:
            raise UsageError(f"--cluster-kwargs file {text} is refused: {getattr(error, 'strerror', None) or error}"
                             ) from None
    else:
        try:
            value = parse_json(text)
        except SettingsError as error:
            raise UsageError(f"--cluster-kwargs is neither a JSON object nor a readable YAML/JSON file ({error})"
                             ) from None
    if not isinstance(value, dict):
        raise UsageError("--cluster-kwargs must be a mapping of argument names to values")
    return value


def check_output_file(path: str | None, force: bool | None, option: str = "--output") -> None:
    """Refuse, before anything starts, an output file the tool could not write at the end.

    Existing files are never overwritten without --force (``force`` None: the
    command has no --force, so never); the folder it goes in
    must be creatable and writable, which is tried for real (see ``_try_writing_in``).
    """
    if path is None:
        return
    if os.path.isdir(path):
        raise UsageError(f"{option} {path} is a folder; give a file name")
    if os.path.lexists(path) and not os.path.exists(path):
        raise UsageError(f"{option} {path} is a broken symbolic link (or a loop of them); remove it or give another file")
    if os.path.exists(path):
        if not force:
            hint = "" if force is None else " or pass --force to overwrite it"
            raise UsageError(f"{path} already exists; choose another {option}{hint}")
        if not os.path.isfile(path):
            raise UsageError(f"{option} {path} is not a regular file; give a file name")
    _try_writing_in(os.path.dirname(os.path.abspath(path)), option, path)


def check_output_files(paths: dict[str, str | None], force: bool | None) -> None:
    """``check_output_file`` for each option's path (None: not given), and no file named by two options:
    the second writer would find the first one's file there, or replace it with --force."""
    named: dict[str, str] = {}
    for option, path in paths.items():
        if path is None:
            continue
        check_output_file(path, force, option)
        earlier = named.setdefault(os.path.realpath(path), option)
        if earlier != option:
            raise UsageError(f"{earlier} and {option} both name {path}; give each its own file")


def check_output_dir(path: str | None, option: str = "--output-dir") -> None:
    """Refuse, before anything starts, a folder the tool could not write its files into."""
    if path is None:
        return
    if os.path.lexists(path) and not os.path.exists(path):
        raise UsageError(f"{option} {path} is a broken symbolic link (or a loop of them); remove it or give another folder")
    if os.path.exists(path) and not os.path.isdir(path):
        raise UsageError(f"{option} {path} is a file; give a folder")
    _try_writing_in(os.path.abspath(path), option, path)


def _try_writing_in(folder: str, option: str, given: str) -> None:
    """Create ``folder`` (and its parents) and a file in it, then remove all of that again.

    Permission bits do not say it (root may write anywhere a file system lets it,
    and /proc or a read-only mount refuse root too), so the only sure check is
    doing it.  Nothing is left: a refused run creates no folder.
    """
    import tempfile

    created: list[str] = []
    missing = folder
    while not os.path.exists(missing):
        if os.path.lexists(missing):
            raise UsageError(f"{option} {given}: {missing} is a broken symbolic link (or a loop of them), not a folder")
        created.append(missing)
        missing = os.path.dirname(missing)
    if not os.path.isdir(missing):
        raise UsageError(f"{option} {given}: {missing} is a file, not a folder")
    try:
        for new_folder in reversed(created):
            os.mkdir(new_folder)
        descriptor, probe = tempfile.mkstemp(prefix=".dask-timing-probe-", dir=folder)
        os.close(descriptor)
        os.unlink(probe)
    except OSError as error:
        raise UsageError(f"{option} {given}: cannot write in {folder} ({error.strerror or error})") from None
    finally:
        for new_folder in created:
            try:
                os.rmdir(new_folder)
            except OSError:
                pass
