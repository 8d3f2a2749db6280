"""Why one side of a comparison is slower: its difference, taken apart from the total down.

For each compared pair (``analysis.verdicts.Pair``) the chain, in this order:

* ``phase``: the phases of the total time to ready;
* ``worker_phase``: inside the workers (nanny, process creation, interpreter
  and imports, worker start, registration), for the median worker and the
  slowest worker of each run;
* ``straggler``: each worker that registered much later than the run's
  others on either side (``measure.waterfall``'s rule): how late, and in which
  phase it lost its time;
* ``import``: each package's import time per worker process, from the import
  profiles (``--import-profile``), with the chain of packages that brought it
  in (``slowpkg`` via ``sitecustomize``); where each worker's interpreter wrote
  a log of its own, each worker's excess over the run's other workers too, so a
  cause in one worker stays that worker's;
* ``package`` and ``environment``: the recorded packages whose versions
  differ, Python, and the load each side ran under (sampled before each run
  started, so the load a change itself causes is not taken for a busy machine).

Each timed item compares the per-run values of its two sides as the verdicts
compare metrics: the difference of medians (new - baseline) in seconds, its
95 % percentile-bootstrap interval (the verdicts' fixed seed), Mann-Whitney's
two-sided p, and its share of the difference of the total times (when the
total time's verdict is slower or faster: a share of noise would mislead).  An item is a
*cause* when the runs tell it from noise: p < 0.05 and the interval excludes 0,
and, since a chain tests many items at once, either the total time itself
differs (its verdict is slower or faster: there is a difference to explain)
and the item makes at least ``MIN_SHARE`` of that difference, or
Welch's t-test p clears Bonferroni's bound over every testable item of the pair
(Mann-Whitney's p cannot with a few runs; Welch's can when the difference is
large against the runs' spread, as an import every process of one side makes).
So an A/A comparison lists no cause at all about 19 times in 20
(``benchmarks/bench_explain_aa.py`` counts).  The others are kept, marked
as noise (shown with ``--verbose``).  Items are ordered by level, then by how
much of the difference each explains.
"""

from __future__ import annotations

import statistics
from typing import Any, Callable, Sequence

import msgspec

from dask_timing import phases
from dask_timing.analysis.inference import (
    SIGNIFICANCE, bootstrap_generator, bootstrap_medians, mann_whitney_p, percentile_interval, smallest_p,
)
from dask_timing.analysis.verdicts import FASTER, LOAD_PER_CPU_DIFFERENCE, SLOWER, Pair, Verdict
from dask_timing.record.schema import MachineLoad, TimedRun

PHASE, WORKER_PHASE, STRAGGLER, IMPORT, PACKAGE, ENVIRONMENT = (
    "phase", "worker_phase", "straggler", "import", "package", "environment")
LEVELS = (PHASE, WORKER_PHASE, STRAGGLER, IMPORT, PACKAGE, ENVIRONMENT)
# Units of an item's two values.
SECONDS, SECONDS_PER_PROCESS, SECONDS_LATE, VERSION, LOAD_PER_CPU = (
    "s", "s per worker process", "s after the median worker", "version", "load per CPU")
# A worker's import of a package is its own cause when it took this much longer than the run's other workers'.
WORKER_IMPORT_EXCESS = 0.05
# With the total time's difference to explain, an item that explains less of it than this is left out as minor.
MIN_SHARE = 0.02
MEDIAN_WORKER, SLOWEST_WORKER = "median worker", "slowest worker"
NO_LOAD = MachineLoad()


class Explanation(msgspec.Struct, frozen=True, omit_defaults=True):
    """One item of a pair's chain: both sides' values, the difference in seconds and how sure it is."""

    configuration: str
    level: str
    name: str  # what it is: a phase, "Nanny start (median worker)", a worker, a package
    baseline: float | str | None
    new: float | str | None
    unit: str = SECONDS
    delta_s: float | None = None  # new - baseline, in seconds (None for versions and the load)
    ci_low: float | None = None  # 95 % bootstrap interval of delta_s, where the runs allow one
    ci_high: float | None = None
    p_value: float | None = None
    share: float | None = None  # delta_s over the difference of the total times, when that difference is no noise
    cause: bool = False  # told from noise (the module's rule); versions and a different load are always causes
    baseline_name: str = "baseline"
    new_name: str = "new"
    worker: str | None = None  # the worker it is about (a straggler, a worker's own import)
    phase: str | None = None  # a worker phase item's phase; a straggler's: the worker phase it lost its time in
    package: str | None = None  # an import item's package
    via: list[str] = []  # an import's chain: the packages that brought it in, outermost first
    runs: str | None = None  # a straggler's: in how many runs of each side it straggled
    processes: str | None = None  # an import's: how many worker processes imported it, where not all did

    @property
    def noise(self) -> bool:
        """A timed item the runs cannot tell from noise."""
        return not self.cause and self.delta_s is not None

    @property
    def busier(self) -> str:
        """A load item's side that ran under more load (the new one when alike)."""
        return self.new_name if self.new > self.baseline else self.baseline_name


