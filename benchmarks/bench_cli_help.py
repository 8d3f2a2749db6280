#!/usr/bin/env python3
"""How fast do the installed commands answer --help?

Installs this checkout with pip into a temporary folder (as ``pip install .``
would, byte-compiled), then times, interleaved round by round:

- ``python -c pass``: the interpreter's own start, the floor;
- ``dask-timing --help``: the goal is under 0.15 s;
- ``dask --help`` with and without dask-timing installed, and ``dask timing --help``:
  the goal is that dask-timing adds nothing measurable to Dask's own command.

Prints the median, min and max of each over the rounds, and the differences
of medians.  Usage: python benchmarks/bench_cli_help.py [--rounds N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

from installed import REPOSITORY, run_measured


def install(folder: str) -> str:
    """pip-install a copy of the checkout into ``folder/site``; return that folder."""
    source = os.path.join(folder, "source")
    shutil.copytree(REPOSITORY, source, ignore=shutil.ignore_patterns(".git", "build", "*.egg-info", "__pycache__"))
    site = os.path.join(folder, "site")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", site, source],
                   check=True, timeout=600)
    return site


def seconds(command: list[str], environment: dict[str, str]) -> float:
    return run_measured(command, 60, env=environment)[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    rounds = parser.parse_args().rounds
    with tempfile.TemporaryDirectory() as folder:
        site = install(folder)
        with_tool = {**os.environ, "PYTHONPATH": site}
        without_tool = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
        commands = {
            "python -c pass": ([sys.executable, "-c", "pass"], without_tool),
            "dask-timing --help": ([os.path.join(site, "bin", "dask-timing"), "--help"], with_tool),
            "dask --help (without dask-timing)": ([sys.executable, "-m", "dask", "--help"], without_tool),
            "dask --help (with dask-timing)": ([sys.executable, "-m", "dask", "--help"], with_tool),
            "dask timing --help": ([sys.executable, "-m", "dask", "timing", "--help"], with_tool),
        }
        for command, environment in commands.values():  # warm the file cache once
            seconds(command, environment)
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(rounds):
            for name, (command, environment) in commands.items():
                times[name].append(seconds(command, environment))
    print(f"{rounds} interleaved rounds; seconds")
    width = max(map(len, times))
    for name, values in times.items():
        print(f"  {name:<{width}}  median {statistics.median(values):.3f}  min {min(values):.3f}  "
              f"max {max(values):.3f}")
    median = {name: statistics.median(values) for name, values in times.items()}
    print(f"dask-timing --help: {median['dask-timing --help']:.3f} s (goal 0.15 s); "
          f"{median['dask-timing --help'] - median['python -c pass']:+.3f} s over the bare interpreter")
    added = median["dask --help (with dask-timing)"] - median["dask --help (without dask-timing)"]
    spread = statistics.pstdev(times["dask --help (without dask-timing)"])
    print(f"dask --help: {added:+.3f} s with dask-timing installed (run-to-run stddev {spread:.3f} s); "
          f"dask timing --help {median['dask timing --help']:.3f} s against dask --help "
          f"{median['dask --help (with dask-timing)']:.3f} s")


if __name__ == "__main__":
    main()
