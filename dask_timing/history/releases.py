"""One analysis's runs as histories from release to release: what the database's history (``history.series``)
is by version, taken from the groups of one analysis, on files or a database alike (the HTML report's history
section)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from dask_timing.analysis.groups import Group, settings_key, total_times
from dask_timing.phases import TOTAL_KEY
from dask_timing.record.releases import environment_key

if TYPE_CHECKING:
    from dask_timing.history.series import MetricHistory


def release_histories(groups: Sequence[Group]) -> list[tuple[str, MetricHistory]]:
    """The total time's history of each configuration the groups hold at two releases or more, in release
    order, with its steps: (the configuration's name, its history)."""
    # Imported here: the analyzer imports this module for every analysis, and only a report that shows the
    # histories needs the history's steps and SQLAlchemy.
    from dask_timing.history.series import metric_history, settings_name, version_label
    from dask_timing.history.steps import Point

    families: dict[tuple, list[Group]] = {}
    for group in groups:
        if total_times(group):
            families.setdefault(settings_key(group.runs[0]), []).append(group)
    found = []
    for family in families.values():
        packages = {id(group): group.environment.packages for group in family}
        labelled = [(version_label(packages[id(group)].dask, packages[id(group)].distributed), group)
                    for group in family]
        labelled = [(label, group) for label, group in labelled if label is not None]
        if len({label for label, _group in labelled}) < 2 or len(labelled) != len(family):
            continue  # not a history of releases: one release, or the same release in two environments
        labelled.sort(key=lambda item: environment_key(item[1].environment))
        points = [Point(label, tuple(total_times(group))) for label, group in labelled]
        found.append((settings_name(family[0].kind, family[0].config), metric_history(TOTAL_KEY, points)))
    return found
