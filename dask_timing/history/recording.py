"""Recording result files as the tools write them: the file first, the database second.

A database that fails while a study or a run goes on is told in one line and
the run's file stays: it can be imported later (``dask-timing history import``).
"""

from __future__ import annotations

import shlex
import sys

from dask_timing.entry import COMMAND_HISTORY, PROGRAM
from dask_timing.history.connection import Database, HistoryDatabaseError, open_database, shown
from dask_timing.history.store import record
from dask_timing.record.load import ResultFileError, load_result

IMPORT_COMMAND = f"{PROGRAM} {COMMAND_HISTORY} import"


class Recorder:
    """Records each written result file in one database; a failure is told, never fatal."""

    def __init__(self, database: Database, db: str, prog: str) -> None:
        self.database = database
        self.db = db  # as given (its password masked when shown), for the import command a failure suggests
        self.prog = prog
        self.failed: list[str] = []

    @classmethod
    def opened(cls, db: str, prog: str) -> "Recorder":
        """Open (and check) the database before anything runs: a bad one is a UsageError, exit 2."""
        return cls(open_database(db), db, prog)

    def record_file(self, path: str) -> bool:
        """Record the result in ``path``; False (and one line on stderr) if the database refused it."""
        try:
            [*refused] = record(self.database, [(path, load_result(path))]).skipped
        except (HistoryDatabaseError, ResultFileError) as error:
            refused = [(path, str(error))]
        if not refused:
            return True
        self.failed.append(path)
        print(f"{self.prog}: warning: {path} not recorded in the database ({refused[0][1]}); the file is kept: "
              f"{IMPORT_COMMAND} --db {shlex.quote(shown(self.db))} {shlex.quote(path)}", file=sys.stderr, flush=True)
        return False

    def close(self) -> None:
        """Close; a database file this command created and nothing was recorded in is removed again."""
        self.database.discard_if_unused()
