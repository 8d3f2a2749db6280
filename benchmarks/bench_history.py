#!/usr/bin/env python3
"""How fast is the results database, and how well does step detection find steps?

1. Importing 10,000 result files (made from one real LocalCluster run, as
   ``bench_analyzer_speed.py`` makes them) into a new SQLite file, in a fresh
   process each time: wall time and peak memory.  Goal: 5 s or less.
2. 1,000,000 runs written straight into one SQLite file (100 configurations x
   2 machines x 20 releases x 250 runs, in time order, so one history's runs are
   spread over the whole file; a 15 % step planted in one history), then the
   summary of that configuration's history on one machine (query, statistics of
   every metric at every release, steps), in a fresh process each time; and the
   command a user runs for it, ``dask-timing history show --config workers=2
   --kind local --host ci-runner-a`` (which also finds the configuration among
   the 100 and prints each release's interval).  Goal: 0.5 s or less, 300 MB or
   less, on the machine the goal was set on: each round also times the plain
   summary of 10,000 current result files (``bench_analyzer_speed.py``'s
   yardstick), which puts the seconds measured on another machine, slower or
   busy, on that one.
3. Step detection on 200 simulated series of 60 points with 5 % noise: how often
   a planted 10 % step (somewhere from point 10 to 50) is found within 2 points of
   where it is, and how often a flat series shows a step.  Goals: 95 % or more,
   5 % or less.  Three kinds of series: points of one value with Gaussian noise
   (sd 5 %), points of one value with uniform noise (+-5 %), and points of 5 runs
   each with Gaussian noise (sd 5 %), as a study's runs make them.  For the first,
   the best possible is printed too: the least-squares single step of a method
   told that there is exactly one.

Each part runs alone with ``--only import``, ``--only summary`` or ``--only steps``.  With ``--keep DIR``
the result files, the template run and the 1,000,000-run file are made once in DIR and used again by the
next run (the file alone takes many minutes to write).

Usage: python benchmarks/bench_history.py [--runs N] [--files N] [--series N] [--repeats R] [--keep DIR]
                                          [--only PART]
"""

from __future__ import annotations

import json
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from installed import REPOSITORY, compile_package, load_average, run_measured

sys.path.insert(0, REPOSITORY)

# The rest of the package is imported where a part uses it: the summary's fresh process (--child-summary)
# imports what a summary needs, and nothing of this benchmark's other parts.
if TYPE_CHECKING:
    from dask_timing.history.steps import Point
    from dask_timing.record.schema import RunResult

RELEASES = [f"2025.{month}.0" for month in range(1, 13)] + [f"2026.{month}.0" for month in range(1, 9)]
HOSTS = ("ci-runner-a", "ci-runner-b")
STEP_RELEASE = 12  # the planted step: wait_for_workers 15 % slower from 2026.1.0 on...
STEP_SIZE = 0.15
STEP_CONFIG, STEP_HOST = 1, HOSTS[0]  # ...in the history of this configuration on this machine
MEASURE_TIMEOUT = 300
JSON_COLUMNS = ("options", "environment", "arrivals", "probes", "workers", "details")


def configurations() -> list[tuple[str, dict]]:
    """100 configurations: two kinds, 1 to 50 workers."""
    return [(kind, {"n_workers": workers, "threads_per_worker": 1, "processes": True})
            for kind in ("local", "distributed") for workers in range(1, 51)]


