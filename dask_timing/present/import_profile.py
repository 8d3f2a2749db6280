"""A worker import profile (``record.import_profile``) in one line, as the console and the tables show it."""

from __future__ import annotations

from typing import Any


def describe_import_profile(found: dict[str, Any]) -> str:
    """``bokeh 0.31 s, numpy 0.12 s, ...``"""
    return ", ".join(f"{entry['module']} {entry['seconds']:.2f} s" for entry in found["top"])
