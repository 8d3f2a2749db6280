"""Which database, and opening it: the one place for the connection.

Which database wins, first to last: the ``--db`` value, the ``DASK_TIMING_DB``
environment variable, a ``dask-timing.db`` file beside the results.  A value
is a SQLAlchemy URL (``sqlite:///FILE``, ``postgresql://USER:PASSWORD@HOST/DB``)
or a plain path, which names a SQLite file.

SQLite is reached through Python's own ``sqlite3`` driver, PostgreSQL through
psycopg 3.  Every read is plain SQL (``Reader``): on SQLite it goes straight to
the driver, so a command that only reads a SQLite file never loads SQLAlchemy,
whose import alone is most of what a history's summary costs; writes, the
schema and PostgreSQL go through SQLAlchemy.  Opening a database brings its
schema up to date with the package's Alembic migrations; a database whose
schema is newer than this package knows is refused, never downgraded.  Every failure is a ``HistoryDatabaseError`` whose
message is one line (the password of a URL never shown).
"""

from __future__ import annotations

import contextlib
import functools
import glob
import os
import random
import re
import sqlite3
import sys
import time
import urllib.parse
from datetime import datetime
from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping, TypeVar

from dask_timing.errors import UsageError

if TYPE_CHECKING:
    import sqlalchemy as sa

DB_ENVIRONMENT = "DASK_TIMING_DB"
DEFAULT_DB_FILE = "dask-timing.db"
# Seconds a SQLite statement waits for another process's lock; a writer waits in turns of
# WRITE_LOCK_TURN seconds, saying so after the first, and gives up after WRITE_LOCK_PATIENCE.
SQLITE_BUSY_TIMEOUT = 60.0
WRITE_LOCK_TURN = 5.0
WRITE_LOCK_PATIENCE = 360.0
CONNECT_TIMEOUT = 10  # seconds to reach a PostgreSQL server
ALEMBIC_TABLE = "alembic_version"  # where alembic records the schema's revision
MIGRATIONS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "migrations")
# Execution option of a connection that will write: SQLite takes the write lock when its
# transaction begins (BEGIN IMMEDIATE), so writers queue instead of failing midway.
WRITE = "dask_timing_write"
# Any number, the same in every process: PostgreSQL's lock around a migration.
MIGRATION_LOCK = 7_311_942
RUNS_TABLE = "runs"  # the table every revision of the schema has

T = TypeVar("T")


class HistoryDatabaseError(UsageError):
    """The results database cannot be used; the message is one line saying why."""


class UnknownDatabase(HistoryDatabaseError):
    """A URL that names no database this package can use."""


class UnreachableDatabase(HistoryDatabaseError):
    """A database that cannot be reached or opened (server down, wrong password, no folder)."""


class CorruptDatabase(HistoryDatabaseError):
    """A SQLite file that is not a database, or a damaged one."""


class NewerSchema(HistoryDatabaseError):
    """A database written by a newer dask-timing: refused, never downgraded."""


def database_url(db: str | None, results_folder: str | None = None) -> str:
    """The database to use: ``db`` (--db), else $DASK_TIMING_DB, else dask-timing.db beside the results."""
    chosen = db or os.environ.get(DB_ENVIRONMENT) or os.path.join(results_folder or os.curdir, DEFAULT_DB_FILE)
    return _normalised(chosen)


def _normalised(value: str) -> str:
    """A URL for SQLAlchemy: a plain path becomes a SQLite URL, postgresql:// goes through psycopg 3."""
    if "://" not in value:
        return "sqlite:///" + os.path.abspath(value)
    scheme, rest = value.split("://", 1)
    if scheme in ("postgresql", "postgres"):
        return "postgresql+psycopg://" + rest
    return value


def shown(url: sa.URL | str) -> str:
    """A URL as messages show it: the password masked, in its place or as a query's ``password=``."""
    import sqlalchemy as sa
    from sqlalchemy import exc

    from dask_timing.record.secrets import mask_text

    try:
        text = sa.make_url(url).render_as_string(hide_password=True)
    except (exc.ArgumentError, ValueError):  # not a URL, or a port that is not a number
        text = str(url)
    return mask_text(text)


