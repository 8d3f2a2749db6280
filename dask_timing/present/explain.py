"""The "Why" block under each compared pair: the chain of ``analysis.explain`` in words a person acts on.

At most ``MAX_WHY_LINES`` lines by default: the causes, most telling first within
each level of the chain, then one line saying what was left out as noise;
``verbose``: every item, the noise marked as such.  A sweep's many pairs get one
block a pair of sides (``why_by_cause``): each cause once, with the configurations
it is a cause in.  The Markdown and HTML exports show the same items as tables
(``why_row``).
"""

from __future__ import annotations

import textwrap
from typing import Callable, Sequence

from dask_timing.analysis.explain import (
    IMPORT, LEVELS, LOAD_PER_CPU, PACKAGE, PHASE, STRAGGLER, WORKER_PHASE, Explanation,
)

MAX_WHY_LINES = 12
INDENT = "    "
WRAP_WIDTH = 120  # a merged cause's line wraps here (the configurations it names can be many)


def why_block(items: Sequence[Explanation], verbose: bool = False) -> list[str]:
    """One pair's Why block (``items``: its chain, in order)."""
    if not items:
        return []
    first = items[0]
    noise = [item for item in items if item.noise]
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


def why_by_cause(items: Sequence[Explanation], called: dict[tuple[str, str, str], str]) -> list[str]:
    """A sweep's Why blocks merged, one a pair of sides (B against A): each cause once, with the configurations
    it is a cause in (as ``called`` names each pair: by label and names of its sides) and its differences there,
    from the least to the largest; at most ``MAX_WHY_LINES`` lines a block, what is left out said in its last
    line."""
    lines = []
    for (baseline_name, new_name), chains in _by_sides(items).items():
        order = [called.get((label, baseline_name, new_name), label) for label in chains]

        def named(labels: list[str]) -> str:
            return _configurations([called.get((label, baseline_name, new_name), label) for label in labels], order)

        lines += _merged_block(f"Why {new_name} differs from {baseline_name}", chains, named)
    return lines


def _merged_block(title: str, chains: dict[str, list[Explanation]], named: Callable[[list[str]], str]) -> list[str]:
    """One pair of sides' causes over its configurations (``chains``, by label), each once."""
    found: dict[tuple, list[Explanation]] = {}
    for chain in chains.values():
        for item in shown_causes(chain):
            found.setdefault(_cause_key(item), []).append(item)
    merged = sorted(found.values(), key=lambda same: (LEVELS.index(same[0].level), -len(same),
                                                       -max(abs(item.delta_s or 0.0) for item in same)))
    noise = sum(1 for chain in chains.values() for item in chain if item.noise)
    noise_said = f"{noise} item(s) the runs cannot tell from noise"
    if not merged:
        return [f"  {title}: no cause the runs can tell from noise, in any configuration ({noise_said}; --verbose "
                "shows each pair whole)"]
    lines = [f"  {title}: each cause the runs tell from noise, its differences of medians (least to largest), "
             "and where"]
    said = 0
    for same in merged:
        wrapped = textwrap.wrap(_merged(same, named([item.configuration for item in same])), WRAP_WIDTH,
                                initial_indent=INDENT, subsequent_indent=INDENT * 2, break_long_words=False,
                                break_on_hyphens=False)
        if len(lines) + len(wrapped) > MAX_WHY_LINES - 1:  # room for the last line
            break
        lines += wrapped
        said += 1
    told = {item.configuration for same in merged for item in same}
    left_out = [f"{len(merged) - said} more cause(s)"] if said < len(merged) else []
    if len(told) < len(chains):
        left_out.append(f"no cause in {named([label for label in chains if label not in told])}")
    if noise:
        left_out.append(noise_said)
    return lines + [f"{INDENT}({'; '.join(left_out + ['--verbose shows each pair whole'])})"]


def _by_sides(items: Sequence[Explanation]) -> dict[tuple[str, str], dict[str, list[Explanation]]]:
    """The chains by pair of sides, then by configuration, in their order."""
    found: dict[tuple[str, str], dict[str, list[Explanation]]] = {}
    for (configuration, baseline_name, new_name), chain in chains(items).items():
        found.setdefault((baseline_name, new_name), {})[configuration] = chain
    return found


def _cause_key(item: Explanation) -> tuple:
    """What makes causes of several configurations one: a worker phase whether of the median or the slowest
    worker, a version change with its versions, a load with the side it was busier for."""
    if item.level == WORKER_PHASE:
        return item.level, item.phase
    if item.delta_s is None:
        return item.level, item.name, item.new > item.baseline if item.unit == LOAD_PER_CPU else describe(item)
    return item.level, item.name


