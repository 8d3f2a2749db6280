"""Text tables as the analysis prints them: each column as wide as its widest cell, words to the left,
figures to the right."""

from __future__ import annotations


def aligned(rows: list[list[str]], words: int = 1, free_last: bool = False) -> list[str]:
    """Each row as a line indented by two spaces: the first ``words`` columns left-aligned, the others
    right-aligned; ``free_last``: the last column left as it is (a note of any length)."""
    padded = len(rows[0]) - 1 if free_last else len(rows[0])
    widths = [max(len(row[column]) for row in rows) for column in range(padded)]
    lines = []
    for row in rows:
        cells = [cell.ljust(width) if column < words else cell.rjust(width)
                 for column, (cell, width) in enumerate(zip(row, widths))]
        lines.append(("  " + "  ".join(cells + row[padded:])).rstrip())
    return lines