class Reader:
    """One read transaction in plain SQL: ``:name`` parameters, rows as tuples.

    Every read of the package's tables is made through one, so that it is written once
    for both databases; what their SQL says differently is asked of the reader.
    """

    def rows(self, sql: str, parameters: Mapping[str, Any] | None = None, moments: tuple[int, ...] = ()) -> list:
        """The rows of a query; the columns at ``moments`` (indices) as datetimes."""
        found = self._fetch(sql, dict(parameters or {}))
        if not moments:
            return found
        return [tuple(self._moment(value) if index in moments else value for index, value in enumerate(row))
                for row in found]

    def json_number(self, column: str, *path: str) -> str:
        """SQL for the number at ``path`` in a JSON column (NULL where there is none)."""
        raise NotImplementedError

    def moment_parameter(self, moment: datetime) -> Any:
        """A (naive UTC) datetime as a parameter compared with the ``measured_at`` column."""
        raise NotImplementedError

    def has_table(self, name: str) -> bool:
        raise NotImplementedError

    def _fetch(self, sql: str, parameters: dict[str, Any]) -> list:
        raise NotImplementedError

    def _moment(self, value: Any) -> datetime | None:
        raise NotImplementedError


class _SqliteReader(Reader):
    """Reads through Python's sqlite3 itself.  Datetimes are the text SQLAlchemy stores them as
    (``2026-01-31 12:00:00.000000``), which sorts as they do."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.connection = connection

    def _fetch(self, sql: str, parameters: dict[str, Any]) -> list:
        return self.connection.execute(sql, parameters).fetchall()

    def json_number(self, column: str, *path: str) -> str:
        return f"CAST(json_extract({column}, '$.{'.'.join(path)}') AS REAL)"

    def moment_parameter(self, moment: datetime) -> Any:
        return moment.isoformat(" ", "microseconds")

    def has_table(self, name: str) -> bool:
        return bool(self.rows("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = :name", {"name": name}))

    def _moment(self, value: Any) -> datetime | None:
        return None if value is None else datetime.fromisoformat(value)


class _EngineReader(Reader):
    """Reads through a SQLAlchemy connection: PostgreSQL's."""

    def __init__(self, connection: sa.Connection) -> None:
        self.connection = connection

    def _fetch(self, sql: str, parameters: dict[str, Any]) -> list:
        import sqlalchemy as sa

        return self.connection.execute(sa.text(sql), parameters).all()

    def json_number(self, column: str, *path: str) -> str:
        return f"CAST({column} #>> '{{{','.join(path)}}}' AS FLOAT)"

    def moment_parameter(self, moment: datetime) -> Any:
        return moment

    def has_table(self, name: str) -> bool:
        import sqlalchemy as sa

        return sa.inspect(self.connection).has_table(name)

    def _moment(self, value: Any) -> datetime | None:
        return value


def decoded_json(value: str | bytes | object) -> Any:
    """A JSON column's value as read: its text decoded (a driver may have decoded it already)."""
    if isinstance(value, (str, bytes)):
        import msgspec

        return msgspec.json.decode(value)
    return value


def where(conditions: list[str]) -> str:
    """``WHERE a AND b``, or nothing for no condition."""
    return "WHERE " + " AND ".join(conditions) if conditions else ""


