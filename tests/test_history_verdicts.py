"""Honest history verdicts, releases in release order, and the context of a history's points.

The verdict on a history's newest point passes only what its runs show to be within the threshold of the
level before it, by the gate's one rule (``analysis.gate``); the history command on SQLite and PostgreSQL.
"""

from __future__ import annotations

import random
import subprocess

import pytest
from conftest import ANALYZER, REPOSITORY, run_tool
from helpers import db_url, synthetic, write_environment_results, write_history_results

from dask_timing.analysis import gate
from dask_timing.analysis.verdicts import judge
from dask_timing.errors import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from dask_timing.history import steps
from dask_timing.record.releases import commit_key, git_commit_order, release_key

RELEASES = ["2025.7.0", "2025.8.0", "2025.10.0", "2025.12.0"]  # as text, 2025.12.0 sorts before 2025.7.0


def history(*args: str, timeout: float = 120):
    return run_tool(["-m", "dask_timing", "history", *args], cwd=REPOSITORY, timeout=timeout)


def imported(tmp_path, db: str, results) -> None:
    write_history_results(tmp_path / "results", results)
    completed = history("import", "--db", db, str(tmp_path / "results"))
    assert completed.returncode == EXIT_OK, completed.stderr


def runs_at(level: float, rng: random.Random, count: int = 5, noise: float = 0.05) -> tuple[float, ...]:
    return tuple(level * (1 + rng.gauss(0, noise)) for _ in range(count))


@pytest.mark.timeout(200)
def test_a_newest_release_2_3x_slower_under_other_load_fails(db_url, tmp_path):
    """4 releases of 5 runs, the newest 2.3x slower and run under other load: exit 1, the load warned of, and
    the verdict names the newest point, the level before it, the change with its interval and the rule."""
    rng = random.Random(23)
    results = []
    for index, version in enumerate(RELEASES):
        for _ in range(5):
            result = synthetic(version, seconds=0.3 * (3.6 if index == 3 else 1.0), rng=rng,
                               timestamp=f"2026-0{index + 1}-01T00:00:00Z")
            result.environment["load"] = {"load_per_cpu": 4.1 if index == 3 else 1.2}
            results.append(result)
    imported(tmp_path, db_url, results)
    completed = history("show", "--db", db_url, "--fail-on-step", "10")
    assert completed.returncode == EXIT_FAILED, completed.stdout + completed.stderr
    out = completed.stdout
    labels = [f"distributed {version}" for version in RELEASES]
    assert [line.split(":")[0].strip() for line in out.splitlines() if "total_time median" in line] == labels
    assert ("warning: its points ran under different load: distributed 2025.7.0 under 1.2 per CPU, "
            "distributed 2025.12.0 under 4.1") in out
    (verdict,) = [line for line in out.splitlines() if line.startswith("  verdict: ")]
    assert verdict.startswith("  verdict: failed: distributed 2025.12.0 (5 run(s), median ")
    assert "against the level before it, distributed 2025.7.0 to 2025.10.0 (3 points, 15 run(s)" in verdict
    assert "(95 % CI +" in verdict and "a step up larger than 10 %" in verdict
    assert "Gate: failed" in out and "Rule: the newest point passes when the 95 % interval" in out
    assert " new " not in out  # earlier steps are history, never "new"


def messy(rng: random.Random) -> tuple[float, ...]:
    """5 runs, each 1 s or 2.3 s at random (a machine busy now and then)."""
    return tuple(rng.choice((1.0, 2.3)) * (1 + rng.gauss(0, 0.02)) for _ in range(5))


