"""The results database (SQLite and a real PostgreSQL) and step detection on histories.

Every database test runs on a SQLite file and on a PostgreSQL server: the
PostgreSQL half needs DASK_TIMING_TEST_POSTGRES set to a URL of a role that may
create databases (scripts/start_postgres.sh starts a server and prints one);
each test gets a database of its own.
"""

from __future__ import annotations

import json
import os
import random
import re
import socket
import subprocess
import sys
import uuid

import pytest
import sqlalchemy as sa
from conftest import LOCAL_TOOL, REPOSITORY, run_tool
from helpers import VERSIONS, db_url, synthetic, write_history_results

from dask_timing.analysis import gate
from dask_timing.analysis.groups import group_results
from dask_timing.analysis.load import load
from dask_timing.errors import UsageError
from dask_timing.history import connection, reading, series, steps, store
from dask_timing.history.connection import (
    MIGRATIONS, CorruptDatabase, NewerSchema, UnknownDatabase, UnreachableDatabase, _shipped_head, database_url,
    open_database,
)
from dask_timing.history.tables import metadata
from dask_timing.record.load import load_result
from dask_timing.record.schema import STATUS_FAILED, RunResult, TimedRun

@pytest.fixture
def database(db_url):
    opened = open_database(db_url)
    yield opened
    opened.close()


@pytest.fixture(scope="module")
def real_result_file(tmp_path_factory):
    """The result file of one real LocalCluster run."""
    path = tmp_path_factory.mktemp("real") / "real.json"
    completed = run_tool([LOCAL_TOOL, "-w", "1", "-o", str(path)], timeout=170)
    assert completed.returncode == 0, completed.stderr
    return str(path)


def count_runs(database) -> int:
    with database.reading() as reader:
        return reader.rows("SELECT count(*) FROM runs")[0][0]


@pytest.mark.timeout(240)
def test_import_is_idempotent_and_skips_what_is_not_a_result(database, real_result_file, tmp_path):
    rng = random.Random(1)
    folder = tmp_path / "results"
    write_history_results(folder, [synthetic(rng=rng) for _ in range(5)])
    legacy = {"timestamp": "2025-01-01T00:00:00", "n_workers": 2, "threads_per_worker": 1, "cluster_init_time": 0.9,
              "client_connect_time": 0.02, "wait_for_workers_time": 0.5, "first_task_time": 0.01, "total_time": 1.43}
    (folder / "legacy.json").write_text(json.dumps(legacy))
    (folder / "summary_x.json").write_text(json.dumps({"document": "dask-timing-summary", "configurations": []}))
    (folder / "broken.json").write_text("{not json")
    patterns = [str(folder), real_result_file]

    first = store.import_files(database, patterns)
    assert (first.added, first.already) == (7, 0)  # five synthetic, the flat file, the real run
    assert [os.path.basename(path) for path, _ in first.skipped] == ["broken.json"]
    assert "not valid JSON" in first.skipped[0][1]
    assert [os.path.basename(path) for path in first.summaries] == ["summary_x.json"]

    again = store.import_files(database, patterns)
    assert (again.added, again.already) == (0, 7)
    assert count_runs(database) == 7
    with database.reading() as reader:
        legacy_ids = [row[0] for row in reader.rows("SELECT run_id FROM runs WHERE schema_version = 0")]
        studies = {row[0] for row in reader.rows("SELECT study_id FROM runs WHERE kind = 'local'")}
    assert len(legacy_ids) == 1 and legacy_ids[0].startswith("sha256-")  # keyed by its content
    assert studies == {"20260101-000000-abcdef", None}  # from the study's file names; the real run has none


