"""A bisect: the first of an ordered list of releases, commits or interpreters whose metric is more than PCT
above the first's.

The points are checked before anything is built (``release_points``, ``commit_points``,
``interpreter_points``): an unknown release, a range with nothing in it, a folder that is no git checkout,
GOOD not before BAD or fewer than two points is a usage error.  The first point is the good end; the last
is probed first (is there a step at all?), then the interval between the last good and the first bad point
is halved until they are neighbours.  Each probe is a study of its own (``study.runner``, interleaved, in
a folder of the bisect's output folder): the probe's environment against the good end's, judged by the
study's gate on the bisect's metric.  A probe the gate cannot decide is run once more with twice the runs,
while the budget of ceil(log2 n) + 2 probes allows; after that the bisect says it cannot tell, and where
the step lies as far as it got.  A point between the ends that cannot be built (or whose interpreter cannot
run this tool) is skipped, as ``git bisect skip`` does: marked with its reason, it costs no runs and no
probe of the budget, and the search goes on with the nearest point that may be built; when skipped points
are all that lie between the last good and the first bad point, the bisect says so (cannot tell).  An end
that cannot be built is a usage error: there is nothing to search without it.  The state is saved after
every probe, so ``--resume`` goes on where an interrupted bisect stopped (a probe under way resumes as a
study does).
"""

from __future__ import annotations

import math
import os
import re
import shlex
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable, NamedTuple

from dask_timing.analysis.groups import group_results
from dask_timing.analysis.load import load
from dask_timing.analysis.gate import PASSED, REGRESSION, Gate
from dask_timing.analysis.verdicts import pair_environments
from dask_timing.errors import EXIT_FAILED, EXIT_INCONCLUSIVE, EXIT_OK, UsageError, one_line, signal_exit_code
from dask_timing.measure.env_cache import cached_environments
from dask_timing.measure.environments import (
    Environment, InstallFailed, Recipe, build, check_executable, check_installable, describe, environments_of,
    prepare, release_recipe, released_versions,
)
from dask_timing.analysis.computed import Analysis
from dask_timing.present.analysis import QUIET, present, present_end
from dask_timing.record.environment import utc_timestamp
from dask_timing.record.files import write_json
from dask_timing.record.load import ResultFileError, read_document
from dask_timing.record.releases import release_key
from dask_timing.record.secrets import mask_secrets
from dask_timing.study.manifest import load_plan, save_manifest
from dask_timing.study.plan import PLAN_OPTIONS, Plan
from dask_timing.study.runner import Study

BISECT_DOCUMENT = "dask-timing-bisect"  # the state file: the points, the options and every probe
STATE_FILE = "bisect.json"
GOOD, BAD, UNTOLD = "good", "bad", "cannot tell"
UNBUILT = "cannot be built"  # a skipped point: its environment could not be built, or its interpreter cannot run
# What one environment takes on disk when nothing like it is cached to go by: dask, distributed, bokeh,
# pandas, numpy and the rest (165 MiB for 2025.10.0 on Linux); one sharing its interpreter's packages holds
# little more than the package built from the checkout.
FULL_ENVIRONMENT_BYTES = 170 * 1024**2
SHARED_ENVIRONMENT_BYTES = 1024**2
GIT_TIMEOUT = 60.0


@dataclass(frozen=True)
class Point:
    """One of the bisect's points: a release, a commit or an interpreter, and the environment it runs in."""

    label: str  # as printed: the release, the commit, the interpreter's name
    environment: Environment
    recipe: Recipe | None = None  # a built environment (release or commit): built before its first probe
    title: str = ""  # a commit's full hash and subject

    def cannot(self) -> str:
        """What went wrong when the point cannot be used: a built environment's build, or an interpreter."""
        return "could not be built" if self.recipe is not None else "cannot run this tool"

    def to_json(self) -> dict[str, Any]:
        return {"label": self.label, "environment": self.environment.to_json(),
                "recipe": self.recipe.to_json() if self.recipe else None, "title": self.title}

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> "Point":
        recipe = document.get("recipe")
        return cls(document["label"], Environment.from_json(document["environment"]),
                   Recipe.from_json(recipe) if recipe else None, document.get("title", ""))