class _Series(msgspec.Struct, frozen=True):
    """A timed item's per-run values on each side, before it is judged."""

    level: str
    name: str
    baseline: list[float]
    new: list[float]
    unit: str = SECONDS
    extra: dict[str, Any] = {}


def explain_pairs(pairs: Sequence[Pair], verdicts: Sequence[Verdict]) -> list[Explanation]:
    """Every pair's chain, pair after pair (``verdicts``: the pairs' verdicts, whose total time says whether
    there is a difference to explain)."""
    totals = {(verdict.label, verdict.baseline_name, verdict.new_name): verdict for verdict in verdicts
              if verdict.metric == phases.TOTAL_KEY}
    return [item for pair in pairs
            for item in explain(pair, totals.get((pair.label, pair.baseline_name, pair.new_name)))]


def explain(pair: Pair, total: Verdict | None = None) -> list[Explanation]:
    """One pair's chain (``total``: the verdict of its total time, if judged)."""
    old, new = pair.baseline.ok_runs, pair.new.ok_runs
    if not old or not new:
        return []
    series = [*_phase_series(old, new), *_worker_phase_series(old, new), *_straggler_series(old, new),
              *_import_series(old, new)]
    old_totals, new_totals = _values(old, lambda run: run.total_time), _values(new, lambda run: run.total_time)
    difference = (statistics.median(new_totals) - statistics.median(old_totals)) if old_totals and new_totals else None
    total_differs = total is not None and total.verdict in (SLOWER, FASTER)
    testable = [entry for entry in series if len(entry.baseline) >= 2 and len(entry.new) >= 2]
    bound = SIGNIFICANCE / max(1, len(testable))
    timed = [_judge(pair, entry, difference, total_differs, bound) for entry in series]
    timed.sort(key=lambda item: (LEVELS.index(item.level), -abs(item.delta_s or 0.0)))
    return timed + _package_items(pair) + _environment_items(pair)


def causes(explanations: Sequence[Explanation]) -> list[Explanation]:
    """The items the runs tell from noise."""
    return [item for item in explanations if item.cause]


def _values(runs: Sequence[TimedRun], pick: Callable[[TimedRun], float | None]) -> list[float]:
    return [value for value in map(pick, runs) if value is not None]


def _phase_series(old: list[TimedRun], new: list[TimedRun]) -> list[_Series]:
    """The phases of the total, each where both sides have it."""
    keys = [phase.key for phase in phases.ALL_PHASES]
    found = []
    for key in keys:
        before, after = _values(old, lambda run: run.phases.get(key)), _values(new, lambda run: run.phases.get(key))
        if before and after:
            found.append(_Series(PHASE, phases.PHASES_BY_KEY[key].summary_label, before, after))
    return found


def _worker_phase_series(old: list[TimedRun], new: list[TimedRun]) -> list[_Series]:
    """Each worker phase of each run's median worker and slowest worker."""
    found = []
    for phase in phases.WORKER_PHASES:
        for who, pick in ((MEDIAN_WORKER, statistics.median), (SLOWEST_WORKER, max)):
            def value(run: TimedRun) -> float | None:
                seconds = (run.worker_phases or {}).get(phase.key)
                return pick(seconds) if seconds else None

            before, after = _values(old, value), _values(new, value)
            if before and after:
                found.append(_Series(WORKER_PHASE, f"{phase.label} ({who})", before, after,
                                     extra={"phase": phase.label}))
    return found


