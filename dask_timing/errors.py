"""How the tools end: the exit codes, and the one error any layer raises for refused input."""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1  # the tool ran and something failed (a run, a gate)
EXIT_USAGE = 2  # input refused before anything started, one line on stderr; or a comparison of nothing
EXIT_INCONCLUSIVE = 3  # a regression gate that could not decide: too few runs, or its measures disagree


class UsageError(Exception):
    """Bad input, found after argument parsing: the message says what to do instead."""


def signal_exit_code(signum: int) -> int:
    """The shell's convention for a run stopped by a signal: 128 + the signal number."""
    return 128 + signum


def describe_failure(error: BaseException) -> str:
    """A one-line description of an unexpected error: ``Type: message``."""
    return f"{type(error).__name__}: {error}"


def one_line(text: object) -> str:
    """A message on one line: what a library spreads over several (a YAML parser's caret, say) joined by spaces."""
    return " ".join(str(text).split())


# The requirements an extra of the package brings (pyproject.toml's optional-dependencies), by module name.
EXTRAS = {"sqlalchemy": "history", "alembic": "history", "psycopg": "history", "psycopg_binary": "history",
          "dask_jobqueue": "jobqueue"}


def missing_requirement(error: ImportError) -> str:
    """What to say when a requirement cannot be imported: which one, and how to install it (the extra that
    brings it, for one a plain install leaves out: never the install the user has just done)."""
    import sys

    name = (error.name or "a requirement").split(".")[0]
    extra = EXTRAS.get(name)
    if extra is not None:
        return (f"{name} is not installed for {sys.executable}: it comes with dask-timing's {extra} extra "
                f"(pip install 'dask-timing[{extra}]', or pip install -r requirements.txt in a checkout)")
    return (f"{name} is not installed for {sys.executable}; install dask-timing (pip install .) "
            "or its requirements (pip install -r requirements.txt)")


def is_missing_requirement(error: ImportError) -> bool:
    """An import that failed for a requirement not installed, not for a fault of this package."""
    return not (error.name or "dask_timing").startswith("dask_timing")
