"""``dask timing ...``: the dask-timing command inside Dask's own ``dask`` command line.

Registered through the ``dask_cli`` entry-point group, as distributed registers
``dask scheduler``.  Dask loads every such entry point when ``dask`` starts, so
this module imports click (which Dask has already loaded) and nothing else;
the arguments go unparsed to the same dispatcher as ``dask-timing``.
"""

from __future__ import annotations

import sys

import click


@click.command(
    name="timing",
    help="How long a Dask cluster takes to become useful: 'dask timing --help' lists the commands.",
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []},
    add_help_option=False,
)
@click.argument("arguments", nargs=-1, type=click.UNPROCESSED)
def timing(arguments: tuple[str, ...]) -> None:
    from dask_timing.cli import main

    sys.exit(main(list(arguments), prog="dask timing"))