def _straggler_series(old: list[TimedRun], new: list[TimedRun]) -> list[_Series]:
    """Each worker that straggled in a run of either side: how late it registered in each run that could
    tell (3 workers or more), 0 where it did not straggle."""
    told = [run for run in old if run.stragglers is not None], [run for run in new if run.stragglers is not None]
    names = list(dict.fromkeys(str(straggler["name"]) for runs in told for run in runs for straggler in run.stragglers))
    found = []
    for name in names:
        late = [[_lateness(run, name) for run in runs] for runs in told]
        lost = [straggler["phase"] for runs in told for run in runs for straggler in run.stragglers
                if str(straggler["name"]) == name]
        phase = max(set(lost), key=lost.count)
        counts = [sum(1 for seconds in side if seconds > 0) for side in late]
        found.append(_Series(STRAGGLER, worker_called(name), *late, SECONDS_LATE, {
            "worker": name, "phase": phases.WORKER_PHASES_BY_KEY[phase].label if phase in phases.WORKER_PHASES_BY_KEY
            else phase, "runs": f"{counts[1]} of {len(late[1])} runs, against {counts[0]} of {len(late[0])}"}))
    return found


def worker_called(name: str) -> str:
    """A worker as a sentence names it: ``worker 3``, ``worker-3``."""
    return name if name.startswith("worker") else f"worker {name}"


def _lateness(run: TimedRun, name: str) -> float:
    return next((straggler["excess"] for straggler in run.stragglers if str(straggler["name"]) == name), 0.0)


def _profiles(runs: list[TimedRun]) -> list[dict[str, Any]]:
    return [run.import_profile for run in runs if run.import_profile and run.import_profile.get("top")]


def _import_series(old: list[TimedRun], new: list[TimedRun]) -> list[_Series]:
    """Each package's import seconds per worker process in every profiled run (0 where a run's profile does
    not list it), and each worker's own excess where the profiles keep the workers apart."""
    before, after = _profiles(old), _profiles(new)
    if not before or not after:
        return []
    chains: dict[str, list[str]] = {}
    for profile in [*before, *after]:
        for module, chain in (profile.get("chains") or {}).items():
            chains.setdefault(module, chain)
    modules = dict.fromkeys(entry["module"] for profile in [*before, *after] for entry in profile["top"])
    found = []
    for module in modules:
        def seconds(profile: dict[str, Any]) -> float:
            return next((entry["seconds"] for entry in profile["top"] if entry["module"] == module), 0.0)

        found.append(_Series(IMPORT, module, [seconds(p) for p in before], [seconds(p) for p in after],
                             SECONDS_PER_PROCESS, {"via": chains.get(module, []), "package": module,
                                                   "processes": _importers(module, before, after)}))
    found += _worker_import_series(before, after, chains)
    return found


def _importers(module: str, before: list[dict[str, Any]], after: list[dict[str, Any]]) -> str | None:
    """"1 of 4 worker processes": how many imported ``module`` on the side that imported it most, where
    fewer than all did (a cause in one process, even where the workers' logs were one)."""
    counts = []
    for side in (before, after):
        listed = [profile for profile in side if any(entry["module"] == module for entry in profile["top"])]
        counts += [((profile.get("processes") or {}).get(module, profile["workers"]), profile["workers"])
                   for profile in listed]
    fewer = [count for count in counts if count[0] < count[1]]
    if not fewer or len(fewer) < len(counts):
        return None
    imported, workers = max(fewer, key=lambda count: count[0] / count[1])
    return f"{imported} of {workers} worker processes"


def _worker_import_series(before: list[dict[str, Any]], after: list[dict[str, Any]],
                          chains: dict[str, list[str]]) -> list[_Series]:
    """A worker's import of a package that took it much longer than the run's other workers: its excess
    over their median, in every run whose profile keeps the workers apart (0 where it took no longer)."""
    kept = [[profile["by_worker"] for profile in side if profile.get("by_worker")] for side in (before, after)]
    if not all(kept):
        return []
    outstanding = {(worker, module) for side in kept for workers in side for worker, module in _excessive(workers)}
    return [_Series(IMPORT, f"{module} in {worker_called(worker)}", *[[_excess(workers, worker, module) for workers in side]
                                                              for side in kept],
                    SECONDS_PER_PROCESS, {"worker": worker, "via": chains.get(module, []), "package": module})
            for worker, module in sorted(outstanding)]


def _excess(workers: dict[str, dict[str, float]], worker: str, module: str) -> float:
    """How much longer ``worker`` took to import ``module`` than the median of the run's other workers."""
    if worker not in workers:
        return 0.0
    others = [modules.get(module, 0.0) for name, modules in workers.items() if name != worker]
    return max(0.0, workers[worker].get(module, 0.0) - (statistics.median(others) if others else 0.0))


def _excessive(workers: dict[str, dict[str, float]]) -> list[tuple[str, str]]:
    return [(worker, module) for worker, modules in workers.items() for module in modules
            if len(workers) > 1 and _excess(workers, worker, module) > WORKER_IMPORT_EXCESS]