def _at_least_two(points: list[Point], what: str) -> list[Point]:
    if len(points) < 2:
        raise UsageError(f"{what}: a bisect needs at least 2 points, the good end first and the bad end last; "
                         f"got {len(points)}")
    return points


def release_points(text: str) -> list[Point]:
    """``A,B,C`` (in release order), or ``A..B``: every release of both dask and distributed from A to B
    that the package index has for this Python (pre-releases only as an end)."""
    from dask_timing.measure.environments import dask_version

    what = f"--dask-versions {text}"
    good, separator, bad = text.partition("..")
    try:
        versions = [dask_version(version.strip()) for version in ([good, bad] if separator else text.split(","))]
    except ValueError as error:
        raise UsageError(f"--dask-versions: {error}") from None
    for earlier, later in zip(versions, versions[1:]):
        if release_key(earlier) >= release_key(later):
            raise UsageError(f"{what}: {earlier} is not before {later} in release order: give the good (older) "
                             "release first")
    if separator:
        versions = _releases_between(*versions)
        if len(versions) < 2:
            raise UsageError(f"{what}: the package index has {len(versions) or 'no'} release(s) of dask and "
                             f"distributed in that range for Python {sys.version_info[0]}.{sys.version_info[1]}"
                             f"{' (' + versions[0] + ')' if versions else ''}; a bisect needs at least 2")
    elif len(versions) >= 2:  # fewer: refused below, without asking the package index
        check_installable(versions)
    environments = environments_of([], versions)
    return _at_least_two([Point(version, environment, release_recipe(version))
                          for version, environment in zip(versions, environments)], what)


def _releases_between(first: str, last: str) -> list[str]:
    """The releases of both dask and distributed from ``first`` to ``last`` the package index offers, in order."""
    found = []
    for version in released_versions("dask") & released_versions("distributed"):
        unparsable, order, _ = release_key(version)  # unparsable: a name from before PEP 440 (1.6.1.linux-x86_64)
        if (not unparsable and release_key(first) <= release_key(version) <= release_key(last)
                and (not order.is_prerelease or version in (first, last))):
            found.append(version)
    return sorted(found, key=release_key)


def _git(folder: str, *arguments: str) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(["git", "-C", folder, *arguments], capture_output=True, text=True,
                              timeout=GIT_TIMEOUT, stdin=subprocess.DEVNULL)
    except FileNotFoundError:
        raise UsageError("--git needs the git command, which is not installed") from None


def _commit(top: str, name: str) -> str:
    found = _git(top, "rev-parse", "--verify", "--quiet", f"{name}^{{commit}}")
    if found.returncode != 0:
        raise UsageError(f"--range: {name} is not a commit of {top}")
    return found.stdout.strip()


def commit_points(path: str, text_range: str, system_site_packages: bool) -> list[Point]:
    """The commits of a git checkout from GOOD to BAD, oldest first, along BAD's first parents; each to be
    installed into an environment of its own (``pip install git+file://...@COMMIT``)."""
    path = os.path.abspath(os.path.expanduser(path))
    if not os.path.isdir(path):
        raise UsageError(f"--git {path}: no such folder")
    top = _git(path, "rev-parse", "--show-toplevel")
    if top.returncode != 0:
        raise UsageError(f"--git {path} is not a git checkout")
    top_folder = top.stdout.strip()
    good, separator, bad = text_range.partition("..")
    if not separator or not good or not bad:
        raise UsageError(f"--range: expected GOOD..BAD (two commits of the checkout), got {text_range!r}")
    good_commit, bad_commit = _commit(top_folder, good), _commit(top_folder, bad)
    if good_commit == bad_commit or _git(top_folder, "merge-base", "--is-ancestor", good_commit,
                                         bad_commit).returncode != 0:
        raise UsageError(f"--range: {good} is not before {bad} in the history of {top_folder}")
    titles = [_git(top_folder, "log", "-1", "--format=%H %s", good_commit).stdout.strip()]
    titles += _git(top_folder, "log", "--reverse", "--first-parent", "--format=%H %s",
                   f"{good_commit}..{bad_commit}").stdout.splitlines()
    package = re.sub(r"[^A-Za-z0-9._+-]", "-", os.path.basename(top_folder)) or "checkout"
    shared = "-shared" if system_site_packages else ""
    points = []
    for title in titles:
        commit = title.split(" ", 1)[0]
        recipe = Recipe(f"git-{package}-{commit[:12]}{shared}", (f"git+file://{top_folder}@{commit}", "distributed"),
                        (("checkout", top_folder), ("commit", commit)), system_site_packages)
        points.append(Point(commit[:12], Environment(f"{package}-{commit[:12]}", recipe.python()), recipe, title))
    return _at_least_two(points, f"--range {text_range}")


