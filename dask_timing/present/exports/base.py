"""The exporter interface, the registry of formats, and the loop that writes the files asked for."""

from __future__ import annotations

from typing import Callable

import msgspec

from dask_timing.analysis.computed import Analysis
from dask_timing.analysis.gate import Gate
from dask_timing.phases import TOTAL_KEY
from dask_timing.record.files import write_text


class Exporter(msgspec.Struct, frozen=True, kw_only=True):
    """One file format: the analyzer offers ``--OPTION FILE`` and writes ``render(analysis)`` to FILE."""

    option: str  # the analyzer's option without the leading "--", such as "csv" or "one-line"
    saved_as: str  # what "✓ <saved_as> saved to: FILE" calls the file
    help: str
    render: Callable[[Analysis], str]
    whole_runs: bool = False  # reads more of each run than its timing (the environment): load whole results


# The comparison's table, the same in every format: one row per configuration and metric (the HTML page
# groups the rows of a configuration under it).
COMPARISON_HEADER = ["configuration", "compared", "metric", "n", "ratio", "95% CI", "p", "verdict", "threshold",
                     "note"]


def comparison_rows(analysis: Analysis) -> list[list[str]]:
    """The verdicts as table rows; the threshold is on the rows the gate judges (total time)."""
    gate = analysis.gate
    rows = []
    for verdict in analysis.verdicts or []:
        gated = gate is not None and gate.threshold is not None and verdict.metric == TOTAL_KEY
        rows.append([verdict.label, f"{verdict.new_name} / {verdict.baseline_name}", verdict.metric,
                     f"{verdict.n_new} + {verdict.n_baseline}", f"{verdict.ratio:.3f} ± {verdict.ratio_error:.3f}",
                     f"[{verdict.ci_low:.3f}, {verdict.ci_high:.3f}]", f"{verdict.p_value:.2g}", verdict.verdict,
                     f"+{gate.threshold:g}%" if gated else "–", verdict.note])
    return rows


def gate_summary(gate: Gate) -> str:
    """The gate's conclusion in one line: outcome, exit code, and why."""
    return f"{gate.outcome} (exit code {gate.exit_code})" + (f": {'; '.join(gate.reasons)}" if gate.reasons else "")


EXPORTERS: dict[str, Exporter] = {}  # by option, in the order the analyzer lists and writes them


def register(exporter: Exporter) -> Exporter:
    """Offer a format to the analyzer; each option names one format."""
    if exporter.option in EXPORTERS:
        raise ValueError(f"--{exporter.option} is already the option of {EXPORTERS[exporter.option].saved_as}")
    EXPORTERS[exporter.option] = exporter
    return exporter


def export(analysis: Analysis, paths: dict[str, str], write: Callable[[str], None] = print) -> None:
    """Write the file of each format asked for (``paths``: option -> file), never replacing one."""
    for option, exporter in EXPORTERS.items():
        path = paths.get(option)
        if path:
            write_text(path, exporter.render(analysis))
            write(f"✓ {exporter.saved_as} saved to: {path}")