def generate_database(path: str, template: RunResult, total: int) -> None:
    """``total`` runs written straight into a new SQLite file at ``path`` (written under another name first,
    so that a file cut short is never taken for a whole one); the planted step in ``step_history()``."""
    import msgspec

    from dask_timing.history import reading, store
    from dask_timing.history.connection import open_database
    from dask_timing.history.tables import runs

    partial = path + ".partial"
    remove_database(partial)
    open_database(partial).close()  # the schema, by the migrations
    columns = [column.name for column in runs.columns]
    position = {name: index for index, name in enumerate(columns)}
    configs = configurations()
    per_point = max(1, total // (len(configs) * len(HOSTS) * len(RELEASES)))
    base_rows = {}
    for host in HOSTS:
        for release in RELEASES:
            environment = dict(template.environment, host=host,
                               packages=dict(template.environment["packages"], dask=release, distributed=release))
            for index, (kind, config) in enumerate(configs):
                result = msgspec.structs.replace(template, kind=kind, config=config, environment=environment)
                row = store.run_row(result)
                for name in JSON_COLUMNS:
                    row[name] = None if row[name] is None else msgspec.json.encode(row[name]).decode()
                base_rows[host, release, index] = [row.get(name) for name in columns]
    generator = random.Random(11)
    insert_runs = f"INSERT INTO runs ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    insert_metrics = "INSERT INTO metrics (run, section, metric, seconds) VALUES (?, ?, ?, ?)"
    connection = sqlite3.connect(partial)
    connection.execute("PRAGMA synchronous = OFF")
    run_rows, metric_rows = [], []
    run_id = 0
    start = datetime(2025, 1, 1)
    for release_index, release in enumerate(RELEASES):
        for repeat in range(per_point):  # in time order: every configuration's runs interleaved
            for host in HOSTS:
                for index, (kind, config) in enumerate(configs):
                    run_id += 1
                    slower = 1 + STEP_SIZE if (index, host) == (STEP_CONFIG, STEP_HOST) and \
                        release_index >= STEP_RELEASE else 1.0
                    wait = 0.3 * config["n_workers"] ** 0.3 * slower * generator.gauss(1, 0.05)
                    phases = {"cluster_init": 0.31 * generator.gauss(1, 0.03), "client_connect": 0.006,
                              "wait_for_workers": wait, "first_task": 0.005 * generator.gauss(1, 0.05)}
                    total_time = sum(phases.values())
                    arrivals = {"first_worker": wait * 0.8, "half_workers": wait * 0.9, "all_workers": wait}
                    moment = start + timedelta(days=7 * release_index, seconds=run_id)
                    row = list(base_rows[host, release, index])
                    row[position["id"]] = run_id
                    row[position["run_id"]] = f"{run_id:032x}"
                    row[position["timestamp"]] = moment.isoformat() + "Z"
                    row[position["measured_at"]] = moment.strftime("%Y-%m-%d %H:%M:%S.%f")
                    row[position["total_time"]] = total_time
                    row[position["arrivals"]] = json.dumps({"requested_at": 0.32, **arrivals})
                    run_rows.append(row)
                    metric_rows.extend((run_id, reading.PHASE, f"{name}_time", value) for name, value in phases.items())
                    metric_rows.extend((run_id, reading.ARRIVAL, f"{name}_time", value) for name, value in arrivals.items())
                    metric_rows.extend(((run_id, reading.TOTAL, "total_time", total_time),
                                        (run_id, reading.BEFORE_START, "interpreter_and_imports_time", 0.32),
                                        (run_id, reading.TEARDOWN, "teardown_time", 0.07)))
            if len(run_rows) >= 50_000:
                _flush(connection, insert_runs, run_rows, insert_metrics, metric_rows)
    _flush(connection, insert_runs, run_rows, insert_metrics, metric_rows)
    connection.close()
    os.replace(partial, path)


def step_history() -> tuple[str, str]:
    """The configuration hash and the machine of the history with the planted step."""
    from dask_timing.history.store import configuration_hash

    kind, config = configurations()[STEP_CONFIG]
    return configuration_hash(kind, config), STEP_HOST


def stored_runs(path: str) -> int:
    """How many runs a file made before holds (0 when there is none)."""
    if not os.path.exists(path):
        return 0
    with sqlite3.connect(path) as connection:
        return connection.execute("SELECT count(*) FROM runs").fetchone()[0]


def _flush(connection: sqlite3.Connection, insert_runs: str, run_rows: list, insert_metrics: str,
           metric_rows: list) -> None:
    with connection:
        connection.executemany(insert_runs, run_rows)
        connection.executemany(insert_metrics, metric_rows)
    run_rows.clear()
    metric_rows.clear()


def child_import(db: str, folder: str, report: str) -> None:
    from dask_timing.history.connection import open_database
    from dask_timing.history.store import import_files

    started = time.perf_counter()
    database = open_database(db)
    recorded = import_files(database, [folder])
    seconds = time.perf_counter() - started
    with open(report, "w") as stream:
        json.dump({"seconds": seconds, "added": recorded.added, "already": recorded.already}, stream)


def child_summary(db: str, config_hash: str, host: str, report: str) -> None:
    """What a summary of one history costs in a fresh process: its imports, opening the file, the query,
    the statistics and the steps."""
    started = time.perf_counter()
    from dask_timing.history.connection import open_database
    from dask_timing.history.series import load_history, summarise

    database = open_database(db, read_only=True)
    history = load_history(database, config_hash, host, "version")
    summaries = summarise(history)
    seconds = time.perf_counter() - started
    runs_read = sum(len(point.values) for point in history.points["total_time"])
    with open(report, "w") as stream:
        json.dump({"seconds": seconds, "runs": runs_read, "points": len(history.points["total_time"]),
                   "lines": [line for summary in summaries for line in summary.describe()]}, stream)


def measured_child(arguments: list[str], report: str) -> tuple[float, float, dict]:
    """Wall seconds and peak MB of this script in a child mode, and what the child reported."""
    wall, peak = run_measured([sys.executable, os.path.abspath(__file__), *arguments, report], MEASURE_TIMEOUT)
    with open(report) as stream:
        return wall, peak, json.load(stream)


def result_files(folder: str, template: RunResult, files: int) -> str:
    """``files`` result files made from the template in ``folder/results`` (used as they are when there)."""
    from bench_analyzer_speed import current_document
    from dask_timing.record.files import write_json

    results = os.path.join(folder, "results")
    if os.path.isdir(results) and len(os.listdir(results)) == files:
        return results
    os.makedirs(results, exist_ok=True)
    generator = random.Random(7)
    for index in range(files):
        document = current_document(index, template, generator)
        document["environment"]["packages"]["distributed"] = RELEASES[index % len(RELEASES)]
        write_json(os.path.join(results, f"r{index:05d}.json"), document, overwrite=True)
    return results


def remove_database(path: str) -> None:
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)


