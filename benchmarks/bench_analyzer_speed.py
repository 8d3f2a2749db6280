#!/usr/bin/env python3
"""How fast does the analyzer summarise a big study, and in how much memory?

Times one real run of ``time_local_cluster.py`` and uses its result file as
the template of N result files (four worker counts, realistic phases, worker
records, arrival milestones, versions and the full environment, written as the
timing tools write them), N flat files of the earlier format, and (with
``--large``) ten times N current files.  For each set it prints the wall time
and peak memory of ``analyze_results.py`` printing its default text summary
(the ranking with its bootstrap intervals included).  Side by side, in the same
run and interleaved with it round by round, ``plain_summary.py`` summarises
files the way the specification's analyzer does (``json.load`` and the
``statistics`` module): each round gives one ratio, and the median of the
rounds' ratios is printed with their range, beside its goal:

* N = 10,000 current result files: at most 0.30 of the plain summary's time,
  and at most 100 MB;
* N = 10,000 flat files: at most 0.80 of the plain summary's time;
* 100,000 current result files: at most 3 s and 400 MB.

A goal in seconds was set on a machine where the plain summary of 10,000
current result files takes YARDSTICK_SECONDS.  On another machine, slower or
busy, each round also times that plain summary (the yardstick), and the
analyzer's seconds are printed as measured and as the yardstick puts them on
that machine (its seconds x YARDSTICK_SECONDS / the yardstick's seconds that round).

Usage: python benchmarks/bench_analyzer_speed.py [--files N] [--large] [--rounds R] [--keep DIR]
                                                 [--only current|flat|large]
"""

from __future__ import annotations

import copy
import os
import random
import statistics
import subprocess
import sys
import tempfile

from installed import REPOSITORY, compile_package, load_average, run_measured

sys.path.insert(0, REPOSITORY)

from dask_timing.cli.common import OneLineParser, positive_int  # noqa: E402
from dask_timing.record.schema import RunResult  # noqa: E402
from dask_timing.record.load import load_result
from dask_timing.record.files import write_json

WORKER_COUNTS = (1, 2, 4, 8)


def real_result(folder: str) -> RunResult:
    """The result of one real LocalCluster run: the template of every generated file (kept in ``folder``,
    and read from there when a run before left it)."""
    path = os.path.join(folder, "template.json")
    if not os.path.exists(path):
        subprocess.run([sys.executable, os.path.join(REPOSITORY, "time_local_cluster.py"), "--workers", "2",
                        "--output", path], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       timeout=300)
    return load_result(path)


