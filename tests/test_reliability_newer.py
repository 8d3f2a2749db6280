"""The newer commands (the results database, environments, exports, the installed command) keep the promises
of the first tools: another program's file is never changed, a failed command leaves nothing it made, text from
files is data, parsers are bounded, bad options are one line, concurrent writers all succeed
(docs/promises-newer-commands.md lists each promise and its test)."""

from __future__ import annotations

import contextlib
import hashlib
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
from conftest import ANALYZER, REPOSITORY, run_tool
from helpers import OTHER_RELEASE, db_url, pypi_has, synthetic, write_history_results

from dask_timing.history.connection import open_database
from dask_timing.record.load import MAX_NESTING, ResultFileError, load_result, nesting_depth, read_document



def history(*args: str, cwd: str = REPOSITORY, timeout: float = 120):
    command = [sys.executable, "-m", "dask_timing", "history", *args]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
                          env={**os.environ, "PYTHONPATH": REPOSITORY})


def digest(path) -> str:
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


# ------------------------------------------------------------------ class 10: our own words, whatever the decoder

@pytest.mark.parametrize("data", [
    b'{"kind": "local", "\xff": 1}',                       # in a key
    b'{"kind": "local", "error": "\xc0\xaf"}',             # an overlong encoding
    b'{"kind": "local", "error": "\xed\xa0\x80"}',         # an encoded surrogate
    b'{"kind": "local", "error": "abc\xe2\x82',            # cut inside a character, at the end
    b'\xfe\xff\x00{\x00}',                                 # UTF-16 with its byte order mark
])
def test_text_that_is_not_utf8_is_said_so_in_the_tools_words(tmp_path, data):
    path = tmp_path / "bad.json"
    path.write_bytes(data)
    for read in (load_result, read_document):
        with pytest.raises(ResultFileError, match="it holds text that is not UTF-8, at byte"):
            read(str(path))


@pytest.mark.parametrize("data, depth", [
    (b'{"a": "[[[[[[[[[[[[[[[[[[[[["}', 1),                # brackets in a string are text
    (b'{"a": "\\"[[[[\\\\", "b": [[1]]}', 3),              # escaped quotes and backslashes
    (b"[" * 300 + b"]" * 300, 300),
    (b'{"a": ' * 250 + b"1" + b"}" * 250, 250),
])
def test_nesting_is_counted_by_the_tools_own_scan(data, depth):
    assert nesting_depth(data) == depth


@pytest.mark.parametrize("depth", [MAX_NESTING + 1, 5_000, 100_000])
def test_a_deep_file_is_nested_too_deeply_whatever_the_decoder_manages(tmp_path, depth):
    path = tmp_path / "deep.json"
    path.write_bytes(b'{"kind": "local", "config": ' + b"[" * depth + b"]" * depth + b"}")
    for read in (load_result, read_document):
        with pytest.raises(ResultFileError, match="nested too deeply"):
            read(str(path))


# ------------------------------------------------------------------ class 1: another program's file is never changed

def another_programs_sqlite(path, journal: str = "delete") -> None:
    with sqlite3.connect(path) as connection:
        connection.execute(f"PRAGMA journal_mode = {journal}")
        connection.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)")
        connection.execute("INSERT INTO notes (text) VALUES ('mine')")
    connection.close()


@pytest.mark.parametrize("command", ["import", "show", "analyzer"])
@pytest.mark.parametrize("schema", ["tables", "alembic"])
def test_another_programs_sqlite_file_is_refused_unchanged(tmp_path, command, schema):
    db = tmp_path / "theirs.db"
    another_programs_sqlite(db)
    if schema == "alembic":  # another program versioned by Alembic too
        with sqlite3.connect(db) as connection:
            connection.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)")
            connection.execute("INSERT INTO alembic_version VALUES ('0123abcd')")
        connection.close()
    before = digest(db)
    results = tmp_path / "results"
    write_history_results(results, [synthetic()])
    if command == "analyzer":
        completed = run_tool([ANALYZER, "--db", str(db)])
    else:
        completed = history(command, "--db", str(db), *([str(results)] if command == "import" else []))
    assert completed.returncode == 2, completed.stderr
    assert "not a dask-timing database" in completed.stderr and len(completed.stderr.splitlines()) == 1
    assert digest(db) == before
    assert sorted(os.listdir(tmp_path)) == ["results", "theirs.db"]  # no -wal, -shm or -journal either