@pytest.mark.timeout(240)
def test_round_trip_gives_back_the_files_runs(database, real_result_file, tmp_path):
    rng = random.Random(2)
    folder = tmp_path / "results"
    files = write_history_results(folder, [synthetic(rng=rng) for _ in range(3)]
                                  + [synthetic(status=STATUS_FAILED, rng=rng)])
    files.append(real_result_file)
    store.import_files(database, files)

    whole = dict(reading.read_runs(database, model=RunResult))
    for path in files:
        original = load_result(path)
        assert whole[f"db:{original.run_id}"] == original  # every field, as the file has it
    timed = reading.read_runs(database)
    assert all(type(run) is TimedRun for _, run in timed)
    from_files = load(files, TimedRun).results
    assert {path: run.metrics() for path, run in timed} == {f"db:{run.run_id}": run.metrics() for _, run in from_files}
    # the analyzer's grouping and statistics are the same on the database as on the files
    on_database, on_files = group_results(timed), group_results(from_files)
    assert [group.label for group in on_database] == [group.label for group in on_files]
    for a, b in zip(on_database, on_files):
        assert a.summaries() == b.summaries() and len(a.failed_runs) == len(b.failed_runs)
    stored = load_result(real_result_file)
    assert stored.workers and whole[f"db:{stored.run_id}"].workers == stored.workers  # the waterfall


def test_filters_pick_runs(database):
    rng = random.Random(3)
    runs = {
        "old": synthetic("2025.12.0", timestamp="2025-12-01T10:00:00Z", rng=rng),
        "labelled": synthetic(options={"label": "nightly", "revision": "abc123"}, timestamp="2026-01-05T10:00:00Z",
                              rng=rng),
        "other host": synthetic(host="machine-b", timestamp="2026-01-06T10:00:00Z", rng=rng),
        "four workers": synthetic(n_workers=4, timestamp="2026-01-07T10:00:00Z", rng=rng),
        "distributed": synthetic(kind="distributed", timestamp="2026-01-08T10:00:00Z", rng=rng),
        "failed": synthetic(status=STATUS_FAILED, timestamp="2026-01-09T10:00:00Z", rng=rng),
    }
    assert store.record(database, runs.values()).added == len(runs)
    names = {result.run_id: name for name, result in runs.items()}

    def picked(**filters) -> list[str]:
        return [names[path.removeprefix("db:")] for path, _ in reading.read_runs(database, reading.RunFilter(**filters))]

    assert picked() == list(runs)  # oldest first
    assert picked(label="nightly") == picked(revision="abc123") == ["labelled"]
    assert picked(host="machine-b") == ["other host"]
    assert picked(kind="distributed") == ["distributed"]
    assert picked(distributed_version="2025.12.0") == picked(dask_version="2025.12.0") == ["old"]
    assert picked(config={"n_workers": 4}) == ["four workers"]
    assert picked(status="failed") == ["failed"]
    assert picked(since="2026-01-06", until="2026-01-07T23:59:59Z") == ["other host", "four workers"]
    two_workers = store.configuration_hash("local", runs["old"].config)
    assert picked(config_hash=two_workers, host="machine-a", status="ok") == ["old", "labelled"]
    with pytest.raises(UsageError, match="not an ISO 8601 time"):
        picked(since="last tuesday")


def _writer_code(db: str, seed: int) -> str:
    return f"""
import random, sys
sys.path.insert(0, {REPOSITORY!r}); sys.path.insert(0, {os.path.dirname(__file__)!r})
from helpers import synthetic
from dask_timing.history import connection, store
database = connection.open_database({db!r})
shared, own = random.Random(99), random.Random({seed})
results = [synthetic(rng=shared) for _ in range(100)] + [synthetic(rng=own) for _ in range(300)]
random.Random({seed}).shuffle(results)
added = sum(store.record(database, results[start:start + 10]).added for start in range(0, len(results), 10))
print(added)
"""