def current_document(index: int, template: RunResult, generator: random.Random) -> dict:
    """The template with this run's worker count, phases, workers and arrivals."""
    workers = WORKER_COUNTS[index % len(WORKER_COUNTS)]
    result = copy.deepcopy(template)
    result.config["n_workers"] = workers
    result.run_id = f"{index:032x}"
    result.phases = {
        "cluster_init": generator.uniform(0.8, 0.9),
        "client_connect": generator.uniform(0.01, 0.02),
        "wait_for_workers": 0.4 * workers * generator.uniform(0.9, 1.1),
        "first_task": generator.uniform(0.01, 0.02),
    }
    result.total_time = sum(result.phases.values())
    result.teardown_time = generator.uniform(0.1, 0.2)
    result.before_start = {"interpreter_and_imports": generator.uniform(0.7, 0.9)}
    requested = result.phases["cluster_init"] + result.phases["client_connect"]
    arrivals = sorted(generator.uniform(0.2, 1.0) * result.phases["wait_for_workers"] for _ in range(workers))
    record = template.workers[0]
    result.workers = [dict(record, name=str(k), address=f"tcp://127.0.0.1:{40000 + k}",
                           arrival_time=requested + arrival) for k, arrival in enumerate(arrivals)]
    result.arrivals = {"requested_at": requested, "first_worker": arrivals[0],
                       "half_workers": arrivals[(workers + 1) // 2 - 1], "all_workers": arrivals[-1]}
    return result.to_json()


def legacy_document(index: int, generator: random.Random) -> dict:
    workers = WORKER_COUNTS[index % len(WORKER_COUNTS)]
    parts = [generator.uniform(0.8, 0.9), generator.uniform(0.01, 0.02), 0.003, generator.uniform(0.01, 0.02)]
    return {"timestamp": "2025-01-01T00:00:00", "n_workers": workers, "threads_per_worker": 1,
            "cluster_init_time": parts[0], "client_connect_time": parts[1], "wait_for_workers_time": parts[2],
            "first_task_time": parts[3], "total_time": sum(parts)}


ANALYZER = os.path.join(REPOSITORY, "analyze_results.py")
PLAIN_SUMMARY = os.path.join(REPOSITORY, "benchmarks", "plain_summary.py")
MEASURE_TIMEOUT = 300  # seconds; a summary that takes longer has failed the goal anyway
# The goals, by set: the analyzer's time over the plain summary's, its seconds, its peak MB (None: no goal).
GOALS = {"current": (0.30, None, 100), "flat": (0.80, None, None), "large": (None, 3.0, 400)}
# The plain summary of 10,000 current result files on the machine the goals in seconds were set on.
YARDSTICK_FILES, YARDSTICK_SECONDS = 10_000, 1.06


def measure(script: str, pattern: str) -> tuple[float, float]:
    """Wall seconds and peak resident MB of a script's text summary of the files."""
    return run_measured([sys.executable, script, pattern], MEASURE_TIMEOUT)


def generate(folder: str, name: str, count: int, make) -> str:
    """``count`` files made by ``make(index)`` in ``folder/name`` (kept as they are when already there)."""
    target = os.path.join(folder, name)
    if os.path.isdir(target) and len(os.listdir(target)) == count:
        return target
    os.makedirs(target, exist_ok=True)
    for index in range(count):
        write_json(os.path.join(target, f"r{index:06d}.json"), make(index), overwrite=True)
    return target


def spread(values: list[float]) -> str:
    return f"median {statistics.median(values):.2f}, range {min(values):.2f} to {max(values):.2f}"


def on_goal_machine(seconds: list[float], yardstick: list[float]) -> list[float]:
    """Each round's seconds as the yardstick measured beside them puts them on the goals' machine."""
    return [mine * YARDSTICK_SECONDS / plain for mine, plain in zip(seconds, yardstick)]


def bench(label: str, folder: str, reference: str, goals: tuple[float | None, float | None, float | None],
          rounds: int) -> None:
    """The analyzer's text summary of the files, interleaved round by round with the plain summary of
    ``reference`` (the same files for a ratio, the yardstick for seconds), each figure beside its goal."""
    ratio_goal, seconds_goal, peak_goal = goals
    count = len(os.listdir(folder))
    size = sum(entry.stat().st_size for entry in os.scandir(folder)) / count
    plain_of = "the same files" if reference == folder else f"{len(os.listdir(reference))} current files"
    print(f"{count} {label} ({size / 1024:.1f} KB each), {rounds} rounds interleaved with the plain summary of "
          f"{plain_of}; load average {load_average()}:")
    runs = [(ANALYZER, os.path.join(folder, "*.json")), (PLAIN_SUMMARY, os.path.join(reference, "*.json"))]
    for script, pattern in runs:
        measure(script, pattern)  # the files' pages in memory
    samples: dict[str, list[tuple[float, float]]] = {script: [] for script, _ in runs}
    for round_ in range(rounds):
        for script, pattern in runs if round_ % 2 == 0 else runs[::-1]:  # neither always first
            samples[script].append(measure(script, pattern))
    for script, measured in samples.items():
        print(f"  {os.path.basename(script):<20} seconds: {spread([seconds for seconds, _ in measured])}; "
              f"peak {max(mb for _, mb in measured):.0f} MB")
    seconds = [mine for mine, _ in samples[ANALYZER]]
    plain = [theirs for theirs, _ in samples[PLAIN_SUMMARY]]
    if ratio_goal is not None:
        ratios = [mine / theirs for mine, theirs in zip(seconds, plain)]
        print(f"  analyzer / plain summary, a ratio per round: {spread(ratios)}   goal: {ratio_goal:.2f} or less")
    if seconds_goal is not None:
        print(f"  analyzer seconds, as measured: {spread(seconds)}   goal: {seconds_goal:g} or less")
        if len(os.listdir(reference)) == YARDSTICK_FILES:
            print(f"  the same on the goals' machine, by the yardstick of each round: "
                  f"{spread(on_goal_machine(seconds, plain))}   goal: {seconds_goal:g} or less")
    if peak_goal is not None:
        print(f"  analyzer peak memory: {max(mb for _, mb in samples[ANALYZER]):.0f} MB   goal: {peak_goal} MB or less")
    print(f"  load average at the end: {load_average()}")


def main() -> None:
    parser = OneLineParser(prog=os.path.basename(__file__), description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=positive_int, default=YARDSTICK_FILES)
    parser.add_argument("--large", action="store_true", help="also ten times --files current result files")
    parser.add_argument("--rounds", type=positive_int, default=5)
    parser.add_argument("--keep", metavar="DIR", help="make the files in DIR and keep them; files already there "
                                                      "are used as they are (default: a temporary folder)")
    parser.add_argument("--only", choices=tuple(GOALS), help="time this set alone (large: with --large)")
    args = parser.parse_args()
    compile_package()
    generator = random.Random(7)
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.keep or scratch
        template = None
        sets = {"current": args.files, "flat": args.files, **({"large": 10 * args.files} if args.large else {})}
        timed = [name for name in sets if args.only in (None, name)]
        print(f"load average at the start: {load_average()} ({os.cpu_count()} CPUs)")
        folders = {}
        for name, count in sets.items():  # every set made (the large one's yardstick is the current one)
            if name == "flat":
                folders[name] = generate(folder, name, count, lambda i: legacy_document(i, generator))
            elif name in timed or "large" in timed:
                folders[name] = target = os.path.join(folder, name)
                if not (os.path.isdir(target) and len(os.listdir(target)) == count):
                    template = template or real_result(folder)
                    generate(folder, name, count, lambda i: current_document(i, template, generator))
        for name in timed:
            label = {"flat": "flat files of the specification's format"}.get(name, "current result files")
            reference = folders["current"] if name == "large" else folders[name]  # the yardstick's files
            bench(label, folders[name], reference, GOALS[name], args.rounds)
        start = statistics.median(run_measured([sys.executable, "-c", "pass"], MEASURE_TIMEOUT)[0]
                                  for _ in range(args.rounds))
        print(f"starting the Python interpreter alone: {start:.2f} s")
        print(f"load average at the end: {load_average()}")


if __name__ == "__main__":
    main()
