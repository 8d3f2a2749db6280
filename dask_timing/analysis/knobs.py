"""What each knob of a sweep costs: its effect on the total time to ready, every other knob held fixed.

A *knob* is whatever takes two values or more across the configurations: the
type, any configuration setting (workers, threads, processes, start method,
dashboard, nanny...), or the environment (interpreter, Python, Dask versions).
Each knob's *reference* is its smallest value (numbers ascending, off before on,
names in alphabetical order, environments by release: ``record.releases``), and
the environment's is the comparison's reference when there is one (the baseline
of ``--baseline``, the reference of ``--baseline-env`` or of a study); each of
its other values is a *change* from it (``workers 1 -> 2``, ``1 -> 4``,
``processes off -> on``).

A change is measured on the *pairs* of configurations that differ in that knob
alone: for each pair, the difference (and the ratio) of the two median total
times.  The effect is the median over the pairs; the smallest and largest
difference of a pair say how much it depends on the other knobs.  Its 95 %
interval is a percentile bootstrap: every configuration's runs are resampled
(the resamples the ranking reads, ``Group.resampled_total_medians``: each
configuration's own fixed seed), and the effect is taken again on each
resample.  With a single run on a side there is no spread to
resample, and no interval.

A setting that only one configuration of a pair records belongs to its type (a
local cluster's ``processes``, a distributed one's ``nanny``) and is not
compared: ``local -> distributed`` pairs the configurations alike in everything
both types record.  A change without a pair (combinations a sweep leaves out
because they cannot differ, or configurations whose runs all failed) has no
effect, and says why.
"""

from __future__ import annotations

import statistics
from typing import Any, Callable

import msgspec

from dask_timing.analysis.groups import LABEL_KEYS, Group, setting_name, show_setting, total_summary, total_times
from dask_timing.analysis.inference import percentile_interval
from dask_timing.analysis.verdicts import Pair
from dask_timing.record.releases import environment_key
from dask_timing.record.schema import RunEnvironment

KIND_KNOB, ENVIRONMENT_KNOB = "type", "environment"
# The knobs of a group other than its settings: what each is called, and its value and how it is shown.
_OTHER_KNOBS: dict[str, Callable[[Group], tuple[Any, str]]] = {
    KIND_KNOB: lambda group: (group.kind, group.kind),
    ENVIRONMENT_KNOB: lambda group: (group.environment.identity(), group.environment_label or "unknown"),
}
NO_PAIR = "no two configurations differ only in this"
SINGLE_RUNS = "no interval: a side has a single run"


class KnobEffect(msgspec.Struct, frozen=True):
    """One change of one knob, from its reference value, and what it does to the total time to ready."""

    knob: str
    reference: str  # the values as labels show them
    value: str
    n_pairs: int = 0  # pairs of configurations differing only in this knob, both with runs that reached ready
    n_failed_pairs: int = 0  # pairs with a side whose runs all failed: left out
    seconds: float | None = None  # median over the pairs of the difference of median total times
    ratio: float | None = None  # median over the pairs of the ratio of median total times
    seconds_interval: tuple[float, float] | None = None  # 95 % bootstrap; None with a single run on a side
    ratio_interval: tuple[float, float] | None = None
    # The smallest and largest difference of a pair: how much the effect depends on the other knobs.
    pair_range: tuple[float, float] | None = None
    # Without a pair: the other knobs the closest configurations also differ in (what it always changes with).
    changes_with: list[str] = []

    @property
    def note(self) -> str:
        """Why a figure is missing, or what was left out ("" when nothing was)."""
        failed = f"{self.n_failed_pairs} pair(s) with a side whose runs all failed"
        if not self.n_pairs and not self.n_failed_pairs:
            return NO_PAIR + (f" (the closest also differ in {' or '.join(self.changes_with)})"
                              if self.changes_with else "")
        if not self.n_pairs:
            return f"no figure: {failed}"
        notes = [] if self.seconds_interval else [SINGLE_RUNS]
        return "; ".join(notes + ([f"{failed} left out"] if self.n_failed_pairs else []))


class _Coordinates(msgspec.Struct):
    """Where a group sits in the sweep: each knob's value (canonical, comparable), its order and its name."""

    values: dict[str, bytes]
    order: dict[str, tuple]
    shown: dict[str, str]


def _order(value: Any) -> tuple:
    """Numbers (and switches: off before on) ascending, then the rest by name, unknown last."""
    if isinstance(value, (int, float)):
        return (0, float(value), "")
    return (2, 0.0, "") if value is None else (1, 0.0, str(value))


def _coordinates(group: Group, reference: RunEnvironment | None) -> _Coordinates:
    """The group's type, environment and every setting it records, each a knob if it varies."""
    found = _Coordinates({}, {}, {})
    readings = {name: read(group) for name, read in _OTHER_KNOBS.items()}
    readings.update({setting_name(key): (value, show_setting(value)) for key, value in group.config.items()})
    for name, (value, shown) in readings.items():
        found.values[name] = msgspec.json.encode(value, order="sorted")
        found.order[name] = tuple(map(_order, value)) if isinstance(value, tuple) else _order(value)
        found.shown[name] = shown
    found.order[ENVIRONMENT_KNOB] = (reference is None or group.environment.identity() != reference.identity(),
                                     environment_key(group.environment))
    return found


