"""The history through the command line: --db on the study and the tools, import, the analyzer on a database,
the history command's steps and its gate (on SQLite and on PostgreSQL, as in test_history)."""

from __future__ import annotations

import glob
import json
import os
import random

import pytest
import sqlalchemy as sa
from conftest import ANALYZER, LOCAL_TOOL, REPOSITORY, STUDY, run_tool
from helpers import VERSIONS, db_url, synthetic, write_history_results

from dask_timing.errors import EXIT_FAILED, EXIT_INCONCLUSIVE, EXIT_OK, EXIT_USAGE
from dask_timing.history.connection import open_database
from dask_timing.history.reading import RunFilter, read_runs

UNREACHABLE = "postgresql://nobody:secret@127.0.0.1:9/nothing"


def history(*args: str, timeout: float = 120):
    return run_tool(["-m", "dask_timing", "history", *args], cwd=REPOSITORY, timeout=timeout)


def stored(db: str, **filters):
    database = open_database(db)
    try:
        return read_runs(database, RunFilter(**filters))
    finally:
        database.close()


@pytest.mark.timeout(300)
def test_study_records_each_run_with_its_study_label_and_revision(db_url, tmp_path):
    out = tmp_path / "results"
    completed = run_tool([STUDY, "--workers", "1", "--runs", "2", "--output-dir", str(out), "--db", db_url,
                          "--label", "nightly", "--revision", "abc1234"], timeout=280)
    assert completed.returncode == 0, completed.stderr
    files = sorted(glob.glob(str(out / "local_*_run*.json")))
    assert len(files) == 2
    runs = stored(db_url)
    assert len(runs) == 2
    assert "Recorded in" in completed.stdout
    study_id = files[0].rsplit("_", 1)[1][: -len(".json")]
    for _path, run in runs:
        assert run.options["label"] == "nightly"
        assert run.options["revision"] == "abc1234"
        assert run.options["study_id"] == study_id
    assert len(stored(db_url, label="nightly", revision="abc1234", study_id=study_id)) == 2


@pytest.mark.timeout(200)
def test_timing_tool_records_its_output_file(tmp_path):
    db, output = str(tmp_path / "h.db"), str(tmp_path / "one.json")
    completed = run_tool([LOCAL_TOOL, "-w", "1", "-o", output, "--db", db, "--label", "solo"], timeout=170)
    assert completed.returncode == 0, completed.stderr
    [(path, run)] = stored(db)
    assert run.options["label"] == "solo" and path.startswith("db:")
    refused = run_tool([LOCAL_TOOL, "-w", "1", "--db", db], timeout=60)
    assert refused.returncode == EXIT_USAGE and "--output" in refused.stderr


@pytest.mark.timeout(120)
@pytest.mark.parametrize("tool", ["study", "local"])
def test_unreachable_database_is_one_line_and_starts_nothing(tool, tmp_path):
    out = tmp_path / "out"
    if tool == "study":
        command = [STUDY, "--workers", "1", "--runs", "1", "--output-dir", str(out), "--db", UNREACHABLE]
    else:
        command = [LOCAL_TOOL, "-w", "1", "-o", str(out / "one.json"), "--db", UNREACHABLE]
    completed = run_tool(command, timeout=100)
    assert completed.returncode == EXIT_USAGE
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot reach the database" in lines[0] and "secret" not in lines[0], completed.stderr
    assert "Traceback" not in completed.stderr
    assert not glob.glob(str(out / "*.json")) and not glob.glob(str(out / "logs" / "*"))


def statistics_lines(stdout: str) -> list[str]:
    """The analyzer's output after its two lines on where the runs came from."""
    return stdout.splitlines()[2:]


