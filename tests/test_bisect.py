"""dask-timing bisect: over prepared interpreters and over the commits of a git checkout, with real runs;
its honest exits; bad input refused in one line before anything is built."""

from __future__ import annotations

import itertools
import json
import os
import random
import sqlite3
import subprocess
import sys

import pytest
from conftest import REPOSITORY, read_json, run_tool, signal_at
from helpers import assert_usage_error

from dask_timing.study.bisect import BAD, GOOD, UNBUILT, UNTOLD, Probe, next_step, probe_budget, with_runs

pytestmark = pytest.mark.usefixtures("no_leftovers")

PACKAGE = {"PYTHONPATH": REPOSITORY}  # python -m dask_timing, from any folder
SLOW_START = "import time\ntime.sleep({seconds})  # a slow import, in every Python process\n"
NOISY_START = "import random, time\ntime.sleep(random.uniform(0, 1.0){extra})  # noise, and a small step\n"


def bisect(arguments: list[str], timeout: float, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return run_tool(["-m", "dask_timing", "bisect", *arguments], timeout=timeout, env={**PACKAGE, **(env or {})})


def envs(arguments: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return run_tool(["-m", "dask_timing", "envs", *arguments], env={**PACKAGE, **env})


def interpreter(folder, start: str | None = None) -> str:
    """A virtual environment over this interpreter's packages; ``start``: a module its site hook (a .pth
    file) imports at the start of every Python process, as a slow plugin would."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", "--system-site-packages", str(folder)], check=True)
    python = folder / "bin" / "python"
    if start:
        site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                              check=True, capture_output=True, text=True).stdout.strip()
        with open(os.path.join(site, "slow_start.py"), "w") as stream:
            stream.write(start)
        with open(os.path.join(site, "slow_start.pth"), "w") as stream:
            stream.write("import slow_start\n")
    return str(python)


def interpreters(folder, starts: list[str | None]) -> list[str]:
    """``--python pN=PATH`` of each interpreter, in order."""
    arguments = []
    for number, start in enumerate(starts, start=1):
        arguments += ["--python", f"p{number}={interpreter(folder / f'p{number}', start)}"]
    return arguments


def probes(folder) -> list[dict]:
    return read_json(folder / "bisect.json")["probes"]


def test_the_search_replays_its_probes_within_its_budget():
    """The next probe from the probes so far: the bad end first, then halvings, one repeat when undecided. A
    point that cannot be built is passed over for the nearest one between the bounds and costs no probe of the
    budget; when only such points lie between the last good and the first bad, the end says so."""
    def replay(outcomes: dict[int, str], n: int = 8, runs: int = 5):
        done, step = [], next_step(n, [], runs)
        while step.action == "probe":
            outcome = outcomes[step.index] if not callable(outcomes) else outcomes(step.index, done)
            done.append(Probe(step.index, 0 if outcome == UNBUILT else step.runs, "", outcome))
            step = next_step(n, done, runs)
        # A resumed bisect reads the probes from its state file, the skipped marks with them: the same end.
        assert next_step(n, [Probe(**json.loads(json.dumps(probe.to_json()))) for probe in done], runs) == step
        return step, done

    first_slow = {index: BAD if index >= 5 else GOOD for index in range(8)}
    step, done = replay(first_slow)
    assert (step.action, step.index, step.last_good) == (BAD, 5, 4)
    assert [probe.index for probe in done] == [7, 3, 5, 4] and len(done) <= probe_budget(8) == 5
    step, done = replay({index: GOOD for index in range(8)})
    assert (step.action, [probe.index for probe in done]) == (GOOD, [7])
    # Undecided once: the same point again with twice the runs; undecided twice: cannot tell.
    step, done = replay(lambda index, done: UNTOLD if index == 3 else first_slow[index])
    assert step.action == UNTOLD and [(probe.index, probe.runs) for probe in done] == [(7, 5), (3, 5), (3, 10)]
    assert (step.last_good, step.first_bad) == (0, 7)
    untold_once = lambda index, done: UNTOLD if index == 3 and not any(p.index == 3 for p in done) else first_slow[index]
    step, done = replay(untold_once)
    assert (step.action, step.index) == (BAD, 5) and len(done) == 5
    for n in (2, 3, 5, 16, 100):  # never over the budget, whatever each probe says
        for bad_from in range(1, n):
            step, done = replay({index: BAD if index >= bad_from else GOOD for index in range(n)}, n)
            assert (step.action, step.index) == (BAD, bad_from) and len(done) <= probe_budget(n)

    def stepped(n: int, bad_from: int, unbuilt: set[int]) -> dict[int, str]:
        return {index: UNBUILT if index in unbuilt else BAD if index >= bad_from else GOOD for index in range(n)}

    # The midpoint 3 cannot be built: the nearest point above it is probed instead, and the step is pinned.
    step, done = replay(stepped(8, 5, {3}))
    assert [(probe.index, probe.outcome) for probe in done] == [(7, BAD), (3, UNBUILT), (4, GOOD), (5, BAD)]
    assert (step.action, step.index, step.last_good, step.unbuilt) == (BAD, 5, 4, ())
    # 3 and 4 cannot be built and the step is at 5: after 2 and at or before 5, and which is not known.
    step, done = replay(stepped(8, 5, {3, 4}))
    assert [probe.index for probe in done] == [7, 3, 4, 2, 5] and len(with_runs(done)) == 3
    assert (step.action, step.index, step.last_good, step.first_bad, step.unbuilt) == (UNTOLD, 5, 2, 5, (3, 4))
    # Every point between the ends cannot be built: the bad end's probe is the only one with runs.
    step, done = replay(stepped(6, 2, {1, 2, 3, 4}), 6)
    assert (step.action, step.last_good, step.first_bad, len(with_runs(done))) == (UNTOLD, 0, 5, 1)
    # Whatever cannot be built, the end is where the probes that ran put the step, within the budget.
    cases = [(n, bad_from, set(unbuilt)) for n in range(3, 10) for bad_from in range(1, n)
             for size in range(n - 1) for unbuilt in itertools.combinations(range(1, n - 1), size)]
    chosen = random.Random(23)
    cases += [(n, chosen.randrange(1, n), set(chosen.sample(range(1, n - 1), chosen.randrange(n - 2))))
              for n, count in ((16, 200), (100, 200), (1000, 20)) for _ in range(count)]
    for n, bad_from, unbuilt in cases:
        step, done = replay(stepped(n, bad_from, unbuilt), n)
        last_good = max(index for index in range(bad_from) if index not in unbuilt)
        first_bad = min(index for index in range(bad_from, n) if index not in unbuilt)
        assert (step.index, step.last_good) == (first_bad, last_good), (n, bad_from, unbuilt)
        assert step.action == (BAD if first_bad - last_good == 1 else UNTOLD)
        assert step.unbuilt == tuple(sorted(index for index in unbuilt if last_good < index < first_bad))
        assert len(with_runs(done)) <= probe_budget(n) - 1  # no probe undecided: the repeat is not needed
        assert len({probe.index for probe in done}) == len(done)  # no point built or probed twice


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_bisect_over_eight_interpreters_finds_the_sixth_names_its_import_and_records_every_probe(tmp_path):
    points = interpreters(tmp_path, [None] * 5 + [SLOW_START.format(seconds=1.0)] * 3)
    database = tmp_path / "history.db"
    # Distributed: the scheduler's, the nanny's and the worker's processes each pay the slow import, one after
    # the other: about 3 s on a total of 2.5-3.5 s. A step that large against a threshold of 40 % is decided
    # on a loaded machine too, where two alike sides are told apart by up to 30 % with 4 runs each.
    completed = bisect([*points, "--type", "distributed", "--workers", "1", "--runs", "4", "--threshold", "40",
                        "--import-profile", "--db", str(database), "-o", str(tmp_path / "out")], timeout=1100)
    assert completed.returncode == 1, completed.stdout + completed.stderr
    assert "First slower: p6 (point 6 of 8), after p5 (point 5" in completed.stdout
    assert "Step: p6 is " in completed.stdout and "times slower than p1 (95 % CI [" in completed.stdout
    assert "Probe 1 of at most 5: p8 (point 8 of 8) against p1" in completed.stdout
    done = probes(tmp_path / "out")
    assert len(done) <= 5 and done[-1]["index"] in (4, 5) and all(probe["outcome"] for probe in done)
    # The step's comparison, rendered as a study of environments renders it, its Why naming the import.
    assert "COMPARISON (new / baseline" in completed.stdout and "REGRESSION: " in completed.stdout
    why = completed.stdout[completed.stdout.rindex("Why p6 differs from p1"):]
    assert "import of slow_start" in why, why
    runs = sum(probe["runs"] * 2 for probe in done)
    with sqlite3.connect(database) as connection:
        assert connection.execute("select count(*) from runs").fetchone()[0] == runs


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_no_step_exits_0_and_a_step_smaller_than_the_noise_exits_3(tmp_path):
    same = bisect([*interpreters(tmp_path / "same", [None] * 3), "--workers", "1", "--runs", "4",
                   "--threshold", "50", "-o", str(tmp_path / "same_out")], timeout=400)
    assert same.returncode == 0, same.stdout + same.stderr
    assert "No step: p3, the bad end, is within 50% of p1" in same.stdout
    # The bad end alone: once, or once more with twice the runs when a busy machine blurred the first.
    done = probes(tmp_path / "same_out")
    assert [probe["index"] for probe in done] in ([2], [2, 2]) and done[-1]["outcome"] == GOOD, done
    noisy = bisect([*interpreters(tmp_path / "noisy", [NOISY_START.format(extra=""), NOISY_START.format(extra="+ 0.05")]),
                    "--workers", "1", "--runs", "4", "-o", str(tmp_path / "noisy_out")], timeout=480)
    assert noisy.returncode == 3, noisy.stdout + noisy.stderr
    assert "Cannot tell: p2 (point 2) could not be told from p1" in noisy.stdout
    assert "INCONCLUSIVE: " in noisy.stdout
    assert [(probe["index"], probe["runs"]) for probe in probes(tmp_path / "noisy_out")] == [(1, 4), (1, 8)]


def git(folder, *arguments: str) -> str:
    return subprocess.run(["git", "-C", str(folder), "-c", "user.name=t", "-c", "user.email=t@example.com",
                           *arguments], check=True, capture_output=True, text=True).stdout.strip()


PYPROJECT = ('[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n\n[project]\n'
             'name = "startup-plugin"\nversion = "0.1"\n\n[tool.setuptools]\npy-modules = ["sitecustomize"]\n')


def small_package(folder, slow_from: int, commits: int, broken: int | None = None) -> list[str]:
    """A git repository of a package whose module Python imports at every start (a sitecustomize); its commit
    ``slow_from`` (counted from 0) makes that import take 2.5 s; its commit ``broken`` has a pyproject.toml
    pip cannot read, which the next commit mends.  Its commits, oldest first."""
    folder.mkdir()
    git(folder, "init", "-q")
    for number in range(commits):
        slow = SLOW_START.format(seconds=2.5) if number >= slow_from else ""
        (folder / "sitecustomize.py").write_text(f"# revision {number}\n{slow}")
        unclosed = PYPROJECT.replace('"setuptools"]', '"setuptools"')  # an array never closed: not TOML
        (folder / "pyproject.toml").write_text(unclosed if number == broken else PYPROJECT)
        git(folder, "add", "-A")
        git(folder, "commit", "-q", "-m", f"revision {number}")
    return git(folder, "rev-list", "--reverse", "HEAD").split()


@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_bisect_over_the_commits_of_a_checkout_finds_the_commit_and_envs_lists_and_prunes_them(tmp_path):
    commits = small_package(tmp_path / "plugin", slow_from=3, commits=5)
    cache = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    # A step of 7.5 s (three processes pay it) against a threshold of 40 %: clear even on a loaded machine,
    # where two sides alike are told apart by up to 30 % with 5 runs each.
    completed = bisect(["--git", str(tmp_path / "plugin"), "--range", f"{commits[0]}..HEAD", "--system-site-packages",
                        "--type", "distributed", "--workers", "1", "--runs", "5", "--threshold", "40",
                        "-o", str(tmp_path / "out")], timeout=1400, env=cache)
    assert completed.returncode == 1, completed.stdout + completed.stderr
    assert f"First slower: {commits[3][:12]} (point 4 of 5), after {commits[2][:12]}" in completed.stdout
    assert f"Commit: {commits[3]} revision 3" in completed.stdout
    assert "Builds at most 5 environment(s) (5 of the 5 points are not built yet), about" in completed.stdout
    listed = envs([], cache)
    assert listed.returncode == 0, listed.stderr
    built = {probe["index"] for probe in probes(tmp_path / "out")} | {0}
    for index in built:
        assert f"commit {commits[index][:12]} of {tmp_path / 'plugin'}, sharing its interpreter's packages" in listed.stdout
    pruned = envs(["prune", "--all"], cache)
    assert pruned.returncode == 0 and f"Removed {len(built)} environment(s)" in pruned.stdout, pruned.stdout
    assert "No environment is built" in envs([], cache).stdout


@pytest.mark.slow
@pytest.mark.timeout(420)
def test_a_commit_that_cannot_be_built_is_skipped_and_the_step_told_as_far_as_the_others_show(tmp_path):
    commits = small_package(tmp_path / "plugin", slow_from=2, commits=4, broken=1)
    labels = [commit[:12] for commit in commits]
    cache = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    out = tmp_path / "out"
    # The bad end first; its midpoint, commit 1, cannot be installed: skipped for commit 2, which is slower, so
    # the step is after commit 0 and at or before commit 2, and whether at 1 or 2 no run can tell.  The step:
    # the worker's process pays 2.5 s on a total of 1-3.5 s, against 40 %, decided on a loaded machine too.
    arguments = ["--git", str(tmp_path / "plugin"), "--range", f"{commits[0]}..HEAD", "--system-site-packages",
                 "--workers", "1", "--runs", "4", "--threshold", "40"]
    completed = bisect([*arguments, "-o", str(out)], timeout=360, env=cache)
    assert completed.returncode == 3, completed.stdout + completed.stderr
    done = probes(out)
    assert [(probe["index"], probe["outcome"]) for probe in done] == [(3, BAD), (1, UNBUILT), (2, BAD)]
    why = done[1]["sentence"]  # pip's own last word: its wording is pip's
    assert done[1]["runs"] == 0 and why and "\n" not in why
    lines = completed.stdout.splitlines()
    assert any(line.startswith(f"Skipped {labels[1]} (point 2 of 4): it could not be built: {why}; no runs, no "
                               "probe counted; ") for line in lines)
    assert [line.split(":")[0] for line in lines if line.startswith("##### Probe ")] == [
        "##### Probe 1 of at most 4", "##### Probe 2 of at most 4", "##### Probe 2 of at most 4"]
    end = (f"Cannot tell which point: the step lies after {labels[0]} (point 1 of 4) and at or before {labels[2]} "
           f"(point 3); {labels[1]} (point 2) could not be built: {why}")
    assert end in lines and f"Step: plugin-{labels[2]} is " in completed.stdout
    assert "2 probe(s) of at most 4, 1 point(s) skipped, " in completed.stdout
    # Resumed, the skipped mark holds: nothing is built or run again, and the end is the same.
    resumed = bisect(["-o", str(out), "--resume"], timeout=120, env=cache)
    assert resumed.returncode == 3, resumed.stdout + resumed.stderr
    assert "2 probe(s) of at most 4 done, 1 point(s) skipped" in resumed.stdout and end in resumed.stdout
    assert "Building" not in resumed.stdout and len(probes(out)) == 3
    # An end that cannot be built is one line, which end and why, and leaves nothing of the bisect.
    for given, which in ((f"{commits[1]}..HEAD", f"the good end, {labels[1]}"),
                         (f"{commits[0]}..{commits[1]}", f"the bad end, {labels[1]}")):
        refused = bisect([*arguments[:2], "--range", given, *arguments[4:], "-o", str(tmp_path / "refused")],
                         timeout=120, env=cache)
        assert_usage_error(refused, f"{which}, could not be built: {why}", stdout_empty=False)
        assert not (tmp_path / "refused").exists()


BAD_POINTS = [
    (["--dask-versions", "2025.12.0,1999.1.1"], "not before 1999.1.1 in release order"),
    (["--dask-versions", "2025.12.0..2025.11.0"], "2025.12.0 is not before 2025.11.0"),
    (["--dask-versions", "2025.12.0"], "at least 2 points"),
    (["--dask-versions", "2025.x"], "expected a release such as"),
    (["--python", f"a={sys.executable}"], "at least 2 points"),
    (["--python", f"a={sys.executable}", "--python", f"a={sys.executable}"], "two environments are named a"),
    ([*(f"--python={name}={sys.executable}" for name in "ab"), "--python", "c=no-such-python", "--python",
      f"d={sys.executable}"], "no-such-python: no such executable file"),
    (["--python", f"a={sys.executable}", "--dask-versions", "2025.11.0,2025.12.0"], "give the points one way"),
    ([], "give the points one way"),
    (["--range", "a..b"], "--range goes with --git"),
    (["--python", f"a={sys.executable}", "--python", f"b={sys.executable}", "--runs", "3"], "--runs 3: with fewer"),
]


@pytest.mark.parametrize("arguments, message", BAD_POINTS)
def test_bad_points_are_one_line_before_anything_is_built(tmp_path, arguments, message):
    completed = bisect([*arguments, "-o", str(tmp_path / "out")], timeout=60)
    assert_usage_error(completed)
    assert message in completed.stderr and not (tmp_path / "out").exists()


@pytest.mark.timeout(300)
def test_bad_releases_ranges_and_checkouts_are_refused_before_anything_is_built(tmp_path):
    commits = small_package(tmp_path / "plugin", slow_from=9, commits=2)
    (tmp_path / "plain").mkdir()
    cache = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    cases = [
        (["--dask-versions", "2025.11.0,1999.1.1"], "1999.1.1 in release order"),
        (["--dask-versions", "2025.11.0,2025.12.0,2099.1.0"], "2099.1.0 cannot be installed"),  # unknown release
        (["--dask-versions", "2025.7.1..2025.7.9"], "the package index has no release(s)"),  # nothing in the range
        (["--git", str(tmp_path / "plain"), "--range", "a..b"], "is not a git checkout"),
        (["--git", str(tmp_path / "none"), "--range", "a..b"], "no such folder"),
        (["--git", str(tmp_path / "plugin")], "--git needs --range GOOD..BAD"),
        (["--git", str(tmp_path / "plugin"), "--range", "HEAD"], "expected GOOD..BAD"),
        (["--git", str(tmp_path / "plugin"), "--range", f"HEAD..{commits[0]}"], "is not before"),
        (["--git", str(tmp_path / "plugin"), "--range", "HEAD..HEAD"], "is not before"),  # nothing in the range
        (["--git", str(tmp_path / "plugin"), "--range", "nosuch..HEAD"], "nosuch is not a commit of"),
    ]
    for arguments, message in cases:
        completed = bisect([*arguments, "-o", str(tmp_path / "out")], timeout=240, env=cache)
        assert_usage_error(completed)
        assert message in completed.stderr, (arguments, completed.stderr)
        assert not (tmp_path / "out").exists() and not (tmp_path / "cache").exists()


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_an_interrupted_bisect_leaves_nothing_running_and_resumes(tmp_path):
    points = interpreters(tmp_path, [None, None, SLOW_START.format(seconds=0.3)])
    out = tmp_path / "out"
    process = subprocess.Popen([sys.executable, "-m", "dask_timing", "bisect", *points, "--workers", "1", "--runs", "4",
                                "-o", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, **PACKAGE})
    _, stdout, stderr = signal_at(process, "✓ total time to ready", timeout=120)
    assert process.returncode == 143, stdout + stderr
    assert f"--output-dir {out} --resume" in stderr
    assert json.loads((out / "bisect.json").read_text())["probes"][0]["outcome"] is None
    again = bisect(["-o", str(out), "--resume", "--threshold", "5"], timeout=60)
    assert_usage_error(again)
    assert "drop --threshold" in again.stderr
    resumed = bisect(["-o", str(out), "--resume", "--threshold", "10"], timeout=360)  # the default, as given
    assert resumed.returncode in (1, 3), resumed.stdout + resumed.stderr
    assert "Resuming the bisect" in resumed.stdout and "Resuming: 1 of 8 run(s) already done" in resumed.stdout