def interpreter_points(interpreters: list[tuple[str, str]]) -> list[Point]:
    """Prepared interpreters, in the order given: each an executable file (a typing error is bad input); whether
    it runs this tool is checked, as a study checks it, when probed (one in the middle that cannot is skipped)."""
    points = [Point(environment.name, environment) for environment in environments_of(interpreters, [])]
    for point in points:
        check_executable(point.environment)
    return _at_least_two(points, "--python")


def probe_budget(n_points: int) -> int:
    """The most probes with runs a bisect of ``n_points`` makes: the bad end, the halvings, and one repeat.
    A skipped point (one that cannot be built) costs no runs and is not counted."""
    return math.ceil(math.log2(n_points)) + 2


@dataclass
class Probe:
    """One probe: a point against the good end, in a study of its own."""

    index: int
    runs: int  # of each side; 0 for a point that cannot be built
    folder: str  # the probe's study; "" for a point that cannot be built
    outcome: str | None = None  # GOOD, BAD, UNTOLD or UNBUILT; None: under way
    seconds: float = 0.0
    sentence: str = ""  # the metric's verdict, as the comparison says it; or why the point cannot be built

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Step:
    """What the bisect does next, from the probes so far."""

    action: str  # "probe", or the end: BAD (found), GOOD (no step), UNTOLD
    # The point to probe; at the end, the first bad point, or the one that could not be told (the first bad
    # point itself when only points that cannot be built lie between it and the last good one).
    index: int
    last_good: int
    runs: int = 0
    first_bad: int | None = None  # the first point shown to be slower, if one is
    unbuilt: tuple[int, ...] = ()  # at the end: the points between the last good and the first bad that cannot be built


def with_runs(probes: list[Probe]) -> list[Probe]:
    """The finished probes that ran (a skipped point's costs no runs): what the budget counts."""
    return [probe for probe in probes if probe.outcome not in (None, UNBUILT)]