@pytest.mark.timeout(200)
def test_import_is_idempotent_and_the_analyzer_reads_the_database_as_the_files(db_url, tmp_path):
    rng = random.Random(3)
    folder = tmp_path / "results"
    write_history_results(folder, [synthetic(version, rng=rng, timestamp=f"2026-01-0{index + 1}T00:00:00Z")
                           for index, version in enumerate(VERSIONS[:2]) for _ in range(4)])
    first = history("import", "--db", db_url, str(folder / "*.json"))
    assert first.returncode == 0, first.stderr
    assert "8 new run(s), 0 already stored" in first.stdout
    again = history("import", "--db", db_url, str(folder))
    assert again.returncode == 0, again.stderr
    assert "0 new run(s), 8 already stored" in again.stdout
    assert len(stored(db_url)) == 8

    from_files = run_tool([ANALYZER, str(folder / "*.json"), "--compare"])
    from_db = run_tool([ANALYZER, "--db", db_url, "--compare"])
    assert from_files.returncode == from_db.returncode == 0, from_db.stderr
    assert statistics_lines(from_db.stdout) == statistics_lines(from_files.stdout)
    assert "total" in from_db.stdout.lower()

    one_version = run_tool([ANALYZER, "--db", db_url, "--since", "2026-01-02"])
    assert one_version.returncode == 0, one_version.stderr
    assert "Loaded 4 result" in one_version.stdout
    nothing = run_tool([ANALYZER, "--db", db_url, "--label", "never-used"])
    assert nothing.returncode == EXIT_USAGE and "--label never-used" in nothing.stderr
    mixed = run_tool([ANALYZER, str(folder), "--db", db_url])
    assert mixed.returncode == EXIT_USAGE


@pytest.mark.timeout(200)
def test_config_picks_configurations_by_their_settings_as_printed(db_url, tmp_path):
    rng = random.Random(5)
    results = [synthetic(version, n_workers=workers, kind=kind, rng=rng)
               for version in VERSIONS[:2] for workers in (1, 2, 4) for kind in ("local", "distributed")
               for _ in range(3)]
    write_history_results(tmp_path / "results", results)
    assert history("import", "--db", db_url, str(tmp_path / "results")).returncode == 0
    every = history("show", "--db", db_url, "--metric", "total_time")
    assert [line.split(" processes")[0] for line in every.stdout.splitlines() if " run(s), " in line] == [
        f"{kind}, workers={workers}," for kind in ("distributed", "local") for workers in (1, 2, 4)]  # not by hash
    two = history("show", "--db", db_url, "--config", "workers=2", "--metric", "total_time")
    assert two.returncode == 0, two.stderr
    headers = [line for line in two.stdout.splitlines() if " run(s), " in line]
    assert sorted(header.split(",")[0] for header in headers) == ["distributed", "local"], two.stdout
    assert all("workers=2, processes=on, threads=1 on machine-a" in header and ": 6 run(s), 2 point(s)" in header
               for header in headers)
    by_key = history("show", "--db", db_url, "--config", "n_workers=2", "--config", "processes=on", "--kind", "local")
    assert by_key.returncode == 0, by_key.stderr
    assert [line for line in by_key.stdout.splitlines() if " run(s), " in line] == [
        header for header in headers if header.startswith("local")]
    assert len(stored(db_url, config={"workers": "4"})) == 12  # both kinds, both releases, 3 runs each
    analysed = run_tool([ANALYZER, "--db", db_url, "--config", "workers=4", "--kind", "distributed"])
    assert analysed.returncode == 0 and "Loaded 6 result" in analysed.stdout, analysed.stderr
    none = history("show", "--db", db_url, "--config", "workers=3", "--config", "processes=on")
    assert none.returncode == EXIT_USAGE and len(none.stderr.strip().splitlines()) == 1
    assert none.stderr.strip().endswith("matches --config workers=3 --config processes=on (the stored configurations "
                                        "have workers=1, 2, 4; processes=on)")
    misspelt = run_tool([ANALYZER, "--db", db_url, "--config", "worker=2"])
    assert misspelt.returncode == EXIT_USAGE and len(misspelt.stderr.strip().splitlines()) == 1
    assert misspelt.stderr.strip().endswith("(no stored configuration has a setting worker; theirs: processes, "
                                            "threads, workers)")
    malformed = history("show", "--db", db_url, "--config", "workers")
    assert malformed.returncode == EXIT_USAGE and "NAME=VALUE" in malformed.stderr
    assert len(malformed.stderr.strip().splitlines()) == 1