def _merged(same: list[Explanation], where: str) -> str:
    """One cause of several configurations in a line: what it is, from its least to its largest difference of
    medians, where."""
    first = same[0]
    if first.delta_s is None and first.unit == LOAD_PER_CPU:
        return f"{first.name}: busier for {first.busier} in {where}"
    if first.delta_s is None or len(same) == 1:
        return f"{describe(first)} in {where}"
    deltas = [item.delta_s for item in same]
    what = subject(first)
    if first.level == WORKER_PHASE and len({item.name for item in same}) > 1:
        what = f"worker phase {first.phase} (median or slowest worker)"
    elif first.level == STRAGGLER:
        what = f"straggler {first.name}, registered late in {first.phase}"
    whose = f" {_whose(first)}" if first.level == IMPORT else ""
    least, largest = (f"{delta:+.3f}" for delta in (min(deltas), max(deltas)))
    return f"{what}: {least if least == largest else f'{least} to {largest}'} s{whose} in {where}"


def _configurations(names: list[str], order: list[str]) -> str:
    """Configurations as a line names them: ``all 16``, or by name, three or more in a row of the comparison's
    table (``order``) as one (``[1]-[4]``, ``[1] [2] to [7] [8]``)."""
    if len(names) == len(order) > 1:
        return f"all {len(order)}"
    runs: list[list[int]] = []
    for index in sorted(order.index(name) for name in names):
        if runs and index == runs[-1][-1] + 1:
            runs[-1].append(index)
        else:
            runs.append([index])
    joined = []
    for run in runs:
        first, last = order[run[0]], order[run[-1]]
        if len(run) < 3:
            joined += [order[index] for index in run]
        else:
            joined.append(f"{first}-{last}" if " " not in first + last else f"{first} to {last}")
    return ("; " if any("," in name for name in names) else ", ").join(joined)  # labels hold commas


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


def subject(item: Explanation) -> str:
    """What an item is about, in words: ``phase Workers startup``, ``workers' import of slowpkg (via site)``."""
    if item.level == PHASE:
        return f"phase {item.name}"
    if item.level == WORKER_PHASE:
        return f"worker phase {item.name}"
    if item.level == STRAGGLER:
        return (f"straggler {item.name}: in {item.runs}, registered late in {item.phase}" if item.runs
                else f"straggler {item.name}")
    if item.level == IMPORT:
        return f"workers' import of {item.name}" + (f" (via {' > '.join(item.via)})" if item.via else "")
    if item.level == PACKAGE:
        return f"package {item.name}"
    return item.name


def _whose(item: Explanation) -> str:
    """Whose an import's seconds are: every worker process's, or one worker's more than the others'."""
    whose = "more than the other workers" if item.worker else "per worker process"
    return whose + (f" (imported by {item.processes} only)" if item.processes else "")


def sides(item: Explanation) -> tuple[str, str]:
    """Both sides' values as an item's line says them (``2.905 s``, ``1.2.4``, ``0.41 per CPU``)."""
    if item.level == PACKAGE:
        return str(item.baseline or "absent"), str(item.new or "absent")
    if item.unit == LOAD_PER_CPU:
        return f"{item.baseline:.2f} per CPU", f"{item.new:.2f} per CPU"
    if item.delta_s is None:
        return str(item.baseline), str(item.new)
    unit = f"s {_whose(item)}" if item.level == IMPORT else item.unit
    return f"{item.baseline:.3f} s", f"{item.new:.3f} {unit}"


def describe(item: Explanation) -> str:
    """One item as a sentence: what it is, on both sides, and what it explains."""
    noise = "" if item.cause else " (noise)"
    if item.level == STRAGGLER:
        return f"{subject(item)}: {item.new:.3f} s after the median worker against {item.baseline:.3f} s, " \
               f"{_figures(item)}{noise}"
    if item.unit == LOAD_PER_CPU:
        verdict = f"busier for {item.busier}" if item.cause else "alike"
        return f"{item.name}: {item.baseline:.2f} -> {item.new:.2f} per CPU ({verdict})"
    before, after = sides(item)
    if item.delta_s is None:
        return f"{subject(item)}: {before} -> {after}"
    return f"{subject(item)}: {before.removesuffix(' s')} -> {after}, {_figures(item)}{noise}"


# The Why blocks as the exports' tables show them: a row an item.
WHY_HEADER = ["cause", "baseline", "new", "difference", "95% CI", "share"]


def chains(items: Sequence[Explanation]) -> dict[tuple[str, str, str], list[Explanation]]:
    """Each pair's chain, by its configuration and the names of its sides, in their order."""
    found: dict[tuple[str, str, str], list[Explanation]] = {}
    for item in items:
        found.setdefault((item.configuration, item.baseline_name, item.new_name), []).append(item)
    return found


def shown_causes(chain: Sequence[Explanation]) -> list[Explanation]:
    """The causes a pair's Why block names by default (each worker phase once, one worker's own import for the
    average over the workers), timed ones first."""
    timed, facts = _concise([item for item in chain if item.cause])
    return [*timed, *facts]


def why_row(item: Explanation) -> list[str]:
    """An item as a table row under ``WHY_HEADER``; the noise marked as such."""
    before, after = sides(item)
    told = "" if item.cause else " (noise)" if item.delta_s is not None else " (alike)"  # the load, alike
    return [subject(item) + told, before, after,
            "–" if item.delta_s is None else f"{item.delta_s:+.3f} s",
            "–" if item.ci_low is None else f"[{item.ci_low:+.3f}, {item.ci_high:+.3f}]",
            "–" if item.share is None else f"{item.share:.0%}"]
