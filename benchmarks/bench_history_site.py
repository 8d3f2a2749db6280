#!/usr/bin/env python3
"""How large is a published history, and how long does ``dask-timing history publish`` take to build it?

A SQLite database of 16 configurations x 10 releases x 5 runs (synthetic runs
with 5 % noise, a 30 % step planted in two configurations), published with the
command as a user runs it, in a fresh process each time: wall time, peak
memory, the site's pages, images and bytes.  Publishing twice also shows that
the second publication replaces the first.  ``--screenshots DIR`` saves
headless Chromium's pictures of the index and of a configuration's page.

Usage: python benchmarks/bench_history_site.py [--configurations N] [--releases N] [--runs N] [--screenshots DIR]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import uuid

from installed import REPOSITORY, compile_package, run_measured

sys.path.insert(0, REPOSITORY)

from dask_timing.history import store  # noqa: E402
from dask_timing.history.connection import open_database  # noqa: E402
from dask_timing.present.history_site import BUILDS, LINK  # noqa: E402
from dask_timing.record.schema import RunResult  # noqa: E402

PUBLISH_TIMEOUT = 600


def run(version: str, workers: int, seconds: float, rng: random.Random, month: int) -> RunResult:
    phases = {"cluster_init": 0.3 * (1 + rng.gauss(0, 0.05)), "wait_for_workers": seconds * (1 + rng.gauss(0, 0.05)),
              "first_task": 0.005}
    return RunResult(kind="local", config={"n_workers": workers, "threads_per_worker": 1, "processes": True},
                     options={"warmup": False}, run_id=uuid.UUID(int=rng.getrandbits(128)).hex,
                     timestamp=f"{2025 + month // 12}-{month % 12 + 1:02d}-01T00:00:00Z", phases=phases,
                     total_time=sum(phases.values()),
                     environment={"host": "ci-runner", "python_version": "3.12.1", "cpu_count": 2,
                                  "load": {"load_per_cpu": 0.4 + 0.1 * rng.random()},
                                  "packages": {"dask": version, "distributed": version}})


def database(path: str, configurations: int, releases: int, runs: int) -> None:
    rng = random.Random(2026)
    versions = [f"{2025 + month // 12}.{month % 12 + 1}.0" for month in range(releases)]
    results = [run(version, workers, 0.3 * (1.3 if workers in (3, 11) and index >= releases - 3 else 1.0), rng, index)
               for workers in range(1, configurations + 1) for index, version in enumerate(versions)
               for _ in range(runs)]
    opened = open_database(path)
    try:
        store.record(opened, results)
    finally:
        opened.close()


def size_of(folder: str) -> tuple[int, int, int]:
    names = os.listdir(folder)
    return (sum(name.endswith(".html") for name in names), sum(name.endswith(".png") for name in names),
            sum(os.path.getsize(os.path.join(folder, name)) for name in names))


def screenshot(page: str, picture: str, scratch: str) -> None:
    browser = shutil.which("chromium")
    if browser is None:
        print("  chromium is not installed: no screenshot")
        return
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                    f"--user-data-dir={os.path.join(scratch, 'profile')}", f"--screenshot={picture}",
                    "--window-size=1280,1600", "file://" + page], capture_output=True, timeout=120, check=True)
    print(f"  screenshot: {picture}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--configurations", type=int, default=16)
    parser.add_argument("--releases", type=int, default=10)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--screenshots", metavar="DIR")
    args = parser.parse_args()
    compile_package()
    with tempfile.TemporaryDirectory() as scratch:
        db = os.path.join(scratch, "history.db")
        database(db, args.configurations, args.releases, args.runs)
        site = os.path.join(scratch, "site")
        print(f"publishing {args.configurations} configurations x {args.releases} releases x {args.runs} runs:")
        command = [sys.executable, "-m", "dask_timing", "history", "publish", "--db", db, site]
        for attempt in (1, 2):
            seconds, peak = run_measured(command, PUBLISH_TIMEOUT, cwd=REPOSITORY)
            built = os.path.realpath(os.path.join(site, LINK))
            pages, images, size = size_of(built)
            print(f"  publication {attempt}: {seconds:.1f} s wall, peak {peak:.0f} MB; {pages} pages, {images} images, "
                  f"{size / 1e6:.2f} MB ({os.path.basename(built)}; {len(os.listdir(os.path.join(site, BUILDS)))} "
                  "publication(s) kept)")
        if args.screenshots:
            os.makedirs(args.screenshots, exist_ok=True)
            pages = [name for name in sorted(os.listdir(built)) if name.startswith("config-") and name.endswith(".html")]
            page = next((name for name in pages if "<h2>Steps</h2><table>" in open(os.path.join(built, name)).read()),
                        pages[0])  # one with a step to show
            screenshot(os.path.join(built, "index.html"), os.path.join(args.screenshots, "site-index.png"), scratch)
            screenshot(os.path.join(built, page), os.path.join(args.screenshots, "site-configuration.png"), scratch)


if __name__ == "__main__":
    main()