def _judge(pair: Pair, series: _Series, difference: float | None, total_differs: bool,
           bound: float) -> Explanation:
    """A timed item's figures and whether it is a cause (the module's rule)."""
    old_median, new_median = statistics.median(series.baseline), statistics.median(series.new)
    delta = new_median - old_median
    low = high = p_value = None
    cause = False
    if len(series.baseline) >= 2 and len(series.new) >= 2:
        generator = bootstrap_generator()
        before = bootstrap_medians(series.baseline, generator)
        low, high = percentile_interval(bootstrap_medians(series.new, generator) - before)
        p_value = mann_whitney_p(series.baseline, series.new)
        told = (p_value < SIGNIFICANCE and not low <= 0 <= high
                and smallest_p(len(series.baseline), len(series.new)) < SIGNIFICANCE)
        relevant = total_differs and difference is not None and abs(delta) >= MIN_SHARE * abs(difference)
        cause = told and (relevant or welch_p(series.baseline, series.new) < bound)
    share = delta / difference if difference and total_differs else None
    extra = series.extra
    return Explanation(pair.label, series.level, series.name, old_median, new_median, series.unit, delta, low, high,
                       p_value, share, cause, pair.baseline_name, pair.new_name, extra.get("worker"),
                       extra.get("phase"), extra.get("package"), list(extra.get("via", [])), extra.get("runs"),
                       extra.get("processes"))


def welch_p(baseline: Sequence[float], new: Sequence[float]) -> float:
    """Welch's two-sided t-test p: unlike Mann-Whitney's, it can go below a bound over many items with a
    few runs, when a difference is large against the runs' spread (0 when neither side spreads at all)."""
    from scipy.stats import ttest_ind

    if statistics.pvariance(baseline) == 0 and statistics.pvariance(new) == 0:
        return 1.0 if statistics.mean(baseline) == statistics.mean(new) else 0.0
    return float(ttest_ind(new, baseline, equal_var=False).pvalue)


def _one_value(runs: list[TimedRun], pick: Callable[[TimedRun], Any]) -> Any:
    """What the runs of a side say, the most common answer (runs of one environment agree)."""
    values = [value for value in map(pick, runs) if value is not None]
    return max(set(values), key=values.count) if values else None


def _package_items(pair: Pair) -> list[Explanation]:
    """The recorded packages whose versions differ between the sides."""
    old, new = pair.baseline.ok_runs, pair.new.ok_runs
    names = dict.fromkeys(name for run in [*old, *new] for name in run.package_versions())
    found = []
    for name in names:
        before = _one_value(old, lambda run: run.package_versions().get(name))
        after = _one_value(new, lambda run: run.package_versions().get(name))
        if before != after:
            found.append(Explanation(pair.label, PACKAGE, name, before, after, VERSION, cause=True,
                                     baseline_name=pair.baseline_name, new_name=pair.new_name))
    return found


def _environment_items(pair: Pair) -> list[Explanation]:
    """Python, when it differs; the load before the runs, always (a cause when it differs clearly)."""
    old, new = pair.baseline.ok_runs, pair.new.ok_runs
    found = []
    before = _one_value(old, lambda run: run.run_environment().python_version)
    after = _one_value(new, lambda run: run.run_environment().python_version)
    if before != after:
        found.append(Explanation(pair.label, ENVIRONMENT, "Python", before, after, VERSION, cause=True,
                                 baseline_name=pair.baseline_name, new_name=pair.new_name))
    loads = [_values(runs, lambda run: (run.run_environment().load or NO_LOAD).load_per_cpu) for runs in (old, new)]
    if all(loads):
        sampled = _one_value([*old, *new], lambda run: (run.run_environment().load or NO_LOAD).sampled)
        before, after = statistics.median(loads[0]), statistics.median(loads[1])
        name = "machine load " + ("before each run" if sampled else "when each result was written")
        found.append(Explanation(pair.label, ENVIRONMENT, name, before, after, LOAD_PER_CPU,
                                 cause=abs(after - before) > LOAD_PER_CPU_DIFFERENCE,
                                 baseline_name=pair.baseline_name, new_name=pair.new_name))
    return found


def explanation_documents(explanations: Sequence[Explanation]) -> list[dict[str, Any]]:
    """The items as the verdict file's ``explanations`` list."""
    return [msgspec.structs.asdict(item) for item in explanations]
