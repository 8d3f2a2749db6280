"""The ``envs`` command: the environments studies and bisects built in the user's cache, listed and pruned.

``dask-timing envs`` lists them (name, versions or commit, size, last used);
``dask-timing envs prune`` removes them, all (``--all``), those unused for a
while (``--older-than DAYS``) or the least recently used until the rest fit
(``--max-size SIZE``), never one a running study uses (``measure.env_cache``).
"""

from __future__ import annotations

import argparse
import re
import time

from dask_timing.cli import common as cli
from dask_timing.errors import EXIT_OK
from dask_timing.measure.env_cache import CachedEnvironment, cached_environments, chosen_for_pruning, remove
from dask_timing.measure.environments import cache_root

SIZE_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}
SIZE_PATTERN = re.compile(r"([0-9]+(?:\.[0-9]+)?)\s*([KMGT]?)(?:i?B)?", re.IGNORECASE)


def size(text: str) -> int:
    """argparse type: bytes, or a number with K, M, G or T (powers of 1024), as du prints them."""
    matched = SIZE_PATTERN.fullmatch(text.strip())
    if not matched:
        raise argparse.ArgumentTypeError(f"expected a size such as 500M or 2G, got {text!r}")
    return int(float(matched.group(1)) * SIZE_UNITS[matched.group(2).upper()])


def human_size(count: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if count < 1024 or unit == "GiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    raise AssertionError("unreachable")


def _ago(seconds: float) -> str:
    for unit, length in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= length:
            count = int(seconds // length)
            return f"{count} {unit}{'s' if count > 1 else ''} ago"
    return "just now"


def build_parser(prog: str) -> cli.OneLineParser:
    parser = cli.OneLineParser(prog=prog, description="The environments built in the user's cache "
                               "(--dask-versions of a study, the releases and commits of a bisect): list them, "
                               "or prune them.", epilog=f"examples:\n  {prog}\n  {prog} prune --older-than 30\n"
                               f"  {prog} prune --max-size 5G --dry-run\n  {prog} prune --all",
                               formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="action", metavar="{list,prune}")
    commands.add_parser("list", help="name, versions or commit, size and last use of each (the default)")
    prune = commands.add_parser("prune", help="remove environments; never one a running study uses")
    which = prune.add_mutually_exclusive_group(required=True)
    which.add_argument("--all", action="store_true", help="every environment")
    which.add_argument("--older-than", type=cli.non_negative_float, metavar="DAYS",
                       help="those no study has used for more than DAYS days")
    which.add_argument("--max-size", type=size, metavar="SIZE",
                       help="the least recently used, until the rest take at most SIZE (500M, 2G...)")
    prune.add_argument("--dry-run", action="store_true", help="say what would be removed; remove nothing")
    return parser


def write_table(environments: list[CachedEnvironment], now: float) -> None:
    rows = [(environment.name, environment.what, human_size(environment.size),
             _ago(now - environment.last_used) + ("" if environment.complete else " (left by a build)"),
             environment.interpreter) for environment in environments]
    headers = ("name", "versions or commit", "size", "last used", "interpreter")
    widths = [max(len(row[column]) for row in [headers, *rows]) for column in range(len(headers))]
    for row in [headers, *rows]:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())


def run(argv: list[str] | None, prog: str) -> int:
    args = build_parser(prog).parse_args(argv)
    environments, now = cached_environments(), time.time()
    total = sum(environment.size for environment in environments)
    if args.action != "prune":
        if not environments:
            print(f"No environment is built in {cache_root()}")
            return EXIT_OK
        print(f"{len(environments)} environment(s) in {cache_root()}, {human_size(total)} in all "
              "(the most recently used first):")
        write_table(environments, now)
        return EXIT_OK
    chosen = chosen_for_pruning(environments, args.all, args.older_than, args.max_size, now)
    if not chosen:
        print(f"Nothing to prune: {len(environments)} environment(s), {human_size(total)}")
        return EXIT_OK
    removed, kept = [], []
    for environment in chosen:
        if args.dry_run:
            print(f"Would remove {environment.name} ({environment.what}, {human_size(environment.size)})")
        elif remove(environment):
            removed.append(environment)
            print(f"Removed {environment.name} ({environment.what}, {human_size(environment.size)})")
        else:
            kept.append(environment)
            print(f"Kept {environment.name}: a running study uses it (or it is being built)")
    freed = sum(environment.size for environment in removed)
    if not args.dry_run:
        print(f"Removed {len(removed)} environment(s), {human_size(freed)}; {len(environments) - len(removed)} "
              f"left, {human_size(total - freed)}" + (f" ({len(kept)} in use, kept)" if kept else ""))
    return EXIT_OK


def main(argv: list[str] | None, prog: str) -> int:
    return cli.guarded(lambda args: run(args, prog), prog)(argv)
