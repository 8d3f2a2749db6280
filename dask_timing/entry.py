"""Where the repository's scripts enter: the interpreter is checked before anything else loads.

Written so that any Python, old ones included, can read it: on an interpreter
too old for the tool the scripts say so in one line instead of failing on the
syntax of the modules they would import.
"""

import sys

MINIMUM_PYTHON = (3, 10)  # dask and distributed's own minimum (pyproject.toml's requires-python says it too)
PROGRAM = "dask-timing"  # the command the package installs
# Its commands: ``dask-timing COMMAND``, ``python -m dask_timing COMMAND``, what a study runs.
COMMAND_LOCAL, COMMAND_PROCESSES, COMMAND_STUDY = "local", "processes", "study"
COMMAND_ANALYZE, COMMAND_HISTORY, COMMAND_SCHEDULERS = "analyze", "history", "schedulers"
# Each command's script in a clone: the name its messages start with.
SCRIPTS = {
    COMMAND_LOCAL: "time_local_cluster.py",
    COMMAND_PROCESSES: "time_scheduler_workers.py",
    COMMAND_STUDY: "run_timing_study.sh",
    COMMAND_ANALYZE: "analyze_results.py",
    COMMAND_SCHEDULERS: "compare_schedulers.py",
}


def run_script(name):
    """Run command ``name`` under the script's own name, with this process's arguments, as its main: the
    process ends with the command (``cli.ending``)."""
    if sys.version_info < MINIMUM_PYTHON:
        sys.stderr.write(
            "%s: error: dask-timing needs Python %s or newer; %s is Python %s "
            "(run the script with a newer python3, or set PYTHON for run_timing_study.sh)\n"
            % (SCRIPTS[name], ".".join(map(str, MINIMUM_PYTHON)), sys.executable, sys.version.split()[0])
        )
        return 2  # errors.EXIT_USAGE, written out: this module must parse under any Python
    from dask_timing.cli import COMMANDS
    from dask_timing.cli.ending import run_to_the_end

    run_to_the_end(lambda: COMMANDS[name].run(sys.argv[1:], SCRIPTS[name]))
