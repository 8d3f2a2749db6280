#!/usr/bin/env python3
"""How honest is the verdict on a history's newest point (``history show --fail-on-step 10``)?

Simulated histories of releases, each point 5 runs with 5 % Gaussian noise,
judged by ``history.steps.judge_newest`` with a threshold of 10 %; the outcomes
counted (passed, failed: a step up larger than 10 %, cannot tell):

1. ten equal releases: a step raised on the newest in at most 1 of 20
   histories (the goal: no step raised in 19 of 20 or more);
2. four releases, the newest 2.3x slower: failed in every history;
3. four releases of messy runs (each run 1x or 2.3x at random): never passed;
4. ten equal releases, the newest 5 % slower (within the threshold): how often
   it is shown to be within it (passed), and how rarely failed (the rule fails a
   point significantly slower whose median ratio is over the threshold).

Also the time one verdict takes.

Usage: python benchmarks/bench_history_verdicts.py [--histories N]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections import Counter

from installed import REPOSITORY

sys.path.insert(0, REPOSITORY)

from dask_timing.history.steps import VERDICT_WORDS, Point, judge_newest  # noqa: E402

THRESHOLD = 10.0
RUNS = 5
NOISE = 0.05


def equal(generator: random.Random, count: int, newest: float = 1.0) -> list[Point]:
    return [Point(f"2026.{index + 1}.0", tuple((newest if index == count - 1 else 1.0) * (1 + generator.gauss(0, NOISE))
                                               for _ in range(RUNS))) for index in range(count)]


def messy(generator: random.Random) -> list[Point]:
    return [Point(f"2026.{index + 1}.0", tuple(generator.choice((1.0, 2.3)) * (1 + generator.gauss(0, 0.02))
                                               for _ in range(RUNS))) for index in range(4)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--histories", type=int, default=200)
    args = parser.parse_args()
    cases = (("ten equal releases", lambda g: equal(g, 10), "no step raised on the newest in 19 of 20 or more"),
             ("four releases, the newest 2.3x slower", lambda g: equal(g, 4, 2.3), "failed in every history"),
             ("four releases of messy runs (1x or 2.3x)", messy, "never passed"),
             ("ten releases, the newest 5 % slower", lambda g: equal(g, 10, 1.05), "rarely failed"))
    print(f"verdicts on the newest point, --fail-on-step {THRESHOLD:g}, {RUNS} runs a point, {NOISE:.0%} noise:")
    for name, make, goal in cases:
        for count in (20, args.histories):
            generator = random.Random(2026)
            outcomes: Counter[str] = Counter()
            started = time.perf_counter()
            for _ in range(count):
                outcomes[VERDICT_WORDS[judge_newest(make(generator), THRESHOLD).outcome]] += 1
            seconds = (time.perf_counter() - started) / count
            shown = ", ".join(f"{word} {outcomes[word]}" for word in VERDICT_WORDS.values())
            print(f"  {name}, {count} histories: {shown}; {seconds * 1000:.0f} ms a verdict")
        print(f"    goal: {goal}")


if __name__ == "__main__":
    main()
