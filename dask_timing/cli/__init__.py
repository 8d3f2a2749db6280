"""The ``dask-timing`` command and the scripts: one subcommand per tool, one place for their names.

Each tool's module is imported only when its command runs, so ``--help`` is
instant and a worker process that imports the entry point (``spawn`` runs
the parent's main script again) loads nothing else of the tool.
"""

from __future__ import annotations

import gc
import os
import sys
from dataclasses import dataclass
from importlib import import_module
from typing import Any, Callable, NoReturn, TextIO

from dask_timing.entry import (
    COMMAND_ANALYZE, COMMAND_HISTORY, COMMAND_LOCAL, COMMAND_PROCESSES, COMMAND_SCHEDULERS, COMMAND_STUDY, PROGRAM,
)
from dask_timing.errors import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from dask_timing.record.text import PrintableStream


@dataclass(frozen=True)
class Command:
    """A tool: its subcommand and where its main lives (its script's name: ``entry.SCRIPTS``)."""

    name: str
    target: str  # "module:function", called as function(argv, prog)
    summary: str
    # Starts clusters or processes: runs watched by a reaper (``deploy.reaper``), so that
    # nothing it started outlives it, even when it is killed with SIGKILL.
    starts_processes: bool = True
    # Imports Dask, which reads its configuration files unbounded as it is imported: they are checked first
    # (``record.settings``).  A command that never imports Dask is not stopped by a file it never reads.
    imports_dask: bool = True

    def run(self, argv: list[str] | None, prog: str) -> int:
        """Run the command: once per process, which ends with it."""
        printout = _standard_streams()
        try:
            if self.starts_processes:  # the reaper first: it must be there before anything is started
                from dask_timing.deploy.reaper import run_watched

                code = run_watched(lambda: self._run_main(argv, prog))
            else:
                from dask_timing.signals import StopSignals, raise_interrupted

                # Nothing to tear down: the first signal stops the work where it is, its files half-written
                # are removed on the way out (``record.files``), and the command exits with the signal's code.
                StopSignals(raise_interrupted, announce="stopping").install()
                code = self._run_main(argv, prog)
            if printout.failure is not None:
                print(f"{prog}: error: the printout could not be written to standard output "
                      f"({printout.failure.strerror or printout.failure}); files are not affected",
                      file=sys.stderr)
                return code or EXIT_FAILED
            return code
        finally:
            # Everything is written and closed.  The interpreter's exit would now collect every object of
            # Dask and the dashboard's bokeh once more, about 0.3 s on 2 cores; frozen, they are left to
            # the process's end (exit handlers still run, and every file was closed by its writer).
            gc.freeze()

    def _run_main(self, argv: list[str] | None, prog: str) -> int:
        module_name, _, function = self.target.partition(":")
        try:
            if self.imports_dask:
                from dask_timing.record.settings import SettingsError, check_dask_config_files

                try:
                    check_dask_config_files()  # before anything imports Dask, which reads them unbounded
                except SettingsError as error:
                    print(f"{prog}: error: {error}", file=sys.stderr)
                    return EXIT_USAGE
            module = import_module(module_name)
        except ImportError as error:
            from dask_timing.errors import is_missing_requirement

            if not is_missing_requirement(error):
                raise  # a fault of this package
            return _missing_requirement(prog, error)
        return getattr(module, function)(argv, prog)


COMMANDS = {
    command.name: command
    for command in (
        Command(COMMAND_LOCAL, "dask_timing.cli.timing:main_local",
                "time one startup of a LocalCluster, phase by phase"),
        Command(COMMAND_PROCESSES, "dask_timing.cli.timing:main_distributed",
                "time one startup of a scheduler and workers as separate processes (or any cluster)"),
        Command(COMMAND_STUDY, "dask_timing.cli.study:main",
                "repeat runs in fresh processes, interleaved, over sweeps; save statistics"),
        Command(COMMAND_ANALYZE, "dask_timing.cli.analyze:main",
                "summarise, compare, gate, plot and export result files", starts_processes=False,
                imports_dask=False),
        Command(COMMAND_HISTORY, "dask_timing.cli.history:main",
                "import result files into the results database; each configuration's history and its steps",
                starts_processes=False, imports_dask=False),
        Command(COMMAND_SCHEDULERS, "dask_timing.cli.schedulers:main",
                "one graph under the synchronous, threads, processes and distributed schedulers"),
        Command("bisect", "dask_timing.cli.bisect:main",
                "find the first release, commit or interpreter whose startup is more than PCT slower"),
        Command("envs", "dask_timing.cli.envs:main",
                "list and prune the environments built in the user's cache", starts_processes=False,
                imports_dask=False),
    )
}