def test_a_file_that_is_not_a_database_is_refused_unchanged(tmp_path):
    db = tmp_path / "notes.txt"
    db.write_text("a text file, not a database\n" * 100)
    before = digest(db)
    completed = history("import", "--db", str(db), str(tmp_path))
    assert completed.returncode == 2 and len(completed.stderr.splitlines()) == 1, completed.stderr
    assert digest(db) == before


def on_a_read_only_folder(folder, command: list[str]) -> subprocess.CompletedProcess:
    """Run ``command`` where ``folder`` is a read-only file system (a read-only bind mount in a mount namespace
    of its own: it ends with the command, and holds even for root)."""
    if shutil.which("unshare") is None or os.geteuid() != 0:
        pytest.skip("a read-only bind mount needs unshare and root")
    script = 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && exec "$@"'
    completed = subprocess.run(["unshare", "-m", "sh", "-c", script, str(folder), *command], capture_output=True,
                               text=True, cwd=REPOSITORY, timeout=120, stdin=subprocess.DEVNULL)
    if "mount:" in completed.stderr:
        pytest.skip(f"no read-only bind mount here: {completed.stderr.strip()}")
    return completed


@pytest.mark.parametrize("journal", ["wal", "delete"])
def test_read_only_commands_read_a_read_only_file_in_a_read_only_folder(tmp_path, journal):
    folder = tmp_path / "shared"
    folder.mkdir()
    write_history_results(tmp_path / "results", [synthetic(seconds=0.3, rng=random.Random(seed)) for seed in range(3)])
    imported = history("import", "--db", str(folder / "runs.db"), str(tmp_path / "results"))
    assert imported.returncode == 0, imported.stderr
    with sqlite3.connect(folder / "runs.db") as connection:  # as a copy made with another tool may be
        connection.execute(f"PRAGMA journal_mode = {journal}")
    connection.close()
    os.chmod(folder / "runs.db", 0o444)
    before = digest(folder / "runs.db")
    shown = on_a_read_only_folder(folder, [sys.executable, "-m", "dask_timing", "history", "show", "--db",
                                           str(folder / "runs.db")])
    assert shown.returncode == 0, shown.stderr
    assert "3 run(s)" in shown.stdout
    analyzed = on_a_read_only_folder(folder, [sys.executable, ANALYZER, "--db", str(folder / "runs.db")])
    assert analyzed.returncode == 0, analyzed.stderr
    assert "Loaded 3 result" in analyzed.stdout, analyzed.stdout
    assert digest(folder / "runs.db") == before
    assert sorted(os.listdir(folder)) == ["runs.db"]


def test_read_only_commands_change_nothing_in_a_writable_folder(tmp_path):
    write_history_results(tmp_path / "results", [synthetic(rng=random.Random(seed)) for seed in range(3)])
    (tmp_path / "db").mkdir()
    assert history("import", "--db", str(tmp_path / "db" / "runs.db"), str(tmp_path / "results")).returncode == 0
    before = digest(tmp_path / "db" / "runs.db")
    assert history("show", "--db", str(tmp_path / "db" / "runs.db")).returncode == 0
    assert run_tool([ANALYZER, "--db", str(tmp_path / "db" / "runs.db")]).returncode == 0
    assert digest(tmp_path / "db" / "runs.db") == before
    assert os.listdir(tmp_path / "db") == ["runs.db"]  # no -wal or -shm left by a reader


def test_a_read_only_command_on_a_missing_file_creates_nothing(tmp_path):
    for completed in (history("show", "--db", str(tmp_path / "none.db")),
                      run_tool([ANALYZER, "--db", str(tmp_path / "none.db")])):
        assert completed.returncode == 2 and "no database" in completed.stderr, completed.stderr
    assert os.listdir(tmp_path) == []


# ------------------------------------------------------------------ class 2: a failed command leaves nothing it made

@pytest.mark.parametrize("patterns", [["nothing-*.json"], ["empty-folder"], ["summary.json"]])
def test_a_refused_import_leaves_no_new_database(tmp_path, patterns):
    (tmp_path / "empty-folder").mkdir()
    (tmp_path / "summary.json").write_text('{"document": "dask-timing-summary"}')
    completed = history("import", "--db", "new.db", *patterns, cwd=str(tmp_path))
    assert completed.returncode == 2, completed.stderr
    assert not any(name.startswith("new.db") for name in os.listdir(tmp_path))