class Database:
    """An open results database: how to read it (plain SQL) and write it (SQLAlchemy) safely.

    A SQLite file is read through a connection of its own, opened as the engine's are; its
    engine is made only when something needs SQLAlchemy (a write, a migration).
    """

    def __init__(self, url: str, path: str | None, read_only: bool, engine: sa.Engine | None = None,
                 created: bool = False) -> None:
        self.url = url
        self.path = path  # the SQLite file; None for a server
        self.is_sqlite = path is not None
        self.read_only = read_only
        self.created = created  # a SQLite file this process made: removed again if the command fails
        self._engine = engine
        self._plain: sqlite3.Connection | None = None

    @property
    def name(self) -> str:
        """The database in messages: the SQLite file, or the URL without its password."""
        return self.path if self.path is not None else shown(self.url)

    @property
    def engine(self) -> sa.Engine:
        if self._engine is None:
            self._engine = _sqlite_engine(self.path, self.read_only)
        return self._engine

    @contextlib.contextmanager
    def reading(self, retry_locked: bool = False) -> Iterator[Reader]:
        """One read transaction: what is read in it is one state of the database."""
        with self.translated(retry_locked):
            if not self.is_sqlite:
                with self.engine.connect() as connection:
                    yield _EngineReader(connection)
                return
            if self._plain is None:
                self._plain = _connect_sqlite(self.path, self.read_only)
            self._plain.execute("BEGIN")
            try:
                yield _SqliteReader(self._plain)
            finally:
                if self._plain.in_transaction:
                    self._plain.rollback()

    def read(self, work: Callable[[Reader], T]) -> T:
        """Run ``work`` in one read transaction, again while SQLite finds the file locked: only while another
        process sets a new file up (its switch to WAL takes the whole file; SQLite may say so at once)."""
        def once() -> T:
            with self.reading(retry_locked=True) as reader:
                return work(reader)

        return self._patiently(once, "setting it up")

    def read_schema(self, work: Callable[[sa.Connection], T]) -> T:
        """``read``, on a SQLAlchemy connection: for what Alembic and SQLAlchemy's inspection read."""
        def once() -> T:
            with self.translated(retry_locked=True), self.engine.connect() as connection:
                return work(connection)

        return self._patiently(once, "setting it up")

    def write(self, work: Callable[[sa.Connection], T]) -> T:
        """Run ``work`` in one write transaction, again while SQLite finds the file locked by another process.

        A wait longer than one turn is said on stderr once (a silent wait of minutes looks
        like a hang); after WRITE_LOCK_PATIENCE the write is given up, nothing written.
        """
        return self._patiently(lambda: self._write_once(work, retry_locked=True), "writing to it")

    def _patiently(self, attempt: Callable[[], T], doing: str) -> T:
        deadline = time.monotonic() + WRITE_LOCK_PATIENCE
        told = False
        while True:
            try:
                return attempt()
            except _Locked:
                if time.monotonic() >= deadline:
                    raise HistoryDatabaseError(f"the database {self.name} stayed locked by another process for "
                                               f"{WRITE_LOCK_PATIENCE:.0f} s; nothing was written") from None
                if not told:
                    print(f"waiting for the database {self.name}: another process is {doing} (up to "
                          f"{WRITE_LOCK_PATIENCE:.0f} s)", file=sys.stderr, flush=True)
                    told = True
                time.sleep(random.uniform(0.05, 0.5))

    def _write_once(self, work: Callable[[sa.Connection], T], retry_locked: bool) -> T:
        with self.translated(retry_locked), self.engine.connect().execution_options(**{WRITE: True}) as connection:
            with connection.begin():
                return work(connection)

    @contextlib.contextmanager
    def translated(self, retry_locked: bool = False) -> Iterator[None]:
        """Turn a driver's error, or SQLAlchemy's wrapping of one, into a HistoryDatabaseError of one line."""
        try:
            yield
        except sqlite3.Error as error:
            raise self._explained(error, isinstance(error, sqlite3.OperationalError), retry_locked) from error
        except _sqlalchemy_errors("DBAPIError") as error:
            raise self._explained(error.orig, isinstance(error, _sqlalchemy_errors("OperationalError")),
                                  retry_locked) from error

    def _explained(self, error: BaseException, operational: bool, retry_locked: bool) -> Exception:
        reason = _first_line(error)
        if retry_locked and self.is_sqlite and "locked" in reason:
            return _Locked()
        if self.is_sqlite and "unable to open" in reason:
            folder = os.path.dirname(self.name) or os.curdir
            why = ("it is a folder" if os.path.isdir(self.name) else
                   "its folder does not exist" if not os.path.isdir(folder) else reason)
            return UnreachableDatabase(f"cannot open the SQLite database {self.name}: {why}")
        if self.is_sqlite and ("not a database" in reason or "malformed" in reason):
            return CorruptDatabase(f"{self.name} is not a usable SQLite database ({reason})")
        if not self.is_sqlite and operational:
            return UnreachableDatabase(f"cannot reach the database {self.name}: {reason}")
        return HistoryDatabaseError(f"the database {self.name} refused a request: {reason}")

    def close(self) -> None:
        if self._plain is not None:
            self._plain.close()
            self._plain = None
        if self._engine is not None:
            self._engine.dispose()

    def discard_if_unused(self) -> None:
        """Close; a SQLite file this process created is removed again while it holds no run (what a refused
        or failed command made is not left behind; a file another process has meanwhile stored runs in stays)."""
        try:
            unused = self.created and not self.read(lambda reader: reader.rows(f"SELECT 1 FROM {RUNS_TABLE} LIMIT 1"))
        except (HistoryDatabaseError, *_sqlalchemy_errors("SQLAlchemyError")):
            unused = self.created  # not even set up
        self.close()
        if unused:
            for suffix in ("", "-wal", "-shm", "-journal"):
                with contextlib.suppress(FileNotFoundError):
                    os.remove(self.name + suffix)