def test_a_messy_history_never_passes():
    """Runs x1 or x2.3 at random: whatever the points' medians, the newest point's change cannot be shown to be
    within 10 %; the medians 2.0 / 1.25 / 1.0 / 2.3 that once passed among them."""
    outcomes = set()
    for seed in range(60):
        rng = random.Random(seed)
        outcomes.add(steps.judge_newest([steps.Point(f"v{index}", messy(rng)) for index in range(4)], 10).outcome)
    assert outcomes <= {gate.REGRESSION, gate.UNDECIDED} and gate.UNDECIDED in outcomes
    runs = [(1.0, 1.0, 2.0, 2.3, 2.3), (1.0, 1.0, 1.25, 2.3, 2.3), (1.0, 1.0, 1.0, 2.3, 2.3), (1.0, 1.0, 2.3, 2.3, 2.3)]
    points = [steps.Point(f"distributed {version}", values) for version, values in zip(RELEASES, runs)]
    assert [point.median for point in points] == [2.0, 1.25, 1.0, 2.3]
    assert steps.judge_newest(points, 10).outcome in (gate.REGRESSION, gate.UNDECIDED)


def test_ten_equal_releases_raise_no_step_on_the_newest():
    """20 histories of 10 equal releases of 5 runs (5 % noise): no step raised on the newest in 19 or more
    (``benchmarks/bench_history_verdicts.py`` prints the counts over more histories)."""
    raised = sum(steps.judge_newest([steps.Point(f"v{index}", runs_at(1.0, random.Random(seed * 100 + index)))
                                     for index in range(10)], 10).outcome == gate.REGRESSION for seed in range(20))
    assert raised <= 1


def test_step_intervals_agree_with_an_interleaved_comparison_of_the_same_runs():
    """A step's interval is the comparison's of the runs either side (the same bootstrap), never narrowed by a
    spread borrowed from other points; where the comparison sees no change, the history has no step."""
    rng = random.Random(5)
    points = [steps.Point(f"v{index}", runs_at(1.0 if index < 5 else 1.5, rng)) for index in range(10)]
    (step,) = steps.detect_steps(points)
    before, after = steps.pooled(points[:step.position]), steps.pooled(points[step.position:])
    compared = judge("x", "total_time", before, after)
    assert (step.ci_low, step.ci_high) == pytest.approx((compared.ci_low - 1, compared.ci_high - 1))
    assert step.size == pytest.approx(compared.ratio - 1)
    # 5 + 5 runs a comparison calls no change (ratio 0.65, its interval holding 1): no step between them
    overlapping = [steps.Point("a", (0.9, 1.0, 1.6, 1.7, 1.8)), steps.Point("b", (0.6, 0.65, 0.7, 1.5, 1.9))]
    compared = judge("x", "total_time", overlapping[0].values, overlapping[1].values)
    assert compared.ci_low < 1 < compared.ci_high
    assert steps.detect_steps(overlapping) == []


def test_each_point_has_the_interval_of_its_own_runs(tmp_path):
    rng = random.Random(3)
    quiet, noisy = steps.Point("q", runs_at(1.0, rng, 10, 0.01)), steps.Point("n", runs_at(1.0, rng, 10, 0.2))
    quiet_low, quiet_high = quiet.interval()
    noisy_low, noisy_high = noisy.interval()
    assert quiet_low < quiet.median < quiet_high and noisy_high - noisy_low > 5 * (quiet_high - quiet_low)
    assert steps.Point("one", (1.0,)).interval() is None
    db = str(tmp_path / "h.db")
    results = [synthetic(version, rng=rng, timestamp=f"2026-0{index + 1}-01T00:00:00Z")
               for index, version in enumerate(RELEASES) for _ in range(1 if index == 3 else 4)]
    imported(tmp_path, db, results)
    completed = history("show", "--db", db, "--metric", "total_time", "--fail-on-step", "10")
    assert "distributed 2025.12.0: total_time median " in completed.stdout
    assert "(a single run: no interval)" in completed.stdout and "95 % CI " in completed.stdout
    assert "the newest point has a single run: no interval" in completed.stdout
    assert completed.returncode == 3, completed.stdout


def test_releases_sort_by_version_not_as_text():
    assert sorted(["2025.12.0", "2025.7.0", "2025.10.0", "2025.8.0", "main", "2025.10.0rc1"], key=release_key) == [
        "2025.7.0", "2025.8.0", "2025.10.0rc1", "2025.10.0", "2025.12.0", "main"]