def history_of(folder, db: str, levels: list[float], runs: int = 5) -> None:
    """One configuration measured at the first len(levels) releases, ``runs`` runs each, imported into ``db``."""
    rng = random.Random(7)
    results = [synthetic(version, seconds=seconds, rng=rng, timestamp=f"2026-0{index + 1}-01T00:00:00Z")
               for index, (version, seconds) in enumerate(zip(VERSIONS, levels)) for _ in range(runs)]
    write_history_results(folder, results)
    completed = history("import", "--db", db, str(folder))
    assert completed.returncode == 0, completed.stderr


@pytest.mark.timeout(200)
@pytest.mark.parametrize("levels, runs, code, said", [
    ([0.3, 0.3, 0.3, 0.3, 0.3], 5, EXIT_OK, "Gate: passed"),
    ([0.3, 0.3, 0.3, 0.3, 0.6], 5, EXIT_FAILED, "Gate: failed"),
    ([0.3, 0.6], 5, EXIT_FAILED, "Gate: failed"),  # two points are enough when their runs show the step
    ([0.3, 0.6], 2, EXIT_INCONCLUSIVE, "Gate: inconclusive"),  # 2 runs against 2: p < 0.05 cannot be reached
])
def test_fail_on_step_exit_codes(levels, runs, code, said, db_url, tmp_path):
    history_of(tmp_path / "results", db_url, levels, runs)
    plot = tmp_path / "trend.png"
    completed = history("show", "--db", db_url, "--fail-on-step", "10", "--plot", str(plot))
    assert completed.returncode == code, completed.stdout + completed.stderr
    assert said in completed.stdout
    assert plot.stat().st_size > 0
    assert "Rule: the newest point passes when the 95 % interval of its change" in completed.stdout
    newest = f"distributed {VERSIONS[len(levels) - 1]}"
    assert f"  verdict: {dict(zip((EXIT_OK, EXIT_FAILED, EXIT_INCONCLUSIVE), ('passed', 'failed', 'cannot tell')))[code]}: " \
           f"{newest} ({runs} run(s)" in completed.stdout
    if len(levels) == 5 and code == EXIT_FAILED:
        assert "distributed 2026.2.0 -> 2026.3.0: total_time +" in completed.stdout
        assert "against the level before it, distributed 2025.11.0 to 2026.2.0 (4 points, 20 run(s)" in completed.stdout
    if code == EXIT_OK:
        assert "total_time: no step over 5 point(s)" in completed.stdout


@pytest.mark.timeout(120)
def test_fail_on_step_never_passes_on_nothing(db_url, tmp_path):
    history_of(tmp_path / "results", db_url, [0.3, 0.3, 0.3, 0.3])
    completed = history("show", "--db", db_url, "--label", "no-such-label", "--fail-on-step", "10")
    assert completed.returncode == EXIT_USAGE
    assert completed.stderr.strip().count("\n") == 0 and "--label no-such-label" in completed.stderr
    missing = history("show", "--db", str(tmp_path / "missing.db"), "--fail-on-step", "10")
    assert missing.returncode == EXIT_USAGE and "no database" in missing.stderr, missing.stdout
    assert not os.path.exists(tmp_path / "missing.db")
    analyzed = run_tool([ANALYZER, "--db", str(tmp_path / "missing.db")])
    assert analyzed.returncode == EXIT_USAGE and "no database" in analyzed.stderr


@pytest.mark.timeout(120)
def test_html_report_has_a_history_by_release_with_its_step(tmp_path):
    db = str(tmp_path / "h.db")
    history_of(tmp_path / "results", db, [0.3, 0.3, 0.3, 0.6, 0.6])
    page = tmp_path / "report.html"
    completed = run_tool([ANALYZER, "--db", db, "--html", str(page)])
    assert completed.returncode == 0, completed.stderr
    text = page.read_text()
    assert "<h2>History by release</h2>" in text
    assert "distributed 2026.1.0 -&gt; 2026.2.0: total_time +" in text
    assert text.count("data:image/png;base64,") >= 2


