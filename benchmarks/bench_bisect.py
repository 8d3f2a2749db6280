#!/usr/bin/env python3
"""A bisect over real releases of dask and distributed from the package index: what it finds, how long.

Runs ``dask-timing bisect --dask-versions`` over the newest RELEASES releases of both dask and distributed
this Python can install (or the ones given), in a temporary output folder, with the environments in the
user's cache (built once: a second run of this benchmark measures the bisect without the builds).  Prints
the answer (the first release more than THRESHOLD % slower, no step, or cannot tell) with its step, the
number of probes against the budget, the time the builds took and the time of the whole bisect.

Usage: python benchmarks/bench_bisect.py [--releases 4 | --versions A,B,C] [--runs 5] [--workers 1]
       [--threshold 10] [--type local]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

from installed import REPOSITORY

sys.path.insert(0, REPOSITORY)

from dask_timing.measure.environments import released_versions  # noqa: E402
from dask_timing.record.releases import release_key  # noqa: E402


def newest_releases(count: int) -> list[str]:
    """The newest ``count`` final releases of both dask and distributed the package index offers, oldest first."""
    found = []
    for version in released_versions("dask") & released_versions("distributed"):
        unparsable, order, _ = release_key(version)
        if not unparsable and not order.is_prerelease:
            found.append(version)
    return sorted(found, key=release_key)[-count:]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--releases", type=int, default=4, help="how many of the newest releases (default: 4)")
    parser.add_argument("--versions", help="the releases instead, comma-separated, oldest first")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--threshold", type=float, default=10)
    parser.add_argument("--type", default="local", choices=("local", "distributed"))
    args = parser.parse_args()
    versions = args.versions or ",".join(newest_releases(args.releases))
    with tempfile.TemporaryDirectory(prefix="bench-bisect-") as folder:
        command = [sys.executable, "-m", "dask_timing", "bisect", "--dask-versions", versions, "--runs",
                   str(args.runs), "--workers", str(args.workers), "--threshold", str(args.threshold), "--type",
                   args.type, "-o", os.path.join(folder, "out")]
        print(f"$ dask-timing bisect {' '.join(command[4:-2])}", flush=True)
        began = time.monotonic()
        completed = subprocess.run(command, capture_output=True, text=True,
                                   env={**os.environ, "PYTHONPATH": REPOSITORY}, stdin=subprocess.DEVNULL)
        seconds = time.monotonic() - began
    lines = completed.stdout.splitlines()
    builds = sum(float(match.group(1)) for line in lines
                 if (match := re.match(r"Built the environment\(s\) of .* in ([0-9.]+) s", line)))
    built = sum(line.startswith("Building the environment of") for line in lines)
    answer = [line for line in lines if line.startswith(("First slower:", "Step:", "No step:", "Cannot tell:"))]
    probes = [line for line in lines if line.startswith("Probe ") and ": " in line and " is " in line]
    summary = next((line for line in lines if "probe(s) of at most" in line), "")
    print(f"Releases: {versions}")
    print(f"Exit code: {completed.returncode} (1 found, 0 no step, 3 cannot tell)")
    for line in answer or completed.stderr.strip().splitlines()[-3:]:
        print(f"  {line}")
    for line in probes:
        print(f"  {line}")
    print(f"{summary}")
    print(f"Environments built: {built}, in {builds:.0f} s")
    print(f"Whole bisect: {seconds:.0f} s ({seconds - builds:.0f} s of probes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
