"""Text read from files is data, never control: the one escaping every output goes through.

A label, a setting, an error or a host name read from a result file or the database may hold
control characters (an escape sequence that clears the screen or sets the terminal's title, a
carriage return that overwrites a line with a forged "Gate: passed", a bidirectional override).
Each is shown as its Python escape (``\\x1b``, ``\\r``, ``\\u202e``): visible, inert, and the
same in the terminal, Markdown, HTML, CSV and plots.
"""

from __future__ import annotations

from typing import Any, TextIO


def printable(text: str, keep: str = "") -> str:
    """``text`` with every character that is not printable (``keep`` excepted) shown escaped.

    Without ``keep`` the text is one line: a line break read from a file is ``\\n``, never let
    through to break a table's row or a label's line.
    """
    if text.isprintable():
        return text
    return "".join(character if character.isprintable() or character in keep
                   else character.encode("unicode_escape").decode("ascii") for character in text)


# What a terminal line the tools print may hold besides printable text: its own line breaks and tabs.
LAYOUT = "\n\t"


class PrintableStream:
    """A text stream (standard output, standard error) that escapes what ``printable`` escapes, line breaks
    and tabs kept: whatever a command prints from a file reaches the terminal as text."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        self.stream.write(text if text.isprintable() else printable(text, LAYOUT))
        return len(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)