def test_a_refused_import_keeps_a_database_that_was_there(tmp_path):
    write_history_results(tmp_path / "results", [synthetic()])
    assert history("import", "--db", "kept.db", "results", cwd=str(tmp_path)).returncode == 0
    completed = history("import", "--db", "kept.db", "nothing-*.json", cwd=str(tmp_path))
    assert completed.returncode == 2
    assert (tmp_path / "kept.db").exists()


# ------------------------------------------------------------------ class 6: concurrent writers

@pytest.mark.timeout(300)
def test_four_writers_into_one_new_database_store_every_run_once(db_url, tmp_path):
    """Four imports at once into a database nobody set up yet: none refused, each run stored once."""
    folders = []
    for writer in range(4):
        rng = random.Random(writer)
        runs = [synthetic(version, rng=rng) for version in ("2026.1.0", "2026.2.0") for _ in range(40)]
        write_history_results(tmp_path / f"own{writer}", runs)
        folders.append(str(tmp_path / f"own{writer}"))
    shared = random.Random(99)
    write_history_results(tmp_path / "shared", [synthetic(rng=shared) for _ in range(30)])
    command = [sys.executable, "-m", "dask_timing", "history", "import", "--db", db_url]
    writers = [subprocess.Popen([*command, folder, str(tmp_path / "shared")], cwd=REPOSITORY, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for folder in folders]
    outcomes = [(writer.wait(timeout=240), writer.stderr.read()) for writer in writers]
    for writer in writers:
        writer.stdout.close()
        writer.stderr.close()
    assert [code for code, _ in outcomes] == [0] * 4, outcomes
    database = open_database(db_url)
    try:
        with database.reading() as reader:
            stored = reader.rows("SELECT count(*), count(DISTINCT run_id) FROM runs")[0]
    finally:
        database.close()
    assert tuple(stored) == (4 * 80 + 30, 4 * 80 + 30)


# ------------------------------------------------------------------ class 3: text from files is data, never control

HOSTILE = {
    "clear": "\x1b[2J\x1b[H",
    "title": "\x1b]0;pwned\x07",
    "forged": "x\rGate: passed",
    "bidi": "abc\u202edcba",
    "c1": "\x9b31m",
    "nul": "a\x00b",
}
CONTROLS = ("\x1b", "\x07", "\r", "\u202e", "\x9b", "\x00")


def hostile_results(folder) -> list[str]:
    """Results whose every text field a hostile file could fill: host, versions, settings, error."""
    rng = random.Random(7)
    results = []
    for index, (name, text) in enumerate(HOSTILE.items()):
        for _ in range(2):
            result = synthetic(host=f"host-{name}{text}", rng=rng, kind="local",
                               options={"label": f"label{text}"})
            result.config["formula"] = ["=HYPERLINK(\"http://x\")", "+1+1", "-2+3", "@SUM(A1)", "'quoted",
                                        "\tTAB", "-5", "$x^2$"][index % 8] + text
            result.environment["packages"]["dask"] = f"2026.1.{index}{text}"
            results.append(result)
    failed = synthetic(status="failed", rng=rng)
    failed.error = "boom\x1b[2J\rGate: passed"
    results.append(failed)
    return write_history_results(folder, results)


def assert_no_control(text: str, where: str) -> None:
    found = [character for character in CONTROLS if character in text]
    assert not found, (where, found)


def test_history_show_prints_stored_text_escaped(tmp_path):
    hostile_results(tmp_path / "results")
    assert history("import", "--db", str(tmp_path / "h.db"), str(tmp_path / "results")).returncode == 0
    shown = history("show", "--db", str(tmp_path / "h.db"), "--fail-on-step", "5")
    assert "Traceback" not in shown.stderr
    assert_no_control(shown.stdout + shown.stderr, "history show")
    assert "\\x1b[2J" in shown.stdout and "\\rGate: passed" in shown.stdout
    assert not any(line.startswith("Gate: passed") for line in shown.stdout.splitlines()[:-1] if "\\r" in line)


def test_every_export_and_the_terminal_show_file_text_escaped(tmp_path):
    hostile_results(tmp_path / "results")
    outputs = {name: tmp_path / f"out.{name}" for name in ("csv", "markdown", "html")}
    completed = run_tool([ANALYZER, str(tmp_path / "results" / "*.json"), "--plot", "--plot-dir", str(tmp_path / "p"),
                          *[argument for name, path in outputs.items() for argument in (f"--{name}", str(path))]],
                         timeout=300)
    assert completed.returncode == 0, completed.stderr
    assert_no_control(completed.stdout + completed.stderr, "terminal")
    for name, path in outputs.items():
        assert_no_control(path.read_text(), name)
    assert "\\x1b" in outputs["html"].read_text() and "\\x1b" in outputs["markdown"].read_text()
    assert list((tmp_path / "p").glob("*.png"))


def test_csv_cells_a_spreadsheet_would_run_start_with_a_quote_and_numbers_stay_numbers(tmp_path):
    import csv

    hostile_results(tmp_path / "results")
    run_tool([ANALYZER, str(tmp_path / "results" / "*.json"), "--csv", str(tmp_path / "out.csv")])
    with open(tmp_path / "out.csv", newline="") as stream:
        rows = list(csv.DictReader(stream))
    formulas = {row["formula"] for row in rows if row["formula"]}
    assert formulas and all(cell[0] not in "=+-@\t\r" for cell in formulas), formulas
    assert any(cell.startswith("'=HYPERLINK") for cell in formulas)
    assert any(cell.startswith("''quoted") for cell in formulas)  # one quote off gives the raw text back
    assert all(float(row["median"]) > 0 for row in rows if row["median"])  # numbers are numbers
    relative = [row["relative"] for row in rows if row["relative"]]
    assert all(not cell.startswith("'") for cell in relative)


@pytest.mark.parametrize("value, cell", [
    ("=1+1", "'=1+1"), ("+1", "+1"), ("-2", "-2"), ("-2+3", "'-2+3"), ("@A1", "'@A1"), ("\tx", "'\\tx"),
    ("\rx", "'\\rx"), ("'x", "''x"), ("plain", "plain"), ("-1e5", "-1e5"), ("- list", "'- list"), (-3.5, -3.5),
    (7, 7), (None, None), ("a\x1bb", "a\\x1bb"),
])
def test_spreadsheet_cell_rule(value, cell):
    from dask_timing.present.exports.csv_table import spreadsheet_cell

    assert spreadsheet_cell(value) == cell


# ------------------------------------------------------------------ class 4: parsers of user files are bounded

def list_bomb(levels: int = 12) -> str:
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def dict_bomb(levels: int = 40) -> str:
    lines = ["a0: &a0 {x: 1, y: 1}"] + [f"a{i}: &a{i} {{x: *a{i - 1}, y: *a{i - 1}}}" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def merge_bomb(levels: int = 40) -> str:
    lines = ["a0: &a0 {k0: 1}"] + [f"a{i}: &a{i} {{<<: *a{i - 1}, k{i}: *a{i - 1}}}" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


SETTINGS_FILES = {
    "list_bomb.yaml": (list_bomb(), "once its aliases are expanded"),
    "dict_bomb.yaml": (dict_bomb(), "once its aliases are expanded"),
    "merge_bomb.yaml": (merge_bomb(), "once its aliases are expanded"),
    "deep.yaml": ("x: " + "[" * 5000 + "]" * 5000 + "\n", "nested deeper than"),
    "deep_block.yaml": "".join(f"{'  ' * level}k{level}:\n" for level in range(100)) + "  " * 100 + "v: 1\n",
    "self.yaml": ("a: &a [1, *a]\n", "refers to the value that holds it"),
    "not_utf8.yaml": ("n_workers: \udcff\n", "not UTF-8"),
    "huge.yaml": (None, "larger than"),
}
SETTINGS_FILES["deep_block.yaml"] = (SETTINGS_FILES["deep_block.yaml"], "nested deeper than")
# Past the YAML parser's own nesting limit (PyYAML 6.0.4 has one, with its own words): still our one line.
SETTINGS_FILES["deeper_block.yaml"] = ("".join(f"{' ' * level}k{level}:\n" for level in range(1100)) + "v: 1\n",
                                       "nested deeper than")


def write_settings(folder, name: str) -> str:
    text, _ = SETTINGS_FILES[name]
    path = folder / name
    if text is None:
        with open(path, "wb") as stream:  # sparse: costs no disk
            stream.truncate(50 << 20)
    else:
        path.write_bytes(text.encode("utf-8", "surrogateescape"))
    return str(path)


@pytest.mark.parametrize("name", sorted(SETTINGS_FILES))
def test_a_settings_file_beyond_the_bounds_is_refused_by_the_parser(tmp_path, name):
    from dask_timing.record.settings import SettingsError, read_settings_file

    path = write_settings(tmp_path, name)
    with pytest.raises(SettingsError, match=SETTINGS_FILES[name][1]):
        read_settings_file(path)


def test_a_settings_file_within_the_bounds_is_read_with_its_aliases():
    from dask_timing.record.settings import parse_yaml

    assert parse_yaml("base: &b {processes: false}\ncluster: {<<: *b, n_workers: 2}\n")["cluster"] == {
        "processes": False, "n_workers": 2}


@pytest.mark.parametrize("name", ["list_bomb.yaml", "dict_bomb.yaml", "self.yaml", "deep.yaml"])
@pytest.mark.parametrize("tool", ["processes", "study"])
def test_cluster_kwargs_beyond_the_bounds_is_one_line_and_exit_2(tmp_path, tool, name):
    path = write_settings(tmp_path, name)
    if tool == "processes":
        command = [os.path.join(REPOSITORY, "time_scheduler_workers.py"), "--cluster-class",
                   "distributed:LocalCluster", "--cluster-kwargs", path]
    else:
        command = [os.path.join(REPOSITORY, "run_timing_study.sh"), "--type", "local", "--cluster-kwargs", path,
                   "--output-dir", str(tmp_path / "out")]
    completed = run_tool(command, timeout=60)
    assert completed.returncode == 2, completed.stderr
    assert len(completed.stderr.splitlines()) == 1 and SETTINGS_FILES[name][1] in completed.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("text", ["[" * 100_000, '{"a": ' * 100 + "1" + "}" * 100], ids=["deep_list", "deep_object"])
def test_inline_cluster_kwargs_beyond_the_bounds_is_one_line_and_exit_2(text):
    completed = run_tool([os.path.join(REPOSITORY, "time_scheduler_workers.py"), "--cluster-class",
                          "distributed:LocalCluster", "--cluster-kwargs", text], timeout=60)
    assert completed.returncode == 2 and len(completed.stderr.splitlines()) == 1, completed.stderr[-500:]


@pytest.mark.parametrize("name", ["dict_bomb.yaml", "list_bomb.yaml", "deep.yaml"])
def test_a_dask_configuration_file_beyond_the_bounds_is_refused_before_dask_reads_it(tmp_path, name):
    folder = tmp_path / "dask-config"
    folder.mkdir()
    write_settings(folder, name)
    for command in ([os.path.join(REPOSITORY, "time_local_cluster.py"), "-w", "1"],
                    [os.path.join(REPOSITORY, "compare_schedulers.py"), "--schedulers", "synchronous"]):
        completed = run_tool(command, cwd=str(tmp_path), env={"DASK_CONFIG": str(folder), "PYTHONPATH": REPOSITORY},
                             timeout=60)
        assert completed.returncode == 2, completed.stderr
        assert "Dask's configuration file" in completed.stderr and len(completed.stderr.splitlines()) == 1


# Runs a command with Dask and distributed unimportable: it fails if anything on its path imports them.
WITHOUT_DASK = ("import sys\nfor name in ('dask', 'distributed'): sys.modules[name] = None\n"
                "from dask_timing.cli import main\nsys.exit(main(sys.argv[1:]))\n")


def test_the_commands_that_never_import_dask_work_whatever_its_configuration_files_hold(tmp_path):
    """The analyzer, the history and envs never import Dask, whatever they are asked (plots, exports,
    comparisons, a site): a configuration file Dask would refuse does not stop them, as it never reaches them."""
    folder = tmp_path / "dask-config"
    folder.mkdir()
    write_settings(folder, "dict_bomb.yaml")
    (folder / "malformed.yaml").write_text("distributed: [\n")
    for offset, version in enumerate(("2026.1.0", "2026.2.0")):
        write_history_results(tmp_path / "results" / version,
                              [synthetic(version, rng=random.Random(10 * offset + index)) for index in range(4)])
    results, out = str(tmp_path / "results"), tmp_path / "out"
    out.mkdir()
    commands = [
        ["analyze", f"{results}/*/*.json", "--plot", "--plot-dir", str(out), "--html", str(out / "r.html"),
         "--markdown", str(out / "r.md"), "--csv", str(out / "r.csv"), "--summary-json", str(out / "s.json")],
        ["analyze", f"{results}/2026.2.0", "--baseline", f"{results}/2026.1.0", "--verdict-json", str(out / "v.json")],
        ["history", "import", "--db", str(out / "h.db"), f"{results}/*/*.json"],
        ["history", "show", "--db", str(out / "h.db")],
        ["history", "publish", "--db", str(out / "h.db"), str(out / "site")],
        ["envs", "list"],
    ]
    for command in commands:
        completed = subprocess.run([sys.executable, "-c", WITHOUT_DASK, *command], capture_output=True, text=True,
                                   cwd=str(tmp_path), timeout=120, stdin=subprocess.DEVNULL,
                                   env={**os.environ, "PYTHONPATH": REPOSITORY, "DASK_CONFIG": str(folder),
                                        "XDG_CACHE_HOME": str(tmp_path / "cache")})
        assert completed.returncode == 0, (command, completed.stderr[-2000:])
        assert "configuration file" not in completed.stderr
    assert (out / "r.html").exists() and (out / "v.json").exists() and (out / "site" / "index.html").exists()


# ------------------------------------------------------------------ class 8: a plain install works

EXTRA_MODULES = ("sqlalchemy", "alembic", "psycopg", "psycopg_binary", "dask_jobqueue")
# The package as a plain `pip install .` leaves it: none of the extras' modules can be imported.
PLAIN_INSTALL = ("import sys\nfor name in {modules!r}: sys.modules[name] = None\n"
                 "from dask_timing.cli import main\nsys.exit(main(sys.argv[1:]))\n").format(modules=EXTRA_MODULES)


def plain(*args: str, cwd: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", PLAIN_INSTALL, *args], capture_output=True, text=True, cwd=cwd,
                          timeout=120, stdin=subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": REPOSITORY})


@pytest.mark.parametrize("args", [["study", "--help"], ["history", "--help"], ["analyze", "--help"],
                                  ["local", "--help"], ["processes", "--help"], ["schedulers", "--help"]])
def test_every_command_helps_without_the_extras(tmp_path, args):
    completed = plain(*args, cwd=str(tmp_path))
    assert completed.returncode == 0, completed.stderr
    assert completed.stderr == ""


@pytest.mark.parametrize("args, extra", [
    (["history", "show", "--db", "postgresql://someone@127.0.0.1:9/history"], "history"),
    (["history", "import", "--db", "x.db", "results"], "history"),
    (["analyze", "--db", "postgresql://someone@127.0.0.1:9/history"], "history"),
    (["study", "--type", "local", "--db", "x.db", "--output-dir", "out"], "history"),
    (["local", "-w", "1", "--db", "x.db", "--output", "r.json"], "history"),
    (["processes", "--cluster-class", "dask_jobqueue:SLURMCluster", "--cluster-kwargs", '{"cores": 1, "memory": "1GB"}'],
     "jobqueue"),
])
def test_a_command_that_needs_an_extra_names_it_in_one_line(tmp_path, args, extra):
    write_history_results(tmp_path / "results", [synthetic()])
    completed = plain(*args, cwd=str(tmp_path))
    assert completed.returncode == 2, completed.stderr
    assert len(completed.stderr.splitlines()) == 1 and "Traceback" not in completed.stderr, completed.stderr
    assert f"pip install 'dask-timing[{extra}]'" in completed.stderr
    assert "install dask-timing (pip install .)" not in completed.stderr  # never what the user has just done
    assert not (tmp_path / "out").exists() and not (tmp_path / "x.db").exists()


def test_a_sqlite_history_is_read_without_the_extras(tmp_path):
    """Reading a SQLite file up to date is plain SQL through Python's sqlite3: showing, publishing and analysing
    it load none of SQLAlchemy, Alembic or psycopg (SQLAlchemy's import alone would be most of a summary's time)."""
    for offset, version in enumerate(("2026.1.0", "2026.2.0")):
        write_history_results(tmp_path / "results" / version,
                              [synthetic(version, rng=random.Random(10 * offset + index)) for index in range(4)])
    db = str(tmp_path / "h.db")
    imported = run_tool(["-m", "dask_timing", "history", "import", "--db", db, str(tmp_path / "results" / "*" / "*.json")],
                        cwd=REPOSITORY)
    assert imported.returncode == 0, imported.stderr
    shown = plain("history", "show", "--db", db, "--since", "2000-01-01", "--metric", "total_time",
                  cwd=str(tmp_path))
    assert shown.returncode == 0 and shown.stderr == "", shown.stderr
    assert "local, workers=2, processes=on, threads=1 on machine-a, Python 3.11.7: 8 run(s), 2 point(s)" in shown.stdout
    assert shown.stdout.count("total_time median") == 2 and "distributed 2026.2.0: total_time median" in shown.stdout
    published = plain("history", "publish", "--db", db, str(tmp_path / "site"), cwd=str(tmp_path))
    assert published.returncode == 0, published.stderr
    assert (tmp_path / "site" / "index.html").exists()
    analysed = plain("analyze", "--db", db, "--kind", "local", cwd=str(tmp_path))
    assert analysed.returncode == 0, analysed.stderr
    assert "Loaded 8 result file(s)" in analysed.stdout and analysed.stdout.count("Number of runs: 4") == 2


def test_the_analyzer_reads_files_without_the_extras(tmp_path):
    write_history_results(tmp_path / "results", [synthetic(rng=random.Random(seed)) for seed in range(3)])
    completed = plain("analyze", str(tmp_path / "results"), "--csv", str(tmp_path / "out.csv"), cwd=str(tmp_path))
    assert completed.returncode == 0, completed.stderr
    assert "Loaded 3 result file(s)" in completed.stdout and (tmp_path / "out.csv").exists()


# ------------------------------------------------------------------ class 5: bad combinations, one line, exit 2

@pytest.mark.parametrize("args, said", [
    (["--scheduler-address", "tls://127.0.0.1:8786", "--tls-ca-file", "{ca}"], "--tls-cert and --tls-key"),
    (["--scheduler-address", "tls://127.0.0.1:8786"], "needs --tls-ca-file"),
    (["--scheduler-address", "tls://127.0.0.1:8786", "--tls-ca-file", "{ca}", "--tls-cert", "{ca}"],
     "go together"),
    (["--scheduler-address", "tcp://127.0.0.1:8786", "--tls-ca-file", "{ca}"], "tls://"),
])
def test_tls_options_that_cannot_connect_are_one_line_before_any_work(tmp_path, args, said):
    (tmp_path / "ca.pem").write_text("not used: refused before it is read\n")
    args = [arg.format(ca=tmp_path / "ca.pem") for arg in args]
    completed = run_tool([os.path.join(REPOSITORY, "time_scheduler_workers.py"), *args, "-o", str(tmp_path / "r.json")])
    assert completed.returncode == 2, completed.stderr
    assert len(completed.stderr.splitlines()) == 1 and said in completed.stderr
    assert not (tmp_path / "r.json").exists()


@pytest.mark.parametrize("baseline", ["nothing-*.json", "{empty}", "{bad}"])
def test_a_baseline_with_nothing_usable_is_one_error_not_a_warning_too(tmp_path, baseline):
    write_history_results(tmp_path / "results", [synthetic(rng=random.Random(seed)) for seed in range(3)])
    (tmp_path / "empty").mkdir()
    (tmp_path / "bad.json").write_text("{not json")
    pattern = baseline.format(empty=tmp_path / "empty", bad=tmp_path / "bad.json")
    completed = run_tool([ANALYZER, str(tmp_path / "results"), "--baseline", pattern])
    assert completed.returncode == 2
    assert len(completed.stderr.splitlines()) == 1 and "error:" in completed.stderr, completed.stderr


# ------------------------------------------------------------------ class 7: a signal reaches everything started

def test_a_killed_tree_leaves_no_process_even_one_in_a_session_of_its_own(tmp_path):
    """What pip does (it runs itself again under the new environment's interpreter), and worse (a grandchild
    in a session of its own): a timeout ends every one of them before the caller goes on."""
    import psutil

    from dask_timing.deploy.process_tree import run_tree

    script = ("import subprocess, sys, time\n"
              "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'], start_new_session=True)\n"
              "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
              f"open({str(tmp_path / 'started')!r}, 'w').close()\n"
              "time.sleep(60)\n")
    before = {child.pid for child in psutil.Process().children(recursive=True)}
    with pytest.raises(subprocess.TimeoutExpired):
        run_tree([sys.executable, "-c", script], timeout=3)
    assert (tmp_path / "started").exists()
    left = [child for child in psutil.Process().children(recursive=True)
            if child.pid not in before and child.status() != psutil.STATUS_ZOMBIE]
    assert left == []


@pytest.mark.slow
@pytest.mark.timeout(400)
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_to_the_study_alone_stops_an_environment_build_whole(tmp_path, signum):
    """A signal to the study's process only (as a job runner sends it) while pip builds an environment: within
    5 s pip and the copy of itself it runs under the new interpreter are gone, and no environment is left."""
    import psutil

    if not pypi_has(OTHER_RELEASE):
        pytest.skip(f"the package index has no distributed {OTHER_RELEASE} here")
    environment = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache"), "PIP_NO_CACHE_DIR": "1"}
    study = subprocess.Popen([os.path.join(REPOSITORY, "run_timing_study.sh"), "--dask-versions", OTHER_RELEASE,
                              "--workers", "1", "--runs", "1", "-o", str(tmp_path / "out")],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment)
    try:
        assert "Building the environment" in study.stdout.readline()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # until pip runs again under the environment's interpreter
            folder = next((tmp_path / "cache" / "dask-timing" / "envs").glob(f"*/{OTHER_RELEASE}"), None)
            commands = []
            for member in psutil.Process(study.pid).children(recursive=True):
                with contextlib.suppress(psutil.NoSuchProcess):
                    commands.append(" ".join(member.cmdline()))
            if folder is not None and any(command.startswith(str(folder)) for command in commands):
                break
            time.sleep(0.2)
        else:
            pytest.fail("pip never ran under the new environment's interpreter")
        study_process = psutil.Process(study.pid)
        family = [study_process, *study_process.children(recursive=True)]
        os.kill(study.pid, signum)  # the wrapper runs the study in its own process (exec)
        gone, alive = psutil.wait_procs(family[1:], timeout=5)
        assert alive == [], [member.cmdline() for member in alive]
        study.wait(timeout=30)
        time.sleep(2)  # nothing writes the folder again after it was removed
        assert not folder.exists()
        assert study.returncode == 128 + signum
    finally:
        if study.poll() is None:
            study.kill()
        study.stdout.close()
        study.stderr.close()


@pytest.mark.parametrize("args, said", [
    (["--memory-interval", "0.5"], "add --memory-sample"),
    (["--force"], "add the file it is for"),
    (["--label", "nightly"], "add --output FILE"),
    (["--revision", "abc"], "add --output FILE"),
    (["--task-stream", "{tmp}/ts.json"], "add --probes"),
])
@pytest.mark.parametrize("tool", ["time_local_cluster.py", "time_scheduler_workers.py"])
def test_an_option_without_the_one_it_works_with_is_refused_not_ignored(tmp_path, tool, args, said):
    completed = run_tool([os.path.join(REPOSITORY, tool), "-w", "1", *[arg.format(tmp=tmp_path) for arg in args]])
    assert completed.returncode == 2, completed.stdout[-500:] + completed.stderr
    assert len(completed.stderr.splitlines()) == 1 and said in completed.stderr
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("content, said", [
    ('{"address": "' + "x" * (2 << 20) + '"}', "larger than"),
    ("[" * 100_000, "nested deeper than"),
    ('{"address": "tcp://127.0.0.1:1", "\udcff": 1}', "not UTF-8"),
], ids=["huge", "deep", "not_utf8"])
def test_a_scheduler_file_beyond_the_bounds_is_one_line_and_exit_2(tmp_path, content, said):
    (tmp_path / "scheduler.json").write_bytes(content.encode("utf-8", "surrogateescape"))
    completed = run_tool([os.path.join(REPOSITORY, "time_scheduler_workers.py"), "--scheduler-file",
                          str(tmp_path / "scheduler.json")])
    assert completed.returncode == 2 and len(completed.stderr.splitlines()) == 1, completed.stderr
    assert said in completed.stderr
