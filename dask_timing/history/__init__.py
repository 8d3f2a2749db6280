"""The results database: every run recorded, one history per configuration and machine.

The JSON result files stay the record of truth a person can read; the database
holds what they hold (and values re-derived from them, for queries), so any
database can be rebuilt by importing the files again.

- ``connection``: which database (``--db``, ``DASK_TIMING_DB``, or a file beside
  the results), opening it, its schema brought up to date by Alembic migrations,
  and reading it in plain SQL.
- ``tables``: the tables (SQLAlchemy Core).
- ``store``: recording and importing runs.
- ``reading``: the filters of stored runs, and reading runs back for the analyzer.
- ``series``: one configuration's history on one machine, metric by metric.
- ``steps``: step detection on a history, and the CI verdict on its newest point.
"""

# What a history is ordered by (``series``); here so the command line offers them without loading the database.
ORDERS = ("version", "revision", "label", "time")
# The longest label and revision a run is recorded with (``tables``); here so the command line refuses a longer
# one before anything runs, without loading the database.
RECORDED_TEXT_LENGTH = 200