@pytest.mark.timeout(200)
def test_every_output_of_an_analysis_is_in_release_order(tmp_path):
    """The tables, the exports and the knob costs (whose base is the comparison's reference)."""
    for index, version in enumerate(RELEASES):
        write_environment_results(tmp_path / "runs", [2.0 + 0.01 * run for run in range(6)],
                                  name=f"dask-{version}", version=version, minute=index * 10)
    csv, markdown = tmp_path / "t.csv", tmp_path / "t.md"
    completed = run_tool([ANALYZER, str(tmp_path / "runs"), "--baseline-env", "dask-2025.10.0", "--csv", str(csv),
                          "--markdown", str(markdown)])
    assert completed.returncode == 0, completed.stderr
    for text in (completed.stdout, csv.read_text(), markdown.read_text()):
        where = [text.find(f"dask-{version}") for version in RELEASES]
        assert -1 not in where and where == sorted(where), (where, text[:2000])
    knob_rows = [line for line in markdown.read_text().splitlines() if "env=dask-2025.10.0 -> " in line]
    assert len(knob_rows) == 3, markdown.read_text()  # the reference is the base of every other release


@pytest.mark.timeout(120)
def test_commits_follow_a_checkout_s_history(tmp_path):
    checkout = tmp_path / "repo"
    checkout.mkdir()
    git = ["git", "-C", str(checkout), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q"], check=True)
    commits = []
    for index in range(3):
        subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", f"c{index}"], check=True)
        commits.append(subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True,
                                      check=True).stdout.strip())
    order = git_commit_order(str(checkout))
    assert [order[commit] for commit in commits] == [0, 1, 2]
    assert sorted([commits[2][:8], "unknown", commits[0][:8]], key=lambda revision: commit_key(revision, order)) == [
        commits[0][:8], commits[2][:8], "unknown"]
    rng = random.Random(4)
    measured = [commits[2], commits[0], commits[1]]  # measured out of order: the newest commit first
    results = [synthetic(rng=rng, timestamp=f"2026-0{index + 1}-01T00:00:00Z", options={"revision": revision[:10]})
               for index, revision in enumerate(measured) for _ in range(3)]
    db = str(tmp_path / "h.db")
    imported(tmp_path, db, results)
    shown = history("show", "--db", db, "--order", "revision", "--git", str(checkout), "--metric", "total_time")
    assert shown.returncode == EXIT_OK, shown.stderr
    points = [line.split(":")[0].strip() for line in shown.stdout.splitlines() if "total_time median" in line]
    assert points == [commit[:10] for commit in commits]
    for arguments, said in ((["--order", "revision", "--git", str(tmp_path)], "is not a git checkout"),
                            (["--git", str(checkout)], "--git orders commits: give it with --order revision")):
        refused = history("show", "--db", db, *arguments)
        assert refused.returncode == EXIT_USAGE and said in refused.stderr and not refused.stdout
        assert len(refused.stderr.strip().splitlines()) == 1


@pytest.mark.timeout(120)
def test_labels_name_the_machine_and_points_on_other_machines_are_warned_of(tmp_path):
    rng = random.Random(6)
    results = []
    for index, version in enumerate(RELEASES):
        for _ in range(3):
            result = synthetic(version, kind="distributed", rng=rng, timestamp=f"2026-0{index + 1}-01T00:00:00Z")
            result.config["host"] = "127.0.0.1"
            result.environment["cpu_count"] = 8 if index == 3 else 2  # another machine under the same name
            results.append(result)
    db = str(tmp_path / "h.db")
    imported(tmp_path, db, results)
    completed = history("show", "--db", db, "--metric", "total_time")
    assert completed.returncode == EXIT_OK, completed.stderr
    first = completed.stdout.splitlines()[0]
    assert "listen=127.0.0.1" in first and "host=" not in first and " on machine-a" in first
    assert ("warning: its points ran on different machines under the name machine-a: 2 CPUs; 8 CPUs"
            in completed.stdout)