@pytest.mark.timeout(300)
def test_a_resumed_study_records_where_and_as_it_began(tmp_path):
    out, db = tmp_path / "results", str(tmp_path / "h.db")
    begun = run_tool([STUDY, "--workers", "1", "--processes", "off", "--runs", "2", "--output-dir", str(out),
                      "--db", db, "--label", "nightly"], timeout=200)
    assert begun.returncode == 0, begun.stderr
    begun_ids = {run.run_id for _path, run in stored(db)}
    lost = sorted(out.glob("local_*_run*.json"))[-1]
    lost.unlink()  # a run to do again
    refused = run_tool([STUDY, "--output-dir", str(out), "--resume", "--label", "other"])
    assert refused.returncode == EXIT_USAGE and "keeps the study's --label (nightly)" in refused.stderr
    resumed = run_tool([STUDY, "--output-dir", str(out), "--resume"], timeout=200)  # no --db, no --label
    assert resumed.returncode == 0, resumed.stdout[-2000:] + resumed.stderr
    assert "Recorded in" in resumed.stdout
    redone = {run.run_id for _path, run in stored(db)} - begun_ids
    (again,) = [run for _path, run in stored(db) if run.run_id in redone]
    assert again.options["label"] == "nightly"
    assert len(stored(db, label="nightly")) == 3  # the two first runs, and the one done again
    # A database's password is masked in the manifest: resuming asks for it.
    manifest = next(out.glob("study_*.json"))
    document = json.loads(manifest.read_text())
    document["recording"]["db"] = "postgresql://user:***@db.example/timing"
    manifest.write_text(json.dumps(document))
    lost.unlink()
    masked = run_tool([STUDY, "--output-dir", str(out), "--resume"])
    assert masked.returncode == EXIT_USAGE and len(masked.stderr.strip().splitlines()) == 1
    assert "give --db with the password again" in masked.stderr


@pytest.mark.timeout(120)
def test_a_metric_measured_as_zero_shows_without_a_step_from_nothing(tmp_path):
    """A duration below the clock's resolution is stored as 0 s: no relative step can start from it."""
    db = str(tmp_path / "h.db")
    rng = random.Random(3)
    results = []
    for index, version in enumerate(VERSIONS):
        for _ in range(3):
            result = synthetic(version, rng=rng, timestamp=f"2026-0{index + 1}-01T00:00:00Z")
            result.phases["first_task"] = 0.0 if index < 3 else 0.004  # 0 s, then measurable
            results.append(result)
    write_history_results(tmp_path / "results", results)
    assert history("import", "--db", db, str(tmp_path / "results")).returncode == EXIT_OK
    completed = history("show", "--db", db, "--metric", "first_task_time", "--plot", str(tmp_path / "t.png"))
    assert completed.returncode == EXIT_OK, completed.stderr
    assert "Traceback" not in completed.stderr
    assert "first_task_time: no step over 5 point(s)" in completed.stdout


@pytest.mark.timeout(200)
def test_a_run_whose_recording_fails_keeps_its_file_and_never_shows_the_password(db_url, tmp_path):
    """The database opens, then refuses the run (a table gone): one warning, whose import command masks the
    password of the URL it suggests."""
    database = open_database(db_url)
    database.write(lambda connection: connection.exec_driver_sql("DROP TABLE metrics"))
    database.close()
    output = tmp_path / "one.json"
    completed = run_tool([LOCAL_TOOL, "-w", "1", "--no-processes", "-o", str(output), "--db", db_url], timeout=170)
    assert completed.returncode == EXIT_OK, completed.stderr
    assert output.exists()
    [warning] = [line for line in completed.stderr.splitlines() if "not recorded in the database" in line]
    assert "dask-timing history import --db " in warning and str(output) in warning
    password = sa.make_url(db_url).password if "://" in db_url else None
    if password:
        assert f":{password}@" not in completed.stdout + completed.stderr and ":***@" in warning


@pytest.mark.timeout(120)
@pytest.mark.parametrize("tool", ["study", "local"])
def test_a_label_the_database_cannot_hold_is_refused_before_anything_runs(tool, tmp_path):
    out, db = tmp_path / "out", tmp_path / "h.db"
    if tool == "study":
        command = [STUDY, "--workers", "1", "--runs", "1", "--output-dir", str(out)]
    else:
        command = [LOCAL_TOOL, "-w", "1", "-o", str(out / "one.json")]
    completed = run_tool([*command, "--db", str(db), "--label", "x" * 201], timeout=100)
    assert completed.returncode == EXIT_USAGE
    assert "--label: expected at most 200 characters" in completed.stderr and "Traceback" not in completed.stderr
    assert not out.exists() and not db.exists()


