"""The database's tables: one row per run, one row per metric value of a run.

What the analyzer and the history read is in plain columns (indexed for "one
configuration's history on one machine"); the rest of a result is kept as
JSON, so every run can be read back whole.  Columns marked *derived* are
computed from the result when it is stored: nothing here is not in the file.

The schema is created and changed only by the migrations in ``migrations/``
(a test checks that they build exactly these tables).
"""

from __future__ import annotations

import sqlalchemy as sa

from dask_timing.history import RECORDED_TEXT_LENGTH

metadata = sa.MetaData()

# JSON kept as it came; SQL NULL (not JSON null) when a result has no value.
Json = sa.JSON(none_as_null=True)

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("run_id", sa.String(64), nullable=False, unique=True),  # a result without one: its content's hash
    sa.Column("study_id", sa.String(64)),
    sa.Column("label", sa.String(RECORDED_TEXT_LENGTH)),
    sa.Column("revision", sa.String(RECORDED_TEXT_LENGTH)),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("config_hash", sa.String(16), nullable=False),  # derived: kind + canonical configuration
    sa.Column("config", sa.Text, nullable=False),  # canonical JSON: keys sorted at every level
    sa.Column("options", Json),
    sa.Column("warmup", sa.Boolean, nullable=False),  # derived: options["warmup"]
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("error", sa.Text),
    sa.Column("timestamp", sa.String(64), nullable=False),  # as the file has it
    sa.Column("measured_at", sa.DateTime),  # derived: the timestamp in UTC, for ordering and ranges
    sa.Column("total_time", sa.Float),
    sa.Column("host", sa.String(255)),  # derived from the environment, as the five below
    sa.Column("python_version", sa.String(32)),
    sa.Column("dask_version", sa.String(64)),
    sa.Column("distributed_version", sa.String(64)),
    sa.Column("start_method", sa.String(32)),
    sa.Column("cpu_count", sa.Integer),
    sa.Column("schema_version", sa.Integer, nullable=False),
    sa.Column("environment", Json),
    sa.Column("arrivals", Json),
    sa.Column("probes", Json),
    sa.Column("workers", Json),  # the worker waterfall, when the run recorded one
    sa.Column("details", Json),  # the rest of the result: command line, measurement, versions...
    sa.Index("ix_runs_history", "config_hash", "host", "measured_at"),
    sa.Index("ix_runs_study", "study_id"),
)

# One row per duration of a run: its phases, total, arrival milestones, work before
# start and after ready, teardown.  ``section`` says which part of the result it came
# from; ``metric`` is the analyzer's name for it (``cluster_init_time``, ``total_time``...).
metrics = sa.Table(
    "metrics",
    metadata,
    sa.Column("run", sa.Integer, sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("section", sa.String(16), primary_key=True),
    sa.Column("metric", sa.String(128), primary_key=True),
    sa.Column("seconds", sa.Float, nullable=False),
    sqlite_with_rowid=False,  # stored in primary-key order: a run's values side by side
)
