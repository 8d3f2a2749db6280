"""CSV for spreadsheets and pandas: tidy, one row per configuration and metric.

Columns, in order:

* ``label``: the configuration's name, as the text report prints it;
* ``kind``, ``n_workers``, ``threads_per_worker``, then every other
  configuration setting found in any configuration, in name order (blank
  where a configuration has no such setting; nested settings as JSON; a
  setting named like another column gets the prefix ``config_``);
* ``environment``, ``python_version``, ``dask``, ``distributed``,
  ``python_executable``: the environment that ran the configuration (its
  name in an interleaved study of environments, blank otherwise; the
  versions; the interpreter), part of the configuration as for the text;
* ``metric`` (``total_time``, ``first_task_time``, ..., and the worker
  phases ``worker_imports_time``, ..., ``worker_registered_time`` pooled over
  workers and runs) and ``unit`` (``seconds``);
* ``n``, ``mean``, ``stddev``, ``median``, ``mad``, ``min``, ``max``, ``p5``,
  ``p95``: over the successful runs (``stddev`` blank for a single run);
* ``n_failed`` and ``first_error``: the configuration's failed runs and the
  first line of the earliest one's error (blank when none failed);
* ``rank``, ``relative``, ``relative_low``, ``relative_high``: the ranking
  (``analysis.ranking``), on ``total_time`` rows only: rank by median total
  time, ratio of medians to the fastest and its 95 % bootstrap interval
  (blank for the fastest, the reference).

Every configuration has a ``total_time`` row, even one whose runs all failed
(``n`` 0, statistics blank): failures are results.

Text read from files is data in every cell: control characters are shown escaped (``\\x1b``), and a
text cell that a spreadsheet would run as a formula (first character ``=``, ``+``, ``-``, ``@``, tab or
carriage return, as OWASP lists them) starts with a ``'``, as does one that started with ``'`` itself;
numbers stay numbers.  The raw text is the cell with one leading ``'`` taken off
(docs/promises-newer-commands.md shows it for pandas).
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from dask_timing.analysis.computed import WorkerPhases
from dask_timing.analysis.groups import LABEL_KEYS
from dask_timing.analysis.ranking import Standing
from dask_timing.record.statistics import Summary
from dask_timing.phases import TOTAL_KEY
from dask_timing.present.exports.base import Analysis, Exporter
from dask_timing.record.text import printable

LEADING = ("label", "kind")
ENVIRONMENT = ("environment", "python_version", "dask", "distributed", "python_executable")
STATISTICS = tuple(Summary.__struct_fields__)  # n, mean, stddev, median, mad, min, max, p5, p95
TRAILING = ("metric", "unit", *STATISTICS, "n_failed", "first_error", "rank", "relative", "relative_low",
            "relative_high")
UNIT = "seconds"


def _setting_columns(ranking: list[Standing]) -> dict[str, str]:
    """Configuration setting -> its column: workers and threads first, then the rest by name."""
    found = {key for standing in ranking for key in standing.group.config}
    keys = [*LABEL_KEYS, *sorted(found - set(LABEL_KEYS))]
    taken = set(LEADING) | set(ENVIRONMENT) | set(TRAILING)
    return {key: f"config_{key}" if key in taken else key for key in keys}


def _cell(value: Any) -> Any:
    """A setting as one cell: numbers, text and booleans as they are, nested values as JSON."""
    return json.dumps(value, sort_keys=True) if isinstance(value, (dict, list)) else value


def _rows(standing: Standing, columns: dict[str, str], worker_phases: WorkerPhases | None) -> list[dict[str, Any]]:
    group = standing.group
    shared = {"label": group.label, "kind": group.kind, "unit": UNIT, "n_failed": standing.n_failed,
              "first_error": standing.first_error}
    shared.update({column: _cell(group.config.get(key)) for key, column in columns.items()})
    environment = group.environment
    shared.update(environment=environment.name, python_version=environment.python_version,
                  dask=environment.packages.dask, distributed=environment.packages.distributed,
                  python_executable=environment.python_executable)
    summaries = dict(group.summaries())
    if worker_phases is not None:
        summaries.update(worker_phases.metric_summaries)
    rows = []
    for metric, summary in summaries.items():
        rows.append({**shared, "metric": metric, **summary.to_json()})
    if TOTAL_KEY not in summaries:  # never reached ready: the failures still make a row
        rows.append({**shared, "metric": TOTAL_KEY, "n": 0})
    for row in rows:
        if row["metric"] == TOTAL_KEY:
            row.update(rank=standing.rank, relative=standing.relative, relative_low=standing.relative_low,
                       relative_high=standing.relative_high)
    return rows


def render(analysis: Analysis) -> str:
    """The tidy table, every configuration in ranking order."""
    columns = _setting_columns(analysis.ranking)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    fields = [*LEADING, *columns.values(), *ENVIRONMENT, *TRAILING]
    writer.writerow([spreadsheet_cell(field) for field in fields])  # a setting's name is text from a file too
    worker_phases = {id(phases.group): phases for phases in analysis.worker_phases}
    for standing in analysis.ranking:
        rows = _rows(standing, columns, worker_phases.get(id(standing.group)))
        # the csv module writes None as a blank cell
        writer.writerows([spreadsheet_cell(row.get(field)) for field in fields] for row in rows)
    return buffer.getvalue()


# What a spreadsheet runs as a formula when a cell starts with it (OWASP's CSV injection list), and the quote
# that marks a cell so prefixed (itself prefixed when a cell starts with it: one quote off gives the raw text).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "'")
TEXT_MARK = "'"


def spreadsheet_cell(value: Any) -> Any:
    """A cell no spreadsheet runs: text with its control characters escaped, and a quote before text that
    starts like a formula (OWASP); numbers (negative ones too) stay numbers, as does text that is one."""
    if not isinstance(value, str):
        return value
    text = printable(value)
    if value.startswith(FORMULA_STARTS) and not _is_number(text):
        return TEXT_MARK + text
    return text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


EXPORTER = Exporter(
    option="csv", saved_as="CSV", render=render,
    help="save every statistic of every metric as a tidy CSV: one row per configuration and metric, "
         "a column per configuration setting and for the environment, the failures and the ranking",
)