class SparedOutput:
    """Standard output whose failure (a full disk, ``>/dev/full``) loses the printout, never the work: the
    command goes on, writes its files, and says so at its end.  A reader that has gone (``| head``) still
    ends the command, quietly, as ``cli.common.guarded`` does."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self.failure: OSError | None = None

    def write(self, text: str) -> int:
        return self._spared(self._stream.write, text) or len(text)

    def flush(self) -> None:
        self._spared(self._stream.flush)

    def _spared(self, operation: Callable[..., Any], *arguments: Any) -> Any:
        if self.failure is None:
            try:
                return operation(*arguments)
            except BrokenPipeError:
                raise
            except OSError as error:
                self.failure = error
                # What is still buffered goes nowhere, so that later flushes (the interpreter's last) succeed.
                os.dup2(os.open(os.devnull, os.O_WRONLY), self._stream.fileno())
        return None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _standard_streams() -> SparedOutput:
    """Standard streams any command can rely on, whatever it was started with.

    A closed one (``>&-``, ``2>&-``, ``<&-``) is opened on /dev/null: otherwise the next file opened takes
    its number, and what Dask and the workers write to "standard error" would land in it.  A terminal
    whose encoding lacks a character the tools print (``PYTHONIOENCODING=ascii``) shows a stand-in for it.
    """
    for descriptor, name, mode in ((0, "stdin", "r"), (1, "stdout", "w"), (2, "stderr", "w")):
        try:
            os.fstat(descriptor)
        except OSError:
            null = os.open(os.devnull, os.O_RDWR)
            if null != descriptor:
                os.dup2(null, descriptor)
                os.close(null)
            setattr(sys, name, open(descriptor, mode, closefd=False, errors="backslashreplace"))
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    if not isinstance(sys.stdout, PrintableStream):  # text from files reaches the terminal as text
        sys.stdout, sys.stderr = PrintableStream(SparedOutput(sys.stdout)), PrintableStream(sys.stderr)
    return sys.stdout.stream


def _missing_requirement(prog: str, error: ImportError) -> int:
    from dask_timing.errors import missing_requirement

    print(f"{prog}: error: {missing_requirement(error)}", file=sys.stderr)
    return EXIT_USAGE


def usage(prog: str = PROGRAM) -> str:
    width = max(len(name) for name in COMMANDS)
    lines = [f"usage: {prog} COMMAND [OPTIONS]", "", "How long a Dask cluster takes to become useful, and where "
             "that time goes.", "", "commands:"]
    lines += [f"  {name:<{width}}  {command.summary}" for name, command in COMMANDS.items()]
    lines += ["", f"Run '{prog} COMMAND --help' for a command's options; '{prog} --version' for the version."]
    return "\n".join(lines)


def console() -> NoReturn:
    """The ``dask-timing`` command and ``python -m dask_timing``: ``main`` as the process's main, which ends
    with it (``cli.ending``)."""
    from dask_timing.cli.ending import run_to_the_end

    run_to_the_end(main)


def main(argv: list[str] | None = None, prog: str = PROGRAM) -> int:
    """``dask-timing COMMAND ...`` (also ``dask timing COMMAND ...``)."""
    arguments = sys.argv[1:] if argv is None else list(argv)
    if not arguments:
        print(f"{prog}: error: give a command: {', '.join(COMMANDS)} (see {prog} --help)", file=sys.stderr)
        return EXIT_USAGE
    if arguments[0] in ("-h", "--help"):
        print(usage(prog))
        return EXIT_OK
    if arguments[0] == "--version":
        from dask_timing import __version__

        print(f"{prog} {__version__}")
        return EXIT_OK
    command = COMMANDS.get(arguments[0])
    if command is None:
        print(f"{prog}: error: unknown command {arguments[0]!r}; choose one of {', '.join(COMMANDS)} "
              f"(see {prog} --help)", file=sys.stderr)
        return EXIT_USAGE
    return command.run(arguments[1:], f"{prog} {command.name}")