def _sqlalchemy_errors(*names: str) -> tuple[type[BaseException], ...]:
    """SQLAlchemy's error classes of these names, once it is loaded (before, none of them can be raised)."""
    errors = sys.modules.get("sqlalchemy.exc")
    return tuple(getattr(errors, name) for name in names) if errors is not None else ()


class _Locked(Exception):
    """SQLite's file was still locked by another writer after the busy timeout: try again."""


def _first_line(error: BaseException | None) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def open_database(db: str | None = None, results_folder: str | None = None, read_only: bool = False) -> Database:
    """Open the database (see ``database_url``), its schema brought up to date.

    ``read_only``: only read (the analyzer's --db, history show): a SQLite file is opened read-only, so a
    read-only file in a read-only folder is read, and nothing is migrated; a file that is not there is
    refused, never created.  Whether a database is dask-timing's is checked before anything is written to it:
    another program's file is refused unchanged (a SQLite file is switched to WAL only once it holds our
    schema).  Raises UnknownDatabase, UnreachableDatabase, CorruptDatabase or NewerSchema.
    """
    url = database_url(db, results_folder)
    path, engine = _plain_sqlite_path(url), None
    if path is None:
        engine = _engine(url, read_only)
        path = engine.url.database if engine.dialect.name == "sqlite" else None
    created = path is not None and not os.path.exists(path)
    if created and read_only:
        if engine is not None:
            engine.dispose()
        raise UnreachableDatabase(f"no database {path} (record runs with --db, or import them: dask-timing "
                                  "history import)")
    database = Database(url, path, read_only, engine, created)
    try:
        # the everyday case: up to date, told in plain SQL, nothing to lock, nothing written
        current = database.read(_holds_shipped_schema) or database.read_schema(
            lambda connection: _schema_is_current(connection, database.name))
        if not current and read_only:
            database.read_schema(lambda connection: _refuse_to_read(connection, database.name))
        if not current:
            database.write(lambda connection: _migrate(connection, database.name))
        if database.is_sqlite and not read_only:
            database.read_schema(_use_wal)
    except BaseException:
        database.discard_if_unused()
        raise
    return database


@contextlib.contextmanager
def opened(db: str | None = None, results_folder: str | None = None, read_only: bool = False) -> Iterator[Database]:
    """``open_database`` for the length of a command: closed at its end; a SQLite file the command created is
    removed again if the command fails or is stopped while the file holds no run."""
    database = open_database(db, results_folder, read_only)
    try:
        yield database
    except BaseException:
        database.discard_if_unused()
        raise
    database.close()


def _refuse_to_read(connection: sa.Connection, name: str) -> None:
    """Why a database opened only to read cannot be read as it is (it is not migrated: that would write)."""
    from alembic.runtime.migration import MigrationContext

    if MigrationContext.configure(connection).get_current_revision() is not None:
        raise HistoryDatabaseError(f"the database {name} has an older schema: bring it up to date with a command "
                                   "that writes to it (dask-timing history import)")
    _check_not_anothers(connection, name)
    raise HistoryDatabaseError(f"the database {name} holds no dask-timing runs yet (record runs with --db, or "
                               "import them: dask-timing history import)")


def _use_wal(connection: sa.Connection) -> None:
    """WAL mode (readers never wait for a writer) for a SQLite file known to be ours; set once, kept by the file."""
    if connection.exec_driver_sql("PRAGMA journal_mode").scalar() != "wal":
        connection.exec_driver_sql("COMMIT")  # the journal mode changes outside a transaction
        connection.exec_driver_sql("PRAGMA journal_mode = WAL")
        connection.exec_driver_sql("BEGIN")  # what the connection's end rolls back


