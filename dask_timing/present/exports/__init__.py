"""Export formats of an analysis, behind one interface (as hyperfine's exporters).

Every exporter takes the same input, the ``Analysis`` of ``analysis.computed``
(the grouped results, the ranking, the worker phases, the scaling fits, what
each setting costs, and the verdicts and the gate of a comparison: None without
one), the one the text summary prints too, and returns the file's text: it
renders, and computes no statistic.  The analyzer offers ``--OPTION FILE`` for every registered
exporter, in registration order, and writes each file asked for with
``export``; none is ever overwritten.

Adding a format takes one module and one line:

1. a module in this package, say ``json_lines.py``, with a function
   ``render(analysis: Analysis) -> str`` and
   ``EXPORTER = Exporter(option="json-lines", saved_as="JSON lines", help="...", render=render)``
   (``whole_runs=True`` if it reads more of each run than its timing, such as
   the environment);
2. the line ``register(json_lines.EXPORTER)`` below.

Format modules import what is heavy (matplotlib, numpy) inside ``render``:
this package is imported to build the analyzer's options, even for a plain
text summary.
"""

from __future__ import annotations

from dask_timing.present.exports.base import EXPORTERS, Analysis, Exporter, export, register
from dask_timing.present.exports import csv_table, html_page, markdown_table

register(csv_table.EXPORTER)
register(markdown_table.EXPORTER)
register(html_page.EXPORTER)

__all__ = ["EXPORTERS", "Analysis", "Exporter", "export", "register"]
