"""Runs and their metric values.

Revision ID: 0001
Revises:
Create Date: 2026-11-25

The tables are written out here as they were at this revision, not imported
from ``history/tables.py``: a migration is a fixed step, and the current
tables will change while this step must keep creating what it created.
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

JSON = sa.JSON(none_as_null=True)


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("run_id", sa.String(64), nullable=False, unique=True),
        sa.Column("study_id", sa.String(64)),
        sa.Column("label", sa.String(200)),
        sa.Column("revision", sa.String(200)),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("config_hash", sa.String(16), nullable=False),
        sa.Column("config", sa.Text, nullable=False),
        sa.Column("options", JSON),
        sa.Column("warmup", sa.Boolean, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("timestamp", sa.String(64), nullable=False),
        sa.Column("measured_at", sa.DateTime),
        sa.Column("total_time", sa.Float),
        sa.Column("host", sa.String(255)),
        sa.Column("python_version", sa.String(32)),
        sa.Column("dask_version", sa.String(64)),
        sa.Column("distributed_version", sa.String(64)),
        sa.Column("start_method", sa.String(32)),
        sa.Column("cpu_count", sa.Integer),
        sa.Column("schema_version", sa.Integer, nullable=False),
        sa.Column("environment", JSON),
        sa.Column("arrivals", JSON),
        sa.Column("probes", JSON),
        sa.Column("workers", JSON),
        sa.Column("details", JSON),
    )
    op.create_index("ix_runs_history", "runs", ["config_hash", "host", "measured_at"])
    op.create_index("ix_runs_study", "runs", ["study_id"])
    op.create_table(
        "metrics",
        sa.Column("run", sa.Integer, sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("section", sa.String(16), primary_key=True),
        sa.Column("metric", sa.String(128), primary_key=True),
        sa.Column("seconds", sa.Float, nullable=False),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    op.drop_table("metrics")
    op.drop_table("runs")