def next_step(n_points: int, probes: list[Probe], runs: int) -> Step:
    """Replay the finished probes; the next probe, or the end.

    The next probe is the median of the points between the last good and the first bad one that are not
    known to be unbuildable: the midpoint when none is, the nearest point that may be built when the
    midpoint is not; either way each probe with runs halves the points left, so the budget holds."""
    last_good, first_bad, confirmed, untold, unbuilt = 0, n_points - 1, False, {}, set()
    for probe in probes:
        if probe.outcome == BAD and probe.index <= first_bad:
            first_bad, confirmed = probe.index, True
        elif probe.outcome == GOOD:
            if probe.index == n_points - 1:
                return Step(GOOD, probe.index, probe.index)
            last_good = max(last_good, probe.index)
        elif probe.outcome == UNTOLD:
            untold[probe.index] = untold.get(probe.index, 0) + 1
        elif probe.outcome == UNBUILT:
            unbuilt.add(probe.index)
    between = [index for index in range(last_good + 1, first_bad) if index not in unbuilt]
    skipped = tuple(sorted(index for index in unbuilt if last_good < index < first_bad))
    if confirmed and not between:  # neighbours, or only skipped points between them
        return Step(BAD if not skipped else UNTOLD, first_bad, last_good, first_bad=first_bad, unbuilt=skipped)
    target = between[(len(between) - 1) // 2] if confirmed else n_points - 1
    tries = untold.get(target, 0)
    known_bad = first_bad if confirmed else None
    if tries >= 2 or len(with_runs(probes)) >= probe_budget(n_points):
        return Step(UNTOLD, target, last_good, first_bad=known_bad, unbuilt=skipped)
    return Step("probe", target, last_good, runs * 2**tries, known_bad)


def probes_left(n_points: int, step: Step, probes: list[Probe]) -> int:
    """The most probes with runs still to come, this one included, if none needs repeating: one for each
    halving of the points between the bounds not known to be unbuildable, and the bad end's if not probed."""
    unbuilt = {probe.index for probe in probes if probe.outcome == UNBUILT}
    first_bad = n_points - 1 if step.first_bad is None else step.first_bad
    between = sum(1 for index in range(step.last_good + 1, first_bad) if index not in unbuilt)
    return between.bit_length() + (step.first_bad is None)


@dataclass
class State:
    """The bisect's points, options and probes: saved in the output folder after every change."""

    points: list[Point]
    metric: str
    threshold: float
    runs: int
    study_options: dict[str, Any]  # the probes' plan options: type, workers, threads, timeout
    recording: dict[str, str | None] = field(default_factory=dict)
    probes: list[Probe] = field(default_factory=list)
    created: str = field(default_factory=utc_timestamp)

    def to_json(self) -> dict[str, Any]:
        return {"document": BISECT_DOCUMENT, "created": self.created, "metric": self.metric,
                "threshold_percent": self.threshold, "runs": self.runs, "study_options": self.study_options,
                "recording": mask_secrets(self.recording), "points": [point.to_json() for point in self.points],
                "probes": [probe.to_json() for probe in self.probes]}

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> "State":
        if document.get("document") != BISECT_DOCUMENT:
            raise ValueError(f"not a {BISECT_DOCUMENT} document")
        return cls([Point.from_json(point) for point in document["points"]], document["metric"],
                   document["threshold_percent"], document["runs"], document["study_options"],
                   dict(document.get("recording") or {}), [Probe(**probe) for probe in document["probes"]],
                   document["created"])

    @classmethod
    def read(cls, folder: str) -> "State":
        path = os.path.join(folder, STATE_FILE)
        if not os.path.exists(path):
            raise UsageError(f"no bisect to resume in {folder} (no {STATE_FILE})")
        try:
            return cls.from_json(read_document(path))
        except (ResultFileError, KeyError, TypeError, ValueError, AttributeError) as error:
            raise UsageError(f"{path} is not a readable bisect state ({error}); start a new bisect") from None

    def save(self, folder: str) -> None:
        write_json(os.path.join(folder, STATE_FILE), self.to_json(), overwrite=True)

    def plan(self, point: Point, runs: int) -> Plan:
        """A probe's plan: ``point`` against the good end, interleaved."""
        good = self.points[0].environment
        options = {name: None for name in PLAN_OPTIONS}
        options.update(self.study_options, runs=runs, python=[(good.name, good.python),
                                                               (point.environment.name, point.environment.python)])
        plan = Plan.from_options(options)
        plan.recording = dict(self.recording)
        return plan


def build_estimate(points: list[Point], n_probes: int) -> tuple[int, int, int]:
    """(environments to build at most, of those not built yet, their estimated bytes), from the sizes of the
    environments already cached where there are any."""
    unbuilt = [point.recipe for point in points if point.recipe is not None and not point.recipe.is_built()]
    if not unbuilt:
        return 0, 0, 0
    count = min(len(unbuilt), n_probes + 1)
    shared = unbuilt[0].system_site_packages
    sizes = [environment.size for environment in cached_environments()
             if environment.complete and environment.name.endswith("-shared") == shared]
    each = statistics.median(sizes) if sizes else (SHARED_ENVIRONMENT_BYTES if shared else FULL_ENVIRONMENT_BYTES)
    return count, len(unbuilt), int(count * each)


class Compared(NamedTuple):
    """A probe's results compared: what the study's end renders."""

    analysis: Analysis
    n_results: int


def compare_probe(paths: list[str], reference: str, threshold: float, metric: str) -> Compared | None:
    """A probe's results, compared as a study of environments compares them, its gate on ``metric``."""
    if not paths:
        return None
    loaded = load(paths)
    groups = group_results(loaded.results)
    comparison = pair_environments(groups, reference)
    return Compared(Analysis(groups, comparison, threshold, metric=metric), len(loaded.results))


def outcome_of(gate: Gate) -> str:
    """The gate's conclusion as a bisect reads it: over the threshold (bad), within it (good), or neither."""
    return {REGRESSION: BAD, PASSED: GOOD}.get(gate.outcome, UNTOLD)


class ProbeStudy(Study):
    """A probe's study: its runs as any study's; at its end the comparison judged on the bisect's metric,
    kept for the bisect to report rather than printed."""

    def __init__(self, *arguments: Any, metric: str, resume_command: Callable[[], str], **options: Any) -> None:
        super().__init__(*arguments, **options)
        self.metric = metric
        self.resume_command = resume_command
        self.compared: Compared | None = None

    def _summarise(self) -> Gate | None:
        self.compared = compare_probe(self.written, self.plan.environments[0].name, self.fail_if_slower,
                                      self.metric)
        return None if self.compared is None else self.compared.analysis.gate

    def resume_hint(self) -> str:
        return self.resume_command()


class Bisect:
    """Runs the probes one after the other, saving the state after each; stops cleanly on a signal."""

    def __init__(self, state: State, output_dir: str, prog: str, recorder: Any = None,
                 write: Callable[[str], None] = print) -> None:
        self.state = state
        self.output_dir = output_dir
        self.prog = prog
        self.recorder = recorder
        self.write = write
        self.study: ProbeStudy | None = None
        self.stop_signal: int | None = None

    def resume_command(self) -> str:
        return (f"{self.prog}: stopped; go on with: "
                + shlex.join([*shlex.split(self.prog), "--output-dir", self.output_dir, "--resume"]))

    def stop(self, signum: int) -> None:
        """The first signal: a probe under way stops after its current run tears down; a build stops now."""
        from dask_timing.signals import raise_interrupted

        self.stop_signal = signum
        if self.study is not None:
            self.study.stop(signum)
        else:
            raise_interrupted(signum)

    def describe(self) -> None:
        """What the bisect will do, and build, before it starts."""
        state, write = self.state, self.write
        points, n = state.points, len(state.points)
        write(f"Bisect of {n} points, {points[0].label} (good) .. {points[-1].label} (bad): the first whose "
              f"{state.metric} is more than {state.threshold:g}% above {points[0].label}'s")
        options = state.study_options
        write(f"Each probe: {state.runs} run(s) of the point and {state.runs} of {points[0].label}, interleaved "
              f"({', '.join(options['type'])}, {options['workers'][0]} worker(s), {options['threads'][0]} "
              f"thread(s) each); at most {probe_budget(n)} probes (ceil(log2 {n}) + 2)")
        count, unbuilt, size = build_estimate(points, probe_budget(n))
        if count:
            write(f"Builds at most {count} environment(s) ({unbuilt} of the {n} points are not built yet), about "
                  f"{size / 1024**2:.0f} MiB in the user's cache; 'dask-timing envs' lists them, "
                  "'dask-timing envs prune' removes them")
        elif any(point.recipe for point in points):
            write("Builds nothing: every point's environment is built already")

    def run(self) -> int:
        """The bisect to its end; its exit code (found 1, no step 0, cannot tell 3, stopped 128 + signal)."""
        from dask_timing.signals import Interrupted

        state, n = self.state, len(self.state.points)
        try:
            self.check_ends()
            while True:
                step = next_step(n, state.probes, state.runs)
                if step.action != "probe":
                    return self.conclude(step)
                code = self.probe(step)
                if self.stop_signal is not None:  # the probe's study has said how to go on
                    return code
        except Interrupted as stop:  # stopped while building or checking an environment
            print(self.resume_command(), file=sys.stderr)
            return signal_exit_code(stop.signum)

    def _ready(self, point: Point) -> bool:
        """Build the point's environment if it is not built yet and check that its interpreter runs this tool
        (an install that succeeded may still not import); True if built now.  UsageError: it cannot, and why."""
        built = point.recipe is not None and build(point.recipe, self.write)
        describe(point.environment, self.state.plan(self.state.points[-1], self.state.runs).required_modules())
        return built

    def check_ends(self) -> None:
        """Build the good and the bad end before the first probe: an end that cannot be built is one line (a
        UsageError naming the end and why), since the bisect has nothing to search without it."""
        points, began = self.state.points, time.monotonic()
        built = []
        for point, end in ((points[0], "good"), (points[-1], "bad")):
            try:
                if self._ready(point):
                    built.append(point.label)
            except UsageError as error:
                raise UsageError(f"the {end} end, {point.label}, {point.cannot()}: {_why(error)}") from None
        if built:
            self.write(f"Built the environment(s) of {', '.join(built)} in {time.monotonic() - began:.1f} s")

    def probe(self, step: Step) -> int:
        state, n = self.state, len(self.state.points)
        point, good = state.points[step.index], state.points[0]
        probe = next((probe for probe in state.probes if probe.outcome is None), None)
        ran = with_runs(state.probes)
        number = len(ran) + 1
        if probe is None:
            folder = os.path.join(self.output_dir, f"probe{number:02d}_{point.label}")
            probe = Probe(step.index, step.runs, folder)
            state.probes.append(probe)
            state.save(self.output_dir)
        left = probes_left(n, step, state.probes)
        estimate = f"; about {statistics.mean(probe.seconds for probe in ran) * left:.0f} s left" if ran else ""
        self.write("")
        self.write(f"##### Probe {number} of at most {probe_budget(n)}: {point.label} (point {step.index + 1} of "
                   f"{n}) against {good.label}; the step, if any, lies after {state.points[step.last_good].label} "
                   f"(point {step.last_good + 1}){estimate} #####")
        began = time.monotonic()
        if good.recipe is not None:
            build(good.recipe, self.write)  # built before the first probe; again only if removed since
        try:
            if self._ready(point):
                self.write(f"Built the environment of {point.label} in {time.monotonic() - began:.1f} s")
        except UsageError as error:
            if step.index == n - 1:  # the bad end, built before the first probe and gone since
                raise UsageError(f"the bad end, {point.label}, {point.cannot()}: {_why(error)}") from None
            self.skip(probe, point, _why(error), time.monotonic() - began)
            return EXIT_OK
        plan = self._plan(probe, point)
        prepare(plan.environments, plan.required_modules(), self.write)
        self.study = ProbeStudy(plan, probe.folder, False, self.prog, shlex.split(self.prog),
                                fail_if_slower=state.threshold, recorder=self.recorder,
                                label=state.recording.get("label"), revision=state.recording.get("revision"),
                                detail=QUIET, metric=state.metric, resume_command=self.resume_command)
        code = self.study.execute()
        compared, self.study = self.study.compared, None
        probe.seconds += time.monotonic() - began
        if self.stop_signal is not None:
            state.save(self.output_dir)
            return code
        analysis = compared.analysis if compared else None
        probe.outcome = outcome_of(analysis.gate) if analysis else UNTOLD
        verdict = next((verdict for verdict in (analysis.verdicts if analysis else [])
                        if verdict.metric == state.metric), None)
        probe.sentence = verdict.sentence() if verdict else "no comparison: no successful run on a side"
        state.save(self.output_dir)
        self.write(f"Probe {number}: {point.label} is {probe.outcome} ({state.metric}: {probe.sentence}); "
                   f"{probe.seconds:.0f} s")
        return code

    def skip(self, probe: Probe, point: Point, why: str, seconds: float) -> None:
        """Mark the probe's point as one that cannot be built, with why: no runs, no probe of the budget."""
        probe.runs, probe.folder, probe.outcome, probe.sentence = 0, "", UNBUILT, why
        probe.seconds += seconds
        self.state.save(self.output_dir)
        self.write(f"Skipped {point.label} (point {probe.index + 1} of {len(self.state.points)}): it "
                   f"{point.cannot()}: {why}; no runs, no probe counted; {probe.seconds:.0f} s")

    def _plan(self, probe: Probe, point: Point) -> Plan:
        """The probe's plan: new, or from the manifest of a probe that was under way."""
        if os.path.isdir(probe.folder):
            try:
                return load_plan(probe.folder, "latest")
            except UsageError:
                pass  # stopped before its manifest was written: planned anew
        plan = self.state.plan(point, probe.runs)
        os.makedirs(probe.folder, exist_ok=True)
        save_manifest(probe.folder, plan)
        return plan

    def conclude(self, step: Step) -> int:
        """Say what was found, with the comparison of its probe rendered as a study's."""
        state, write = self.state, self.write
        points, good = state.points, state.points[0]
        point, before = points[step.index], points[step.last_good]
        finished = [probe for probe in state.probes if probe.outcome is not None]
        ran = with_runs(finished)
        shown = next((probe for probe in reversed(ran) if probe.index == step.index), None)
        if shown is not None:
            compared = compare_probe(_result_files(shown.folder), good.environment.name, state.threshold,
                                     state.metric)
            if compared is not None:
                write("")
                names = present(compared.analysis, compared.n_results, QUIET)
                present_end(compared.analysis, names, QUIET, self.prog)
        seconds = sum(probe.seconds for probe in finished)
        write("")
        write("=" * 64)
        if step.action == BAD:
            write(f"First slower: {point.label} (point {step.index + 1} of {len(points)}), after {before.label} "
                  f"(point {step.last_good + 1}, within {state.threshold:g}% of {good.label})")
            if point.title:
                write(f"Commit: {point.title}")
            write(f"Step: {shown.sentence}")
            code = EXIT_FAILED
        elif step.action == GOOD:
            write(f"No step: {point.label}, the bad end, is within {state.threshold:g}% of {good.label} "
                  f"({state.metric}: {shown.sentence})")
            code = EXIT_OK
        elif step.index == step.first_bad:  # only points that cannot be built between the bounds
            write(f"Cannot tell which point: the step lies after {before.label} (point {step.last_good + 1} of "
                  f"{len(points)}) and at or before {point.label} (point {step.index + 1}); "
                  f"{self._unbuilt(step)}")
            write(f"Step: {shown.sentence}")
            code = EXIT_INCONCLUSIVE
        else:
            write(f"Cannot tell: {point.label} (point {step.index + 1}) could not be told from {good.label} "
                  f"({state.metric}: {shown.sentence if shown else 'not probed'}); the step, if any, lies after "
                  f"{before.label} (point {step.last_good + 1})"
                  + (f" and at or before {points[step.first_bad].label} (point {step.first_bad + 1})"
                     if step.first_bad is not None else "")
                  + (f"; {self._unbuilt(step)}" if step.unbuilt else "")
                  + ". More runs (--runs) or a quieter machine settle it")
            code = EXIT_INCONCLUSIVE
        skipped = len(finished) - len(ran)
        write(f"{len(ran)} probe(s) of at most {probe_budget(len(points))}"
              + (f", {skipped} point(s) skipped" if skipped else "")
              + f", {seconds:.0f} s; each probe's runs are in {self.output_dir}")
        write("=" * 64)
        return code

    def _unbuilt(self, step: Step) -> str:
        """The points between the bounds that cannot be built, each with why (from its probe)."""
        why = {probe.index: probe.sentence for probe in self.state.probes if probe.outcome == UNBUILT}
        return "; ".join(f"{self.state.points[index].label} (point {index + 1}) {self.state.points[index].cannot()}: "
                         f"{why[index]}" for index in step.unbuilt)


def _why(error: UsageError) -> str:
    """Why a point cannot be used, in one line: pip's last word when its install failed (the point's label says
    which commit or release it was), else what the check of its interpreter found."""
    return one_line(error.why if isinstance(error, InstallFailed) else error)


def _result_files(folder: str) -> list[str]:
    """A probe's result files: its folder's JSON files but the study's manifest."""
    return sorted(os.path.join(folder, name) for name in os.listdir(folder)
                  if name.endswith(".json") and not name.startswith("study_"))