def _plain_sqlite_path(url: str) -> str | None:
    """The file of a SQLite URL of the everyday form, ``sqlite:///FILE`` (as a plain path becomes), read as
    SQLAlchemy reads it; None for any other URL, which SQLAlchemy parses and checks."""
    match = re.fullmatch(r"sqlite(?:\+pysqlite)?:///([^?#]+)", url)
    if match is None or urllib.parse.unquote(match[1]) == ":memory:":
        return None
    return os.path.abspath(urllib.parse.unquote(match[1]))


def _engine(url: str, read_only: bool = False) -> sa.Engine:
    import sqlalchemy as sa
    from sqlalchemy import exc

    try:
        parsed = sa.make_url(url)
    except (exc.ArgumentError, ValueError):  # ValueError: a port that is not a number
        raise UnknownDatabase(f"not a database URL or file: {shown(url)}") from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if parsed.get_driver_name() != "pysqlite" or parsed.database in (None, "", ":memory:"):
            raise UnknownDatabase(f"a SQLite database must be a file (sqlite:///FILE), not {shown(parsed)}")
        return _sqlite_engine(parsed.database, read_only)
    if backend == "postgresql":
        if parsed.get_driver_name() != "psycopg":
            raise UnknownDatabase(f"PostgreSQL is reached through psycopg 3: use postgresql://..., not "
                                  f"{shown(parsed)}")
        try:
            return sa.create_engine(parsed, connect_args={"connect_timeout": CONNECT_TIMEOUT}, pool_pre_ping=True,
                                    **_JSON_CODEC)
        except ImportError as error:
            from dask_timing.errors import missing_requirement

            raise HistoryDatabaseError(f"cannot use {shown(parsed)}: {missing_requirement(error)}") from None
    raise UnknownDatabase(f"unknown database {shown(parsed)}: use a SQLite file or a postgresql:// URL")


def _encode_json(value: object) -> str:
    import msgspec

    return msgspec.json.encode(value).decode()


_JSON_CODEC = {"json_serializer": _encode_json, "json_deserializer": decoded_json}


def _connect_sqlite(path: str, read_only: bool) -> sqlite3.Connection:
    """A connection to a SQLite file, as both the plain reads and the engine use it.

    Python's driver starts transactions on its own, and lazily; it is told not to, so
    that each transaction begins where it is asked for (``BEGIN``; a writer's
    ``BEGIN IMMEDIATE``, see ``_sqlite_engine``).  Read-only, nothing is written,
    whatever is asked.
    """
    folder_writable = os.access(os.path.dirname(path), os.W_OK)
    if not read_only or (folder_writable and os.access(path, os.W_OK)):
        # to read only, as SQLite opens a file it may write (the connection is query-only), so that the last
        # reader of a WAL file removes its -wal and -shm files as a writer would
        connection = sqlite3.connect(path, timeout=SQLITE_BUSY_TIMEOUT, check_same_thread=False)
    else:
        # a WAL file whose folder is read-only to us cannot get the shared-memory file a reader needs: nobody
        # who could write it is us, so it is read as a file that does not change
        unchangeable = not folder_writable and not os.path.exists(path + "-shm")
        uri = "file:" + urllib.parse.quote(path) + "?mode=ro" + ("&immutable=1" if unchangeable else "")
        connection = sqlite3.connect(uri, uri=True, timeout=SQLITE_BUSY_TIMEOUT, check_same_thread=False)
    connection.isolation_level = None
    connection.execute(f"PRAGMA busy_timeout = {int(SQLITE_BUSY_TIMEOUT * 1000)}")
    connection.execute("PRAGMA synchronous = NORMAL")  # safe in WAL mode: a crash loses no committed data
    if read_only:
        connection.execute("PRAGMA query_only = ON")
    return connection


