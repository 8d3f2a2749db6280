"""Secrets never reach a result file or a printout.

Cluster arguments often carry them: a password, a token in an environment line
of a job script, credentials inside a URL.  Results are meant to be shared, so
every configuration and command line is masked before it is printed or
written: values of keys that look secret, ``NAME=value`` assignments whose name
looks secret, ``--password=value`` options and the password of a URL.
"""

from __future__ import annotations

import json
import re
from typing import Any

MASK = "***"
# Words that make a key, a variable or an option name secret (case-insensitive), as whole
# words between separators: AWS_SECRET_ACCESS_KEY, db-password, auth_token; not "authors".
_SECRET_WORDS = (r"(?<![a-z0-9])(?:password|passwd|passphrase|pass|secret|token|api[_-]?key|access[_-]?key"
                 r"|private[_-]?key|credentials?|auth)(?![a-z0-9])")
_SECRET_NAME = re.compile(_SECRET_WORDS, re.IGNORECASE)
# NAME=value or --name=value, the name holding a secret word; the value quoted or up to white space.
_ASSIGNMENT = re.compile(rf"((?:--)?[\w.-]*{_SECRET_WORDS}[\w.-]*\s*=\s*)('[^']*'|\"[^\"]*\"|[^\s'\"]+)",
                         re.IGNORECASE)
# scheme://user:password@host, the scheme missing too (a mistyped URL is shown in its error)
_URL_PASSWORD = re.compile(r"((?:\b[a-z][a-z0-9+.-]*)?://[^\s:/@]*:)([^\s@/]+)(@)", re.IGNORECASE)


def is_secret_name(name: str) -> bool:
    return bool(_SECRET_NAME.search(name))


def mask_text(text: str) -> str:
    """``text`` with secret assignments and URL passwords masked; a JSON object inside is masked by key."""
    stripped = text.strip()
    if stripped.startswith("{"):
        try:
            document = json.loads(stripped)
        except ValueError:
            pass
        else:
            if isinstance(document, dict):
                return json.dumps(mask_secrets(document))
    return _URL_PASSWORD.sub(rf"\g<1>{MASK}\g<3>", _ASSIGNMENT.sub(rf"\g<1>{MASK}", text))


def mask_secrets(value: Any) -> Any:
    """A copy of ``value`` (JSON-like: dicts, lists, strings...) with every secret masked."""
    if isinstance(value, dict):
        return {key: MASK if is_secret_name(str(key)) and value[key] not in (None, "") else mask_secrets(value[key])
                for key in value}
    if isinstance(value, (list, tuple)):
        return [mask_secrets(item) for item in value]
    if isinstance(value, str):
        return mask_text(value)
    return value


def mask_command_line(arguments: list[str]) -> list[str]:
    """A command line with secrets masked, including the value after a secret-named option."""
    masked = [mask_text(argument) for argument in arguments]
    for index, argument in enumerate(arguments[:-1]):
        if argument.startswith("-") and "=" not in argument and is_secret_name(argument):
            masked[index + 1] = MASK
    return masked


_ABSENT = object()


def holds_masked(value: Any) -> bool:
    """Whether anything in ``value`` was masked."""
    if isinstance(value, dict):
        return any(holds_masked(item) for item in value.values())
    if isinstance(value, (list, tuple)):
        return any(holds_masked(item) for item in value)
    return isinstance(value, str) and MASK in value


def fill_masked(masked: Any, given: Any, where: str = "") -> Any:
    """``masked`` with every masked value taken from ``given`` at the same place (the real
    values, given again); ValueError naming the first place ``given`` does not fill."""
    if isinstance(masked, dict):
        given = given if isinstance(given, dict) else {}
        return {key: fill_masked(value, given.get(key, _ABSENT), f"{where}.{key}" if where else str(key))
                for key, value in masked.items()}
    if isinstance(masked, list):
        given = given if isinstance(given, list) and len(given) == len(masked) else [_ABSENT] * len(masked)
        return [fill_masked(value, other, f"{where}[{index}]") for index, (value, other) in
                enumerate(zip(masked, given))]
    if not (isinstance(masked, str) and MASK in masked):
        return masked
    if given is _ABSENT or (masked != MASK and not (isinstance(given, str) and mask_text(given) == masked)):
        raise ValueError(where or "the value")
    return given
