"""One history summarised: its points, the steps of each metric, the context it ran in, the verdict on its newest point.

What ``history show`` prints and ``history publish`` renders, computed once, here.
"""

from __future__ import annotations

from typing import Mapping

import msgspec

from dask_timing.phases import TOTAL_KEY
from dask_timing.history.connection import Database
from dask_timing.history.series import HistoryKey, History, MetricHistory, load_history, settings_name, summarise
from dask_timing.history.steps import EmptyHistory, Point, StepVerdict, judge_newest
from dask_timing.history.reading import RunFilter


class Overview(msgspec.Struct):
    """A configuration's history on one machine under one Python, summarised and judged."""

    key: HistoryKey
    history: History
    metrics: list[MetricHistory]  # every metric asked for, with its steps
    verdict: StepVerdict | None = None  # on the newest point of the total time, when judged
    nothing: str | None = None  # why there is no verdict: no point to judge

    @property
    def name(self) -> str:
        """The configuration, the machine it ran on and its Python: ``local, workers=2 on ci-1, Python 3.12.1``."""
        return (f"{settings_name(self.key.kind, self.key.config)} on {self.key.host or 'an unknown machine'}"
                + (f", Python {self.key.python_version}" if self.key.python_version else ""))

    @property
    def points(self) -> list[Point]:
        """The points of the judged metric, the total time, in order."""
        return self.history.points.get(TOTAL_KEY, [])


def overview(database: Database, key: HistoryKey, filters: RunFilter, order: str,
             commits: Mapping[str, int] | None = None, metrics: list[str] | None = None,
             fail_percent: float | None = None) -> Overview:
    """The history of ``key`` in ``order`` (``commits``: a checkout's order of revisions), summarised for
    ``metrics`` (None: every metric), its newest total time judged against ``fail_percent`` when given."""
    # its configuration is the key's (which the filters chose), its Python one
    one_python = msgspec.structs.replace(filters, config=None, python_version=key.python_version)
    history = load_history(database, key.config_hash, key.host, order, one_python, commits)
    found = Overview(key, history, [metric for metric in summarise(history) if metrics is None or
                                    metric.metric in metrics])
    if fail_percent is not None:
        try:
            found.verdict = judge_newest(found.points, fail_percent, TOTAL_KEY)
        except EmptyHistory as nothing:
            found.nothing = str(nothing)
    return found