def _sqlite_engine(path: str, read_only: bool = False) -> sa.Engine:
    """SQLite through SQLAlchemy, writers queueing on the file's lock: each transaction
    begins plainly for readers, with BEGIN IMMEDIATE for writers, which then wait (up to
    the busy timeout) rather than fail halfway.  Nothing here writes to the file: the WAL
    mode is set once the file is known to be ours (``open_database``).
    """
    import sqlalchemy as sa
    from sqlalchemy import event

    path = os.path.abspath(path)
    engine = sa.create_engine(f"sqlite:///{path}", creator=lambda: _connect_sqlite(path, read_only),
                              **_JSON_CODEC)

    @event.listens_for(engine, "begin")
    def begin(connection: sa.Connection) -> None:
        writes = connection.get_execution_options().get(WRITE)
        busy_timeout = WRITE_LOCK_TURN if writes else SQLITE_BUSY_TIMEOUT  # a writer waits in turns: see write()
        connection.exec_driver_sql(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
        connection.exec_driver_sql("BEGIN IMMEDIATE" if writes else "BEGIN")

    return engine


def _alembic(connection: sa.Connection):
    """Alembic's configuration for this connection, and the package's migration scripts."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", MIGRATIONS)
    config.attributes["connection"] = connection
    return config, ScriptDirectory.from_config(config)


def _holds_shipped_schema(reader: Reader) -> bool:
    """Whether the database records the newest revision of the migrations this package ships, and only it: the
    everyday case, told without loading Alembic and its scripts, or SQLAlchemy."""
    head = _shipped_head()
    if head is None or not reader.has_table(ALEMBIC_TABLE):
        return False
    return [row[0] for row in reader.rows(f"SELECT version_num FROM {ALEMBIC_TABLE}")] == [head]


def _schema_is_current(connection: sa.Connection, name: str) -> bool:
    """Whether the schema is at the newest revision this package ships; NewerSchema if past it."""
    import sqlalchemy as sa
    from alembic.runtime.migration import MigrationContext

    _, scripts = _alembic(connection)
    current = MigrationContext.configure(connection).get_current_revision()
    if current is None:  # whose it is is told under the migration's lock (``_migrate``): another process may be
        return False     # setting it up right now, its tables there before its revision is
    if current not in {script.revision for script in scripts.walk_revisions()}:
        if RUNS_TABLE not in sa.inspect(connection).get_table_names():  # another program's Alembic revision
            raise UnknownDatabase(f"{name} is not a dask-timing database (it holds another program's schema, "
                                  f"revision {current}); give another --db")
        raise NewerSchema(f"the database {name} has schema revision {current}, newer than this dask-timing "
                          f"knows (up to {scripts.get_current_head()}); update dask-timing to use it")
    return current == scripts.get_current_head()


@functools.cache
def _shipped_head() -> str | None:
    """The newest revision of the migration scripts this package ships, read from their ``revision`` and
    ``down_revision`` lines as alembic reads them; None unless they make one line of revisions."""
    revisions, parents = set(), set()
    for path in glob.glob(os.path.join(MIGRATIONS, "versions", "*.py")):
        with open(path, encoding="utf-8") as script:
            text = script.read()
        revision = re.search(r'^revision = "([^"]+)"$', text, re.MULTILINE)
        parent = re.search(r'^down_revision = (?:"([^"]+)"|None)$', text, re.MULTILINE)
        if revision is None or parent is None:
            return None
        revisions.add(revision[1])
        if parent[1]:
            parents.add(parent[1])
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def _check_not_anothers(connection: sa.Connection, name: str) -> None:
    """A database without dask-timing's schema gets its tables only if it holds none of the same names, and a
    SQLite file (one application's file) only if it holds no table at all: another program's data is never
    written into, nor mixed with runs."""
    import sqlalchemy as sa

    from dask_timing.history.tables import metadata

    existing = set(sa.inspect(connection).get_table_names())
    clashing = sorted(existing & set(metadata.tables)) if connection.dialect.name != "sqlite" else sorted(existing)
    if clashing:
        raise UnknownDatabase(f"{name} is not a dask-timing database (it already holds the table(s) "
                              f"{', '.join(clashing)}); give another --db")


def _migrate(connection: sa.Connection, name: str) -> None:
    """Bring the schema to the newest revision, one process at a time (SQLite: BEGIN IMMEDIATE)."""
    import sqlalchemy as sa
    from alembic import command
    from alembic.runtime.migration import MigrationContext

    if connection.dialect.name == "postgresql":
        connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
    if MigrationContext.configure(connection).get_current_revision() is None:  # nobody set it up meanwhile
        _check_not_anothers(connection, name)  # before anything is written to it
    if not _schema_is_current(connection, name):  # another process may have done it meanwhile
        config, _ = _alembic(connection)
        command.upgrade(config, "head")