def comparison_reference(pairs: list[Pair]) -> RunEnvironment | None:
    """The environment every pair of a comparison is measured against (its baseline), if there is one."""
    found = {pair.baseline.environment.identity(): pair.baseline.environment for pair in pairs}
    return next(iter(found.values())) if len(found) == 1 else None


def _knob_order(name: str) -> tuple:
    """Type, the settings every label names (workers, threads), the other settings by name, the environment."""
    first = [KIND_KNOB, *map(setting_name, LABEL_KEYS)]
    if name in first:
        return (0, first.index(name), "")
    return (2, 0, "") if name == ENVIRONMENT_KNOB else (1, 0, name)


def _knob_values(coordinates: list[_Coordinates]) -> dict[str, list[tuple[str, bytes]]]:
    """Each knob's values, (shown, canonical), in order; knobs in the order of ``_knob_order``."""
    found: dict[str, dict[bytes, tuple[tuple, str]]] = {}
    for point in coordinates:
        for name, value in point.values.items():
            found.setdefault(name, {})[value] = (point.order[name], point.shown[name])
    return {
        name: [(shown, value) for value, (_, shown) in sorted(values.items(), key=lambda item: item[1][0])]
        for name, values in sorted(found.items(), key=lambda item: _knob_order(item[0]))
        if len(values) > 1
    }


def _other_differences(knob: str, first: _Coordinates, second: _Coordinates) -> list[str]:
    """The other knobs, among those both record, in which two configurations differ."""
    return [name for name in first.values.keys() & second.values.keys()
            if name != knob and first.values[name] != second.values[name]]


def knob_effects(groups: list[Group], reference: RunEnvironment | None = None) -> list[KnobEffect]:
    """Every change of every knob from its reference value, with its effect on the total time to ready;
    ``reference``: the environment the others are changes from (``comparison_reference``)."""
    coordinates = [_coordinates(group, reference) for group in groups]
    changes = []
    for knob, values in _knob_values(coordinates).items():
        (reference_shown, reference), *others = values
        at_reference = [index for index, point in enumerate(coordinates) if point.values.get(knob) == reference]
        for shown, value in others:
            candidates = {(before, after): _other_differences(knob, coordinates[before], point)
                          for after, point in enumerate(coordinates) if point.values.get(knob) == value
                          for before in at_reference}
            pairs = [pair for pair, differences in candidates.items() if not differences]
            changes.append((KnobEffect(knob, reference_shown, shown, changes_with=_closest(candidates)), pairs))
    timed = [[(groups[before], groups[after]) for before, after in pairs
              if total_times(groups[before]) and total_times(groups[after])] for _, pairs in changes]
    return [_measure(effect, len(pairs) - len(timed_pairs), timed_pairs)
            for (effect, pairs), timed_pairs in zip(changes, timed)]


def _closest(candidates: dict[tuple[int, int], list[str]]) -> list[str]:
    """The other knobs in which the closest candidate pairs differ, in knob order ([] when a pair differs
    in none)."""
    fewest = min(map(len, candidates.values()), default=0)
    found = {name for differences in candidates.values() if len(differences) == fewest for name in differences}
    return sorted(found, key=_knob_order)


def _measure(effect: KnobEffect, n_failed_pairs: int, pairs: list[tuple[Group, Group]]) -> KnobEffect:
    """The effect of one change over its pairs; its intervals when every side has two runs or more."""
    if not pairs:
        return msgspec.structs.replace(effect, n_failed_pairs=n_failed_pairs)
    medians = [(total_summary(before).median, total_summary(after).median) for before, after in pairs]
    differences = [after - before for before, after in medians]
    found = msgspec.structs.replace(
        effect, n_pairs=len(pairs), n_failed_pairs=n_failed_pairs, seconds=statistics.median(differences),
        ratio=statistics.median(after / before for before, after in medians),
        pair_range=(min(differences), max(differences)))
    if not all(len(total_times(group)) > 1 for pair in pairs for group in pair):
        return found
    import numpy

    before = numpy.stack([group.resampled_total_medians for group, _ in pairs])
    after = numpy.stack([group.resampled_total_medians for _, group in pairs])
    return msgspec.structs.replace(
        found, seconds_interval=percentile_interval(_column_medians(after - before)),
        ratio_interval=percentile_interval(_column_medians(after / before)))


def _column_medians(rows: Any) -> Any:
    """``numpy.median(rows, axis=0)``, its steps taken here: the middle of each column's sorted values, the
    mean of the two middle ones for an even count (and numpy's masked arrays, which its median imports,
    never loaded)."""
    import numpy

    ordered, middle = numpy.sort(rows, axis=0), len(rows) // 2
    return ordered[middle] if len(rows) % 2 else (ordered[middle - 1] + ordered[middle]) / 2
