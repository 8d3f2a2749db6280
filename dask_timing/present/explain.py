"""The "Why" block under each compared pair: the chain of ``analysis.explain`` in words a person acts on.

At most ``MAX_WHY_LINES`` lines by default: the causes, most telling first within
each level of the chain, then one line saying what was left out as noise;
``verbose``: every item, the noise marked as such; a sweep's many pairs get one
line each (``why_line``).
"""

from __future__ import annotations

from typing import Sequence

from dask_timing.analysis.explain import (
    ENVIRONMENT, IMPORT, PACKAGE, PHASE, STRAGGLER, WORKER_PHASE, Explanation, LOAD_PER_CPU,
)

MAX_WHY_LINES = 12
INDENT = "    "


def why_block(items: Sequence[Explanation], verbose: bool = False) -> list[str]:
    """One pair's Why block (``items``: its chain, in order)."""
    if not items:
        return []
    first = items[0]
    noise = [item for item in items if not item.cause and item.delta_s is not None]
    total = _total_difference(items)
    lines = [f"  Why {first.new_name} differs from {first.baseline_name}"
             + (f" (total {total:+.3f} s)" if total is not None else "")
             + ": difference of medians, its 95% CI, share of the total's difference"]
    if verbose:
        return lines + [INDENT + describe(item) for item in items]
    timed, facts = _concise([item for item in items if item.cause])
    if not timed and not facts:
        lines.append(f"{INDENT}no cause the runs can tell from noise")
    room = max(0, MAX_WHY_LINES - 2 - len(facts))  # versions and the load always shown: they are few
    lines += [INDENT + describe(item) for item in [*timed[:room], *facts]]
    hidden = len(timed) - room
    left_out = [f"{hidden} more cause(s)"] if hidden > 0 else []
    if noise:
        left_out.append(f"{len(noise)} item(s) the runs cannot tell from noise")
    if left_out:
        lines.append(f"{INDENT}({' and '.join(left_out)}: --verbose shows them)")
    return lines


def why_line(items: Sequence[Explanation], most: int = 3) -> list[str]:
    """The Why block in one line, for a sweep's many pairs: the ``most`` telling causes; none when no cause."""
    timed, facts = _concise([item for item in items if item.cause])
    found = [*timed, *facts]
    if not found:
        return []
    named = [_short(item) for item in found[:most]]
    more = f" (+{len(found) - most} more: --verbose)" if len(found) > most else ""
    return [f"     why: {'; '.join(named)}{more}"]


def _short(item: Explanation) -> str:
    """An item in a few words: ``import slowpkg +0.30 s``, ``msgpack 1.2.4 -> 99.0.0``."""
    if item.delta_s is None:
        return f"{item.name} {item.baseline} -> {item.new}"
    words = {IMPORT: "import ", STRAGGLER: "straggler ", WORKER_PHASE: "worker phase "}.get(item.level, "")
    return f"{words}{item.name} {item.delta_s:+.2f} s"


def _concise(found: list[Explanation]) -> tuple[list[Explanation], list[Explanation]]:
    """The causes worth a line each: timed ones, then versions and the load.  A worker phase once (the median or
    the slowest worker, whichever moved more); a package's import per worker process left out where one worker's
    own import of it is a cause (that worker's figure says it whole, without averaging it over the others)."""
    own_imports = {item.package for item in found if item.level == IMPORT and item.worker}
    timed, seen_phases = [], set()
    for item in found:
        if item.level == WORKER_PHASE:
            if item.phase in seen_phases:
                continue
            seen_phases.add(item.phase)
        if item.level == IMPORT and not item.worker and item.package in own_imports:
            continue
        if item.delta_s is not None:
            timed.append(item)
    return timed, [item for item in found if item.delta_s is None]


def _total_difference(items: Sequence[Explanation]) -> float | None:
    """The difference of the total times, as the shares are taken of it."""
    for item in items:
        if item.share and item.delta_s is not None:
            return item.delta_s / item.share
    return None


def _figures(item: Explanation) -> str:
    """``+0.301 s [+0.280, +0.322]  73%``: the difference, its interval and its share."""
    text = f"{item.delta_s:+.3f} s"
    if item.ci_low is not None:
        text += f" [{item.ci_low:+.3f}, {item.ci_high:+.3f}]"
    if item.share is not None:
        text += f" {item.share:.0%}"
    return text


def describe(item: Explanation) -> str:
    """One item as a sentence: what it is, on both sides, and what it explains."""
    noise = "" if item.cause else " (noise)"
    if item.level == PHASE:
        what = f"phase {item.name}"
    elif item.level == WORKER_PHASE:
        what = f"worker phase {item.name}"
    elif item.level == STRAGGLER:
        what = (f"straggler {item.name}: in {item.runs}, registered late in {item.phase}"
                if item.runs else f"straggler {item.name}")
        return f"{what}: {item.new:.3f} s after the median worker against {item.baseline:.3f} s, " \
               f"{_figures(item)}{noise}"
    elif item.level == IMPORT:
        via = f" (via {' > '.join(item.via)})" if item.via else ""
        whose = "more than the other workers" if item.worker else "per worker process"
        if item.processes:
            whose += f" (imported by {item.processes} only)"
        what = f"workers' import of {item.name}{via}"
        return f"{what}: {item.baseline:.3f} -> {item.new:.3f} s {whose}, {_figures(item)}{noise}"
    elif item.level == PACKAGE:
        return f"package {item.name}: {item.baseline or 'absent'} -> {item.new or 'absent'}"
    elif item.level == ENVIRONMENT and item.unit == LOAD_PER_CPU:
        verdict = f"busier for {item.new_name if item.new > item.baseline else item.baseline_name}" \
            if item.cause else "alike"
        return f"{item.name}: {item.baseline:.2f} -> {item.new:.2f} per CPU ({verdict})"
    else:
        return f"{item.name}: {item.baseline} -> {item.new}"
    return f"{what}: {item.baseline:.3f} -> {item.new:.3f} s, {_figures(item)}{noise}"
