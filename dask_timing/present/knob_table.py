"""What each setting of a sweep costs, as a table: built once (``knob_table``), shown by the text analysis
and the Markdown export alike."""

from __future__ import annotations

from typing import Callable

from dask_timing.analysis.computed import Analysis
from dask_timing.analysis.knobs import KnobEffect
from dask_timing.present.text_table import aligned

TITLE = "What each setting costs"
UNITS = ("seconds added to the median total time to ready when the setting changes from its first value and "
         "every other setting stays the same (the median over such pairs of configurations, with its 95 % "
         "bootstrap interval and the range of the pairs), and the ratio of medians")
# The text's one line: its table follows the ranking, whose reader knows the rest from the README.
HEADING = f"{TITLE.upper()}: seconds added to the median total time to ready when only it changes"
HEADER = ["setting", "change", "added (s)", "95% CI (s)", "ratio", "95% CI", "pairs", "pair range (s)", "note"]
MISSING = "-"
Write = Callable[[str], None]


def _interval(bounds: tuple[float, float] | None, form: str) -> str:
    return MISSING if bounds is None else f"[{bounds[0]:{form}}, {bounds[1]:{form}}]"


def _row(effect: KnobEffect) -> list[str]:
    figures, pair_range = [MISSING] * 4, MISSING
    if effect.seconds is not None and effect.ratio is not None:
        figures = [f"{effect.seconds:+.2f}", _interval(effect.seconds_interval, "+.2f"), f"{effect.ratio:.2f}x",
                   _interval(effect.ratio_interval, ".2f")]
    if effect.pair_range is not None and effect.n_pairs > 1:  # one pair: its difference is the effect
        pair_range = f"{effect.pair_range[0]:+.2f} to {effect.pair_range[1]:+.2f}"
    return [effect.knob, f"{effect.reference} -> {effect.value}", *figures, str(effect.n_pairs), pair_range,
            effect.note]


def knob_table(analysis: Analysis) -> tuple[list[str], list[list[str]]] | None:
    """(header, rows): a row per change of a setting from its first value; None when no setting varies."""
    effects = analysis.knob_effects
    return (HEADER, [_row(effect) for effect in effects]) if effects else None


def write_knob_costs(analysis: Analysis, write: Write) -> None:
    """The table in text, as a part of the configuration comparison (the note last, unpadded); nothing when
    no setting varies."""
    table = knob_table(analysis)
    if table is None:
        return
    header, rows = table
    write(HEADING)
    for line in aligned([header, *rows], words=2, free_last=True):
        write(line)