@pytest.mark.timeout(120)
def test_two_writers_on_one_sqlite_file_both_complete(tmp_path):
    """Two processes create, migrate and fill one new SQLite file at once: nothing lost, nothing twice.

    Four new files in turn: the race of the first moments (one process switching the new file to WAL
    while the other opens it) is lost only now and then."""
    for attempt in range(4):
        db = str(tmp_path / f"shared{attempt}.db")
        writers = [subprocess.Popen([sys.executable, "-c", _writer_code(db, seed)], stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True) for seed in (1, 2)]
        outputs = [writer.communicate(timeout=100) for writer in writers]
        for writer, (out, err) in zip(writers, outputs):
            assert writer.returncode == 0, err
        added = [int(out) for out, _ in outputs]
        assert sum(added) == 100 + 300 + 300 and min(added) >= 300  # each its own; the shared ones once
        database = open_database(db)
        try:
            assert count_runs(database) == 700
            with database.reading() as reader:
                assert reader.rows("SELECT count(DISTINCT run) FROM metrics") == [(700,)]
        finally:
            database.close()


@pytest.mark.timeout(120)
def test_a_writer_kept_waiting_by_a_locked_file_says_so_then_gives_up_writing_nothing(tmp_path, monkeypatch, capfd):
    """Another process holds the SQLite file (BEGIN EXCLUSIVE) for longer than a writer's patience:
    the wait is said at once rather than after minutes of silence, and ends in one line, nothing stored."""
    db = str(tmp_path / "locked.db")
    database = open_database(db)
    holder = subprocess.Popen([sys.executable, "-c", f"""
import sqlite3, sys, time
held = sqlite3.connect({db!r}, isolation_level=None)
held.execute("BEGIN EXCLUSIVE")
print("held", flush=True)
time.sleep(90)
"""], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        monkeypatch.setattr(connection, "WRITE_LOCK_PATIENCE", 2 * connection.WRITE_LOCK_TURN)
        with pytest.raises(connection.HistoryDatabaseError, match="stayed locked by another process") as refused:
            store.record(database, [synthetic()])
        assert "\n" not in str(refused.value)
        waiting = [line for line in capfd.readouterr().err.splitlines() if line.startswith("waiting for the database")]
        assert len(waiting) == 1 and db in waiting[0]
    finally:
        holder.kill()
        holder.wait()
    assert count_runs(database) == 0
    database.close()


def test_a_newer_schema_is_refused_not_downgraded(db_url):
    database = open_database(db_url)
    store.record(database, [synthetic()])
    with database.engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '9999'"))
    database.close()
    with pytest.raises(NewerSchema) as refused:
        open_database(db_url)
    message = str(refused.value)
    assert "9999" in message and "newer" in message and "\n" not in message
    assert isinstance(refused.value, UsageError)  # the commands' one line and exit 2
    engine = sa.create_engine(database_url(db_url))
    with engine.connect() as conn:  # left as it was: same revision, same runs
        assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one() == "9999"
        assert conn.execute(sa.text("SELECT count(*) FROM runs")).scalar_one() == 1
    engine.dispose()


def test_an_up_to_date_schema_is_told_without_alembic(db_url):
    """Opening a database already at the newest revision reads the scripts' head as alembic does, and never
    loads alembic: a summary of a history should not wait for it."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", MIGRATIONS)
    assert _shipped_head() == ScriptDirectory.from_config(config).get_current_head()
    open_database(db_url).close()  # created and migrated: alembic loaded here
    code = ("import sys; from dask_timing.history.connection import open_database; "
            f"open_database({db_url!r}).close(); print(sorted(m for m in sys.modules if m.startswith('alembic')))")
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                               cwd=REPOSITORY)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "[]"


def test_migrations_build_exactly_the_tables(database):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    with database.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []


def test_a_corrupt_sqlite_file_is_named(tmp_path):
    not_a_database = tmp_path / "results.json"
    not_a_database.write_text('{"total_time": 1.0}' * 100)
    with pytest.raises(CorruptDatabase) as refused:
        open_database(str(not_a_database))
    assert str(not_a_database) in str(refused.value) and "\n" not in str(refused.value)

    damaged = tmp_path / "damaged.db"
    database = open_database(str(damaged))
    rng = random.Random(4)
    store.record(database, [synthetic(rng=rng) for _ in range(300)])
    database.close()
    size = os.path.getsize(damaged)
    with open(damaged, "r+b") as stream:  # the pages after the first few, overwritten
        stream.seek(8 * 4096)
        stream.write(b"\xff" * (size - 8 * 4096))
    with pytest.raises(CorruptDatabase) as refused:
        database = open_database(str(damaged))
        reading.read_runs(database, model=RunResult)
    assert str(damaged) in str(refused.value) and "\n" not in str(refused.value)


def test_unreachable_and_unknown_databases_are_one_line(tmp_path):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(UnreachableDatabase) as refused:
        open_database(f"postgresql://someone:s3cret-word@127.0.0.1:{port}/history")
    message = str(refused.value)
    assert f"127.0.0.1:{port}" in message and "s3cret-word" not in message and "\n" not in message
    with pytest.raises(UnreachableDatabase) as refused:  # the password as libpq also takes it: in the query
        open_database(f"postgresql://someone@127.0.0.1:{port}/history?password=s3cret-word")
    assert "s3cret-word" not in str(refused.value) and "password=***" in str(refused.value)
    with pytest.raises(UnknownDatabase) as refused:  # a port that is not a number: a bad URL, not a crash
        open_database("postgresql://someone:s3cret-word@db.example:fivefourthreetwo/history")
    assert "not a database URL" in str(refused.value) and "s3cret-word" not in str(refused.value)
    with pytest.raises(UnknownDatabase) as refused:  # the scheme forgotten: the password still masked
        open_database("://someone:s3cret-word@db.example/history")
    assert "not a database URL" in str(refused.value) and "s3cret-word" not in str(refused.value)
    with pytest.raises(UnknownDatabase, match="unknown database mysql://"):
        open_database("mysql://someone@127.0.0.1/history")
    with pytest.raises(UnreachableDatabase, match="its folder does not exist"):
        open_database(str(tmp_path / "no" / "such" / "folder" / "history.db"))
    with pytest.raises(UnreachableDatabase, match="it is a folder"):
        open_database(str(tmp_path))
    assert not (tmp_path / "no").exists()


def test_which_database_wins(monkeypatch, tmp_path):
    monkeypatch.delenv(connection.DB_ENVIRONMENT, raising=False)
    assert database_url(None, str(tmp_path)) == f"sqlite:///{tmp_path}/dask-timing.db"
    monkeypatch.setenv(connection.DB_ENVIRONMENT, "postgresql://u:p@127.0.0.1/h")
    assert database_url(None, str(tmp_path)) == "postgresql+psycopg://u:p@127.0.0.1/h"
    assert database_url("other.db", str(tmp_path)) == f"sqlite:///{os.path.abspath('other.db')}"


def test_history_by_version_finds_the_release_that_made_startup_slower(database):
    rng = random.Random(5)
    results = [synthetic(version, seconds=0.3 * (1.25 if version >= "2026.1.0" else 1.0), rng=rng,
                         timestamp=f"2026-0{1 + index}-01T00:00:00Z", options={"revision": f"r{index}"})
               for index, version in enumerate(VERSIONS) for _ in range(8)]
    results += [synthetic("2026.3.0", rng=rng, options={"warmup": True}),  # warmups and failures: left out
                synthetic("2026.3.0", status=STATUS_FAILED, rng=rng), synthetic("2026.3.0", rng=rng, host="machine-b")]
    store.record(database, results)
    keys = series.histories(database)
    assert [(key.host, key.n_runs) for key in keys] == [("machine-a", 42), ("machine-b", 1)]
    history = series.load_history(database, keys[0].config_hash, "machine-a", "version")
    assert [point.label for point in history.points["total_time"]] == [f"distributed {v}" for v in VERSIONS]
    assert all(len(point.values) == 8 for point in history.points["total_time"])
    found = {summary.metric: summary for summary in series.summarise(history)}
    assert list(found)[:5] == ["cluster_init_time", "client_connect_time", "wait_for_workers_time",
                               "first_task_time", "total_time"]
    [step] = found["wait_for_workers_time"].steps
    assert (step.before, step.after) == ("distributed 2025.12.0", "distributed 2026.1.0")
    assert step.ci_low < 0.25 < step.ci_high and step.ci_low < step.size < step.ci_high
    assert re.fullmatch(r"distributed 2025\.12\.0 -> 2026\.1\.0: wait_for_workers \+2\d % \(95 % CI 2\d to 3\d %\)",
                        step.describe("wait_for_workers"))
    assert found["client_connect_time"].steps == []
    assert "no step over 5 point(s)" in found["client_connect_time"].describe()[0]
    by_revision = series.load_history(database, keys[0].config_hash, "machine-a", "revision")
    assert [point.label for point in by_revision.points["total_time"]] == ["r0", "r1", "r2", "r3", "r4"]
    assert by_revision.left_out == 0
    by_label = series.load_history(database, keys[0].config_hash, "machine-a", "label")
    assert by_label.points == {} and by_label.left_out == 40  # no run has a label


def flat_series(n: int, rng: random.Random, step_at: int | None = None, size: float = 0.10) -> list[steps.Point]:
    """n points of one value each, 3 % noise, and a step of ``size`` from ``step_at`` on."""
    level = [1.0 + (size if step_at is not None and index >= step_at else 0.0) for index in range(n)]
    return [steps.Point(f"v{index}", (level[index] * (1 + rng.gauss(0, 0.03)),)) for index in range(n)]


def test_a_planted_step_is_found_and_a_flat_series_has_none():
    rng = random.Random(6)
    [step] = steps.detect_steps(flat_series(60, rng, step_at=37))
    assert abs(step.position - 37) <= 2 and (step.before, step.after) == (f"v{step.position - 1}", f"v{step.position}")
    assert step.ci_low < step.size < step.ci_high and 0.05 < step.size < 0.15 and step.ci_low > 0
    assert steps.detect_steps(flat_series(60, random.Random(7))) == []
    [down] = [step for step in steps.detect_steps(flat_series(40, rng, step_at=20, size=-0.2))
              if abs(step.position - 20) <= 2]
    assert -0.25 < down.size < -0.15 and down.ci_high < 0


def test_the_verdict_on_the_newest_point_never_passes_on_nothing():
    rng = random.Random(8)
    with pytest.raises(steps.EmptyHistory):
        steps.judge_newest([], 5)
    with pytest.raises(steps.EmptyHistory):
        steps.judge_newest([steps.Point("v0", ())], 5)
    single = steps.judge_newest(flat_series(3, rng), 5)  # points of one run: no interval, and said so
    assert single.outcome == gate.UNDECIDED and "has a single run: no interval" in single.reason
    history = [steps.Point(f"v{i}", tuple(1.0 + rng.gauss(0, 0.01) for _ in range(10))) for i in range(8)]
    assert steps.judge_newest(history[:1], 5).outcome == gate.UNDECIDED  # no level before it
    passed = steps.judge_newest(history, 5)
    assert passed.outcome == gate.PASSED and "v7 (10 run(s)" in passed.reason
    assert "against the level before it, v0 to v6 (7 points, 70 run(s)" in passed.reason
    assert "shown to be within ±5 %" in passed.reason
    # the label being judged has no successful run: the point before it is not judged in its place
    assert steps.judge_newest([*history, steps.Point("v8", ())], 5, newest="v8").outcome == gate.UNDECIDED
    slower = steps.Point("v8", tuple(1.3 + rng.gauss(0, 0.01) for _ in range(10)))
    verdict = steps.judge_newest([*history, slower], 5)
    assert verdict.outcome == gate.REGRESSION and "a step up larger than 5 %" in verdict.reason
    assert verdict.change.ci_low > 1.25 and "v0 to v7 (8 points, 80 run(s)" in verdict.reason
    assert steps.judge_newest([*history, slower], 50).outcome == gate.PASSED  # shown within the threshold
    # one more point at the slower level: judged against that level, not against the one before the step
    settled = steps.judge_newest([*history, slower, steps.Point("v9", slower.values)], 5)
    assert settled.outcome == gate.PASSED and "against the level before it, v8 (10 run(s)" in settled.reason
    # a step down larger than the threshold is no pass, and never said to be within it
    faster = steps.judge_newest([*history, steps.Point("v8", tuple(value * 0.54 for value in slower.values))], 10)
    assert faster.outcome == gate.UNDECIDED and "faster by more than 10 %" in faster.reason
    assert "within ±10 %" not in faster.reason.replace("not within ±10 %", "")


@pytest.mark.parametrize("count", [1, 4, 16])
def test_the_trend_plot_never_draws_a_step_as_a_series_line_and_keeps_its_key_whole(count):
    """Series are told apart by line styles (dashed among them): a step is an arrow, never a line; the key
    of 16 configurations fits in the figure, and 16 steps at one place share one label."""
    from matplotlib.text import Annotation

    from dask_timing.present.history_plot import history_figure

    rng = random.Random(9)
    drawn = []
    for index in range(count):
        level = [1.0 + 0.1 * index + (0.4 if point >= 3 else 0.0) for point in range(5)]
        points = [steps.Point(f"distributed {VERSIONS[point]}", tuple(level[point] * (1 + rng.gauss(0, 0.01))
                                                                     for _ in range(5))) for point in range(5)]
        drawn.append((f"local, batch_size=0, dashboard=True, host=127.0.0.1, n_workers={index + 1}, processes=True, "
                       "start_method=spawn, threads_per_worker=1, wait_for_workers=True on machine-a, Python 3.11.7",
                       series.metric_history("total_time", points)))
    assert all(history.steps for _name, history in drawn)
    figure = history_figure(drawn, "version")
    try:
        axes = figure.axes[0]
        keyed = set(axes.get_legend_handles_labels()[1])
        assert len(keyed) == count
        series_lines = [container.lines[0] for container in axes.containers]
        assert len(series_lines) == count
        other_lines = [line for line in axes.get_lines() if line not in series_lines
                       and line.get_linestyle() not in ("None", "")]  # an error bar's caps have no line style
        assert other_lines == []  # a step drawn as a line (dashed, as series are) is told from them by nothing
        arrows = [child for child in axes.get_children() if isinstance(child, Annotation) and child.arrow_patch]
        assert len(arrows) == sum(len(history.steps) for _name, history in drawn)
        renderer = figure.canvas.get_renderer()
        key, whole = axes.get_legend().get_window_extent(renderer), figure.bbox
        assert key.y0 >= whole.y0 - 1 and key.y1 <= whole.y1 + 1 and key.x1 <= whole.x1 + 1
        # the title and the settings all series share, whole across the figure (a narrow one: a few points)
        headings = [text.get_window_extent(renderer) for text in figure.texts if text.get_text()]
        assert headings and all(whole.x0 - 1 <= box.x0 and box.x1 <= whole.x1 + 1 and box.y1 <= whole.y1 + 1
                                for box in headings)
        # the steps' sizes are read, not guessed: no label over another, none up in the title
        labels = [child.get_window_extent(renderer) for child in axes.get_children()
                  if isinstance(child, Annotation) and child.get_text()]
        assert labels and not any(one.overlaps(other) for index, one in enumerate(labels)
                                  for other in labels[index + 1:])
        assert all(label.y1 <= axes.get_window_extent(renderer).y1 for label in labels)
    finally:
        from dask_timing.present.plots import pyplot

        pyplot().close(figure)


def test_a_run_the_database_cannot_hold_is_skipped_with_why_and_the_others_are_stored(database, tmp_path):
    """The same on SQLite (which would store it) and PostgreSQL (which refused the whole batch with it)."""
    rng = random.Random(10)
    good = [synthetic(rng=rng) for _ in range(3)]
    long_label = synthetic(rng=rng, options={"label": "l" * 300})
    nul = synthetic(rng=rng, options={"revision": "abc\0def"})
    long_metric = synthetic(rng=rng)
    long_metric.phases["p" * 200] = 0.1
    paths = write_history_results(tmp_path / "results", [good[0], long_label, good[1], nul, long_metric, good[2]])
    report = store.import_files(database, [str(tmp_path / "results")])
    assert (report.added, report.already) == (3, 0)
    assert dict(report.skipped) == {
        paths[1]: "its label is 300 characters long; the database holds 200",
        paths[3]: "its revision holds a NUL character",
        paths[4]: "its metric name is 205 characters long; the database holds 128",
    }
    assert count_runs(database) == 3


def test_a_history_too_short_for_a_step_says_so_rather_than_no_step():
    """Two releases 10 runs each, the second twice as slow: below 4 points the noise scale is the change
    itself, so no step can ever be found; "no step" would read as "no change"."""
    rng = random.Random(11)
    points = [steps.Point(f"distributed {version}", tuple(level * (1 + rng.gauss(0, 0.01)) for _ in range(10)))
              for version, level in (("2026.1.0", 1.0), ("2026.2.0", 2.0))]
    for count in (2, 3):
        shown = series.metric_history("total_time", (points * 2)[:count]).describe()
        assert len(shown) == 1 and "too few to tell a step" in shown[0] and "no step" not in shown[0], shown
    assert "no step over 4 point(s)" in series.metric_history("total_time", [points[0]] * 4).describe()[0]


def test_values_on_a_coarse_clock_show_no_step_of_one_tick():
    """Durations a 10 ms clock measured: most points agree exactly, so the drift between them is 0 and a single
    tick read as a step (+2.5 %, 95 % CI 2.5 to 2.5 %) in a fifth of flat series; a real step is still found."""
    def ticks(level: float, rng: random.Random) -> tuple[float, ...]:
        return tuple(round(level + rng.gauss(0, 0.004), 2) for _ in range(5))

    false_steps = found = 0
    for seed in range(60):
        rng = random.Random(seed)
        false_steps += bool(steps.detect_steps([steps.Point(f"v{i}", ticks(0.4, rng)) for i in range(10)]))
        found += bool(steps.detect_steps([steps.Point(f"v{i}", ticks(0.4 if i < 5 else 0.44, rng))
                                          for i in range(10)]))
    assert false_steps == 0 and found == 60
    agreeing = [steps.Point(label, (1.0, 1.0, 1.0)) for label in "abcde"] + [steps.Point("f", (1.0001,) * 3)]
    assert steps.detect_steps(agreeing) == []


def test_the_trend_plot_cuts_commit_hashes_on_its_axis_and_keeps_them_apart():
    """40-character hashes along the axis took most of the figure's height from the plot itself."""
    from dask_timing.present.history_plot import TICK_LABEL_WIDTH, history_figure
    from dask_timing.present.plots import pyplot

    rng = random.Random(13)
    hashes = [uuid.UUID(int=rng.getrandbits(128)).hex + "abcdefgh" for _ in range(12)]
    points = [steps.Point(commit, (1.0 + rng.gauss(0, 0.01),)) for commit in hashes]
    figure = history_figure([("local, n_workers=1 on machine-a", series.metric_history("total_time", points))],
                            "revision")
    try:
        shown = [tick.get_text() for tick in figure.axes[0].get_xticklabels()]
    finally:
        pyplot().close(figure)
    assert len(set(shown)) == len(hashes) and all(len(text) <= TICK_LABEL_WIDTH for text in shown)
    assert all(hashes[index].startswith(text[:-1]) for index, text in enumerate(shown))


def test_another_programs_database_is_refused_and_left_as_it_was(db_url):
    """Its data is never written into: a SQLite file with any table of its own, a server database with a
    table of dask-timing's names (other tables there are the server's business)."""
    engine = sa.create_engine(connection.database_url(db_url))
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE runs (note TEXT)")
        conn.exec_driver_sql("INSERT INTO runs VALUES ('theirs')")
    try:
        with pytest.raises(connection.UnknownDatabase, match=r"not a dask-timing database \(it already holds the "
                                                             r"table\(s\) runs\); give another --db"):
            open_database(db_url)
        with engine.connect() as conn:
            assert set(sa.inspect(conn).get_table_names()) == {"runs"}
            assert conn.exec_driver_sql("SELECT note FROM runs").scalars().all() == ["theirs"]
    finally:
        engine.dispose()