def bench_import(folder: str, template: RunResult, files: int, repeats: int) -> None:
    results = result_files(folder, template, files)
    print(f"importing {files} result files into a new SQLite file, in a fresh process:")
    samples = []
    db = os.path.join(folder, "import.db")
    report_path = os.path.join(folder, "report.json")
    for repeat in range(repeats):
        remove_database(db)
        wall, peak, report = measured_child(["--child-import", db, results], report_path)
        assert report["added"] == files, report
        samples.append((wall, peak, report["seconds"]))
        print(f"  run {repeat + 1}: {wall:.2f} s wall ({report['seconds']:.2f} s import), peak {peak:.0f} MB")
    wall, peak, report = measured_child(["--child-import", db, results], report_path)
    assert report["already"] == files, report
    remove_database(db)
    print(f"  again into the same file (all {files} already stored, none added): {wall:.2f} s wall")
    print(f"  median {statistics.median(wall for wall, _, _ in samples):.2f} s wall; goal 5 s or less")


def bench_summary(folder: str, template: RunResult, total: int, repeats: int) -> None:
    """The summary of one history in a fresh process, interleaved round by round with the plain summary of
    10,000 current result files: the yardstick that puts its seconds on the machine of the goal."""
    from bench_analyzer_speed import PLAIN_SUMMARY, YARDSTICK_FILES, measure, on_goal_machine, spread

    db = os.path.join(folder, f"history-{total}.db")
    stored = stored_runs(db)
    if not stored:
        started = time.perf_counter()
        generate_database(db, template, total)
        stored = stored_runs(db)
        print(f"\n{stored:,} runs written straight into SQLite in {time.perf_counter() - started:.0f} s "
              f"({os.path.getsize(db) / 2**30:.2f} GB)")
    else:
        print(f"\n{stored:,} runs stored in SQLite before ({os.path.getsize(db) / 2**30:.2f} GB), used again")
    config_hash, host = step_history()
    yardstick = os.path.join(result_files(folder, template, YARDSTICK_FILES), "*.json")
    print(f"summary of one configuration's history on one machine (opening the file, query, statistics, steps), "
          f"each in a fresh process, {repeats} rounds interleaved with the plain summary of {YARDSTICK_FILES} "
          "current files (the yardstick):")
    report_path = os.path.join(folder, "report.json")
    summary = ["--child-summary", db, config_hash, host]
    kind, config = configurations()[STEP_CONFIG]
    command = [sys.executable, "-m", "dask_timing", "history", "show", "--db", db, "--host", host, "--kind", kind,
               "--config", f"workers={config['n_workers']}"]
    measured_child(summary, report_path)  # the file's pages in memory
    shown = subprocess.run(command, capture_output=True, text=True, cwd=REPOSITORY, timeout=MEASURE_TIMEOUT)
    headers = [line for line in shown.stdout.splitlines() if " run(s), " in line]
    if shown.returncode != 0 or len(headers) != 1:
        raise SystemExit(f"the command did not show one history: {shown.stderr or shown.stdout}")
    measure(PLAIN_SUMMARY, yardstick)
    samples: dict[str, list[tuple[float, float]]] = {"summary": [], "command": []}
    plain = []
    for repeat in range(repeats):
        parts = ["summary", "command", "yardstick"]
        for part in parts if repeat % 2 == 0 else parts[::-1]:
            if part == "yardstick":
                plain.append(measure(PLAIN_SUMMARY, yardstick)[0])
            elif part == "command":
                samples[part].append(run_measured(command, MEASURE_TIMEOUT, cwd=REPOSITORY))
            else:
                wall, peak, report = measured_child(summary, report_path)
                samples[part].append((wall, peak))
        print(f"  round {repeat + 1}: {samples['summary'][-1][0]:.2f} s wall ({report['seconds']:.2f} s imports, "
              f"query and statistics), peak {samples['summary'][-1][1]:.0f} MB; {report['runs']} runs over "
              f"{report['points']} releases; the command {samples['command'][-1][0]:.2f} s wall, peak "
              f"{samples['command'][-1][1]:.0f} MB; yardstick {plain[-1]:.2f} s; load average {load_average()}")
    print(f"    {headers[0]}")
    for line in report["lines"]:
        print(f"    {line}")
    for part, named in (("summary", "the summary"), ("command", "the command")):
        walls = [wall for wall, _ in samples[part]]
        print(f"  {named}, seconds as measured: {spread(walls)}; peak {max(peak for _, peak in samples[part]):.0f} "
              f"MB   goal: 0.5 s or less and 300 MB or less")
        print(f"  {named}, the same on the goal's machine, by the yardstick of each round: "
              f"{spread(on_goal_machine(walls, plain))}   goal: 0.5 s or less")