@pytest.mark.timeout(120)
def test_two_pythons_on_one_machine_are_two_histories_not_a_mix(tmp_path):
    """Runs under Python 3.11 (0.6 s) and 3.12 (0.9 s): mixed in one point they gave a median of neither,
    and a 20 % jump where the newest release was measured under one of them only."""
    rng = random.Random(12)
    results = []
    for index, version in enumerate(VERSIONS):
        for python, seconds in (("3.11.7", 0.3), ("3.12.1", 0.6)):
            if python == "3.11.7" and index == len(VERSIONS) - 1:
                continue  # the newest release: measured under 3.12 only
            for _ in range(4):
                result = synthetic(version, seconds=seconds, rng=rng, timestamp=f"2026-0{index + 1}-01T00:00:00Z")
                result.environment["python_version"] = python
                results.append(result)
    write_history_results(tmp_path / "results", results)
    db = str(tmp_path / "h.db")
    assert history("import", "--db", db, str(tmp_path / "results")).returncode == EXIT_OK
    completed = history("show", "--db", db, "--metric", "total_time", "--fail-on-step", "10")
    assert completed.returncode == EXIT_OK, completed.stdout
    assert "on machine-a, Python 3.11.7: 16 run(s), 4 point(s)" in completed.stdout
    assert "on machine-a, Python 3.12.1: 20 run(s), 5 point(s)" in completed.stdout
    assert "Gate: passed" in completed.stdout


@pytest.mark.timeout(120)
def test_plot_and_metric_mistakes_are_one_line_and_the_plot_goes_where_asked(tmp_path):
    history_of(tmp_path / "results", str(tmp_path / "h.db"), [0.3, 0.3, 0.3, 0.6, 0.6])
    db = str(tmp_path / "h.db")
    for plot in ("trend.txt", "trend"):  # not a PNG: refused before anything is read, nothing written
        refused = history("show", "--db", db, "--plot", str(tmp_path / plot))
        assert refused.returncode == EXIT_USAGE and "ending in .png" in refused.stderr and not refused.stdout
        assert not glob.glob(str(tmp_path / "trend*"))
    misspelt = history("show", "--db", db, "--metric", "totl_time")
    assert misspelt.returncode == EXIT_USAGE and "--metric totl_time: no stored run has it" in misspelt.stderr
    nested = tmp_path / "plots" / "2026" / "trend.png"  # a folder that does not exist yet, as for any output
    drawn = history("show", "--db", db, "--plot", str(nested))
    assert drawn.returncode == EXIT_OK and "Traceback" not in drawn.stderr, drawn.stderr
    assert nested.read_bytes().startswith(b"\x89PNG")


@pytest.mark.timeout(300)
def test_a_long_import_shows_progress_and_a_stopped_one_says_what_it_stored(tmp_path):
    """Each batch is its own transaction: a signal keeps the batches stored, says how many runs they hold,
    and importing again adds the rest, none twice."""
    import signal
    import subprocess
    import sys

    from conftest import signal_at

    from dask_timing.history.store import IMPORT_BATCH

    rng = random.Random(11)
    files = 2 * IMPORT_BATCH + 100
    write_history_results(tmp_path / "results", [synthetic(rng=rng) for _ in range(files)])
    db = str(tmp_path / "history.db")
    command = [sys.executable, "-m", "dask_timing", "history", "import", "--db", db, str(tmp_path / "results")]
    process = subprocess.Popen(command, cwd=REPOSITORY, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    _, output, _ = signal_at(process, "files read", signal.SIGTERM)
    assert process.returncode == 128 + signal.SIGTERM, output
    assert f"  {IMPORT_BATCH:,} of {files:,} files read, {IMPORT_BATCH:,} new run(s) stored" in output
    (said,) = [line for line in output.splitlines() if "stopped:" in line]
    kept = int(said.split("stopped: ")[1].split(" new run(s)")[0])
    assert kept >= IMPORT_BATCH and "import the same files again" in said
    assert len(stored(db)) == kept
    again = history("import", "--db", db, str(tmp_path / "results"), timeout=200)
    assert again.returncode == 0, again.stderr
    assert f"{files - kept} new run(s), {kept} already stored" in again.stdout
    assert len(stored(db)) == files