def simulated(generator: random.Random, noise, runs: int, step_at: int | None) -> list[Point]:
    from dask_timing.history.steps import Point

    return [Point(str(index), tuple((1 + (0.10 if step_at is not None and index >= step_at else 0))
                                    * (1 + noise(generator)) for _ in range(runs)))
            for index in range(60)]


def best_single_step(points: list[Point]) -> int:
    """The least-squares position of exactly one step: what no method can beat on average."""
    values = [point.median for point in points]
    n, total = len(values), sum(values)
    best, where, left = -1.0, 0, 0.0
    for k in range(1, n):
        left += values[k - 1]
        score = (left - k * total / n) ** 2 / (k * (n - k))
        if score > best:
            best, where = score, k
    return where


def bench_steps(count: int) -> None:
    from dask_timing.history.steps import detect_steps

    print(f"\nstep detection on {count} simulated series of 60 points, a 10 % step planted at point 10 to 50:")
    kinds = (("one value a point, Gaussian noise sd 5 %", lambda g: g.gauss(0, 0.05), 1),
             ("one value a point, uniform noise +-5 %", lambda g: g.uniform(-0.05, 0.05), 1),
             ("5 runs a point, Gaussian noise sd 5 %", lambda g: g.gauss(0, 0.05), 5))
    for name, noise, runs_per_point in kinds:
        generator = random.Random(2026)
        started = time.perf_counter()
        found = best = false = 0
        for _ in range(count):
            at = generator.randint(10, 50)
            planted = simulated(generator, noise, runs_per_point, at)
            found += any(abs(step.position - at) <= 2 and step.size > 0 for step in detect_steps(planted))
            best += abs(best_single_step(planted) - at) <= 2
            false += bool(detect_steps(simulated(generator, noise, runs_per_point, None)))
        seconds = (time.perf_counter() - started) / (2 * count)
        print(f"  {name}: step found {found / count:.1%} (best possible {best / count:.1%}), "
              f"false step in flat series {false / count:.1%}; {seconds * 1000:.1f} ms a series")
    print("  goal: found in 95 % or more, false in 5 % or less")


PARTS = ("import", "summary", "steps")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child-import":
        return child_import(*sys.argv[2:])
    if len(sys.argv) > 1 and sys.argv[1] == "--child-summary":
        return child_summary(*sys.argv[2:])
    from dask_timing.cli.common import OneLineParser, positive_int

    parser = OneLineParser(prog=os.path.basename(__file__), description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=positive_int, default=1_000_000)
    parser.add_argument("--files", type=positive_int, default=10_000)
    parser.add_argument("--series", type=positive_int, default=200)
    parser.add_argument("--repeats", type=positive_int, default=3)
    parser.add_argument("--keep", metavar="DIR", help="make the files in DIR and keep them for the next run; what a "
                                                      "run before left there is used again (default: a temporary "
                                                      "folder)")
    parser.add_argument("--only", choices=PARTS, help="run this part alone (default: all three)")
    args = parser.parse_args()
    parts = [args.only] if args.only else list(PARTS)
    compile_package()
    print(f"load average at the start: {load_average()} ({os.cpu_count()} CPUs)")
    if "import" in parts or "summary" in parts:
        from bench_analyzer_speed import real_result

        with tempfile.TemporaryDirectory() as scratch:
            folder = args.keep or scratch
            os.makedirs(folder, exist_ok=True)
            template = real_result(folder)
            if "import" in parts:
                bench_import(folder, template, args.files, args.repeats)
            if "summary" in parts:
                bench_summary(folder, template, args.runs, args.repeats)
    if "steps" in parts:
        bench_steps(args.series)
    print(f"load average at the end: {load_average()}")


if __name__ == "__main__":
    main()
