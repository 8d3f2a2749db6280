"""Statistics worth trusting, the scaling law, and a regression gate: checked against numpy and scipy."""

from __future__ import annotations

import csv
import io
import itertools
import random
import shutil
import subprocess

import msgspec
import numpy
import pytest
from conftest import ANALYZER, run_tool
from helpers import fake_run, save_run
from scipy import stats as scipy_stats

from dask_timing.analysis.computed import Analysis
from dask_timing.analysis.groups import Group, group_results
from dask_timing.analysis.knobs import knob_effects
from dask_timing.analysis.ranking import rank
from dask_timing.analysis.scaling import MIN_FIT_WORKER_COUNTS, fit_scaling
from dask_timing.analysis.stats import box_of, outlier_indices, runs_needed, t_quantile_975, warnings_for
from dask_timing.record import statistics as record_statistics
from dask_timing.record.schema import MAX_SECONDS
from dask_timing.record.statistics import LONG_SERIES, summarize
from dask_timing.analysis.inference import BOOTSTRAP_RESAMPLES, bootstrap_medians
from dask_timing.analysis.verdicts import FASTER, INCONCLUSIVE, NO_CHANGE, SLOWER, judge
from dask_timing.present.exports import html_page
from dask_timing.present.plots import draw_all, pyplot
from dask_timing.present.report import write_scaling

pytestmark = pytest.mark.timeout(120)


def test_a_long_series_is_summarized_to_the_same_figures_bit_for_bit(monkeypatch):
    """From LONG_SERIES values on, numpy sorts and subtracts: every figure the same as Python's, to the bit."""
    generator = random.Random(8)
    series = [[generator.lognormvariate(0, 1) for _ in range(LONG_SERIES + 1)],
              [round(generator.uniform(0, 2), 3) for _ in range(2 * LONG_SERIES)],  # ties, an even count
              [generator.choice([0.0, 1e-9, 0.5, MAX_SECONDS]) for _ in range(LONG_SERIES)]]
    long = [msgspec.json.encode(summarize(values)) for values in series]
    monkeypatch.setattr(record_statistics, "LONG_SERIES", len(series[1]) + 1)
    assert long == [msgspec.json.encode(summarize(values)) for values in series]


def test_summary_matches_numpy():
    values = [random.Random(3).uniform(1, 2) for _ in range(37)]
    summary = summarize(values)
    array = numpy.array(values)
    assert summary.mean == pytest.approx(array.mean())
    assert summary.stddev == pytest.approx(array.std(ddof=1))
    assert summary.median == pytest.approx(numpy.median(array))
    assert summary.mad == pytest.approx(numpy.median(numpy.abs(array - numpy.median(array))))
    assert summary.p5 == pytest.approx(numpy.percentile(array, 5))
    assert summary.p95 == pytest.approx(numpy.percentile(array, 95))


@pytest.mark.parametrize("n", [1, 2, 5, 6])
def test_bootstrap_medians_have_the_distribution_of_resampled_medians(n):
    """Drawn without drawing every value, the medians still follow the exact distribution of the median of
    n values drawn with replacement (every one of the n^n resamples counted)."""
    values = numpy.arange(1, n + 1, dtype=float) ** 2  # distinct: every median says which values made it
    resamples = numpy.array(list(itertools.product(values, repeat=n)))
    exact_values, exact_counts = numpy.unique(numpy.median(resamples, axis=1), return_counts=True)
    drawn = numpy.concatenate([bootstrap_medians(values, numpy.random.default_rng(seed)) for seed in range(25)])
    assert len(drawn) == 25 * BOOTSTRAP_RESAMPLES
    drawn_values, drawn_counts = numpy.unique(drawn, return_counts=True)
    assert set(drawn_values) <= set(exact_values)  # nothing a resample cannot give
    observed = [int(drawn_counts[drawn_values == value].sum()) for value in exact_values]
    if len(exact_values) > 1:
        expected = exact_counts / exact_counts.sum() * len(drawn)
        assert scipy_stats.chisquare(observed, expected).pvalue > 0.001


def test_outliers_are_flagged_by_modified_z_score():
    values = [1.00, 1.01, 0.99, 1.02, 0.98, 1.00, 1.60]
    assert outlier_indices(values) == [6]
    assert outlier_indices([1.0, 1.01, 0.99, 1.02]) == []


def test_outliers_among_mostly_equal_values_are_flagged_too():
    """MAD 0 (most runs equal, on a coarse clock say): Iglewicz and Hoaglin's mean-deviation score."""
    assert outlier_indices([1.0, 1.0, 1.0, 1.0, 50.0]) == [4]
    assert outlier_indices([2.0] + [1.0] * 9) == [0]
    assert outlier_indices([1.0, 1.0, 1.0, 1.0, 1.001]) == []  # a tick, not an outlier
    assert outlier_indices([1.0, 1.0, 1.0, 2.0, 2.0]) == []  # two alike are no outliers of each other
    assert outlier_indices([1.0, 1.0, 1.0]) == []


def test_warnings_like_pyperf():
    assert any("unstable" in w.sentence for w in warnings_for([1.0, 1.5, 0.7, 1.3]))
    assert any("first run" in w.sentence for w in warnings_for([2.0, 1.0, 1.01, 0.99]))
    few = warnings_for([1.0, 1.05, 0.95])
    assert any("too few runs" in w.sentence for w in few)
    steady = [1.0 + 0.001 * (-1) ** k for k in range(20)]
    assert warnings_for(steady) == []


def test_each_configuration_is_resampled_once_from_its_own_seed():
    """The ranking and what each setting costs read one draw of each configuration's resamples, from a seed
    fixed by what the configuration is: its interval against the fastest is the same whatever other
    configurations are ranked with them, and the same files always give the same intervals."""
    generator = numpy.random.default_rng(11)
    totals = {workers: list(generator.normal(1.0 + 0.2 * workers, 0.1, n))
              for workers, n in ((1, 7), (2, 8), (3, 501), (4, 5))}  # odd, even, many

    def ranked(counts):
        results = [(f"w{workers}-{index}.json", fake_run({"n_workers": workers}, total, second=index))
                   for workers in counts for index, total in enumerate(totals[workers])]
        groups = group_results(results)
        return groups, {standing.group.config["n_workers"]: (standing.relative_low, standing.relative_high)
                        for standing in rank(groups)}

    groups, everything = ranked([1, 2, 3, 4])
    assert all(low < (1.0 + 0.2 * workers) / 1.2 < high for workers, (low, high) in everything.items() if workers > 1)
    assert ranked([1, 2, 3, 4])[1] == everything
    assert ranked([4, 1])[1][4] == everything[4]  # the other configurations left out: the same interval
    first = groups[2].resampled_total_medians
    knob_effects(groups)
    assert groups[2].resampled_total_medians is first  # drawn once for both
    assert not numpy.array_equal(groups[1].resampled_total_medians[:50], groups[3].resampled_total_medians[:50])


def test_runs_needed_for_one_percent():
    values = [1.0, 1.1, 0.9, 1.05, 0.95]
    expected = (1.959964 * numpy.std(values, ddof=1) / (0.01 * numpy.mean(values))) ** 2
    assert runs_needed(values) == int(numpy.ceil(expected))


@pytest.mark.parametrize("degrees", [1, 2, 5, 10, 29, 30, 31, 50, 200, 5000])
def test_t_quantile_matches_scipy(degrees):
    assert t_quantile_975(degrees) == pytest.approx(scipy_stats.t.ppf(0.975, degrees), rel=5e-5)


def group_of(workers: int, totals: list[float], threads: int = 1) -> Group:
    group = Group("local", {"n_workers": workers, "threads_per_worker": threads})
    for total in totals:
        group.runs.append(fake_run(dict(group.config), total))
        group.paths.append("x")
    group.label = f"local, {workers} workers"
    return group


def test_scaling_law_matches_scipy_linregress():
    generator = random.Random(5)
    family = [group_of(n, [0.8 + 0.3 * n + generator.gauss(0, 0.05) for _ in range(5)]) for n in (1, 2, 4, 8)]
    fit = fit_scaling(family)
    xs = [n for n in (1, 2, 4, 8) for _ in range(5)]
    ys = [value for group in family for value in group.values_by_metric()["total_time"]]
    reference = scipy_stats.linregress(xs, ys)
    quantile = scipy_stats.t.ppf(0.975, len(xs) - 2)
    assert fit.slope == pytest.approx(reference.slope)
    assert fit.intercept == pytest.approx(reference.intercept)
    assert fit.r_squared == pytest.approx(reference.rvalue**2)
    assert fit.slope_interval[0] == pytest.approx(reference.slope - quantile * reference.stderr, rel=1e-4)
    assert fit.intercept_interval[1] == pytest.approx(reference.intercept + quantile * reference.intercept_stderr,
                                                      rel=1e-4)


@pytest.mark.parametrize("values", [[1.0], [2.0, 1.0], [1.0, 1.1, 1.2, 5.0], [3.0, 3.0, 3.0, 3.0, 9.0],
                                    [random.Random(n).lognormvariate(0, 1) for n in range(25)]])
def test_the_box_of_the_total_times_is_the_one_matplotlib_would_draw(values):
    from matplotlib.cbook import boxplot_stats

    (expected,) = boxplot_stats(values)
    assert tuple(box_of(values)) == pytest.approx(tuple(expected[key] for key in ("q1", "med", "q3", "whislo",
                                                                                   "whishi")), rel=1e-12)


def scaling_said(groups: list[Group]) -> tuple[list[str], str, str]:
    """What the text, the scaling plot (its title and legend) and the HTML report say of these groups' scaling."""
    analysis = Analysis(groups)
    text: list[str] = []
    write_scaling(analysis, text.append)
    (figure,) = next(drawing for drawing in draw_all(analysis) if drawing.stem == "timing_scaling").figures
    legend = " ".join(" ".join(text.get_text() for text in axes.get_legend().get_texts()) for axes in figure.axes)
    plot = f"{figure.get_suptitle()} {legend}"
    pyplot().close(figure)
    return text, " ".join(plot.split()), html_page.render(analysis)


NO_FIT_WORDS = "needs 3 or more worker counts"


def test_a_fit_needs_three_worker_counts_and_every_output_says_so():
    generator = random.Random(7)
    two = [group_of(n, [0.8 + 0.3 * n + generator.gauss(0, 0.05) for _ in range(5)]) for n in (1, 2)]
    assert MIN_FIT_WORKER_COUNTS == 3
    assert fit_scaling(two) is None  # a line through two counts' means fits them whatever the law: no R²
    (family,) = Analysis(two).scaling
    assert family.fit is None and family.no_fit.endswith(NO_FIT_WORDS)
    text, legend, page = scaling_said(two)
    assert f"  {family.no_fit}" in text and not [line for line in text if "R^2" in line]
    assert legend.count(family.no_fit) == 1 and "R²" not in legend  # said once, whatever the number of families
    assert family.no_fit in page and "<th>R²</th>" in page
    three = [*two, group_of(4, [2.0 + generator.gauss(0, 0.05) for _ in range(5)])]
    (family,) = Analysis(three).scaling
    assert family.fit is not None and family.no_fit == ""
    text, legend, page = scaling_said(three)
    assert [line for line in text if "R^2" in line] and "R² = " in legend and "no fit" not in page
    # One family fitted, one not: each legend entry says its own.
    mixed = [*three, *(group_of(n, [1.0 + 0.2 * n + generator.gauss(0, 0.05) for _ in range(5)], threads=2)
                       for n in (1, 2))]
    families = Analysis(mixed).scaling
    assert sorted(family.fit is None for family in families) == [False, True]
    text, legend, page = scaling_said(mixed)
    assert "R² = " in legend and legend.count(NO_FIT_WORDS) == 1, legend


def sample(center: float, n: int, seed: int) -> list[float]:
    generator = random.Random(seed)
    return [center * generator.gauss(1.0, 0.03) for _ in range(n)]


def test_a_a_comparisons_find_no_change():
    same = sample(2.0, 10, 1)
    verdict = judge("x", "total_time", same, same)
    assert verdict.verdict == NO_CHANGE and verdict.ratio == 1.0 and verdict.p_value == 1.0
    study = sample(2.0, 20, 2)
    halves = judge("x", "total_time", study[::2], study[1::2])  # two halves of one study
    assert halves.verdict == NO_CHANGE
    assert halves.ci_low <= 1 <= halves.ci_high


def test_a_b_comparisons_find_the_change():
    slower = judge("x", "total_time", sample(2.0, 12, 3), sample(2.6, 12, 4))
    assert slower.verdict == SLOWER and slower.ratio > 1.2 and slower.p_value < 0.05 and slower.ci_low > 1
    assert slower.p_value == pytest.approx(
        scipy_stats.mannwhitneyu(sample(2.6, 12, 4), sample(2.0, 12, 3), alternative="two-sided").pvalue)
    faster = judge("x", "total_time", sample(2.0, 12, 5), sample(1.5, 12, 6))
    assert faster.verdict == FASTER and faster.ci_high < 1
    tiny = judge("x", "total_time", [1.0, 1.1, 1.2], [2.0, 2.1, 2.2])  # 3 vs 3: p cannot go below 0.1
    assert tiny.verdict == INCONCLUSIVE and tiny.verdict != NO_CHANGE  # never "no significant change"
    assert tiny.smallest_p == pytest.approx(0.1) and "run at least 4 of each" in tiny.note


def write_runs(folder, workers: int, totals: list[float], start: int = 0) -> None:
    folder.mkdir(exist_ok=True)
    for index, total in enumerate(totals, start=start):
        group = group_of(workers, [total])
        run = group.runs[0]
        run.timestamp = f"2026-01-01T00:00:{index:02d}Z"
        save_run(folder / f"run{index:03d}.json", run)


def test_gate_passes_an_a_a_comparison_and_fails_a_real_slowdown(tmp_path):
    old, same, slow, a_bit = tmp_path / "old", tmp_path / "same", tmp_path / "slow", tmp_path / "a_bit"
    baseline = sample(2.0, 12, 7)
    write_runs(old, 4, baseline)
    write_runs(same, 4, baseline)
    write_runs(slow, 4, sample(2.8, 12, 8))
    write_runs(a_bit, 4, sample(2.16, 12, 9))
    same_run = run_tool([ANALYZER, str(same / "*.json"), "--baseline", str(old / "*.json"), "--fail-if-slower", "5"])
    assert same_run.returncode == 0, same_run.stdout + same_run.stderr
    assert "no significant change" in same_run.stdout and "Regression gate passed" in same_run.stdout
    slow_run = run_tool([ANALYZER, str(slow / "*.json"), "--baseline", str(old / "*.json"), "--fail-if-slower", "20"])
    assert slow_run.returncode == 1
    assert "REGRESSION" in slow_run.stdout and "slower" in slow_run.stdout
    # Significantly slower, but by less than the allowed percentage: passes.
    small = run_tool([ANALYZER, str(a_bit / "*.json"), "--baseline", str(old / "*.json"), "--fail-if-slower", "20"])
    assert small.returncode == 0, small.stdout
    assert "--fail-if-slower needs --baseline" in run_tool([ANALYZER, str(old / "*.json"), "--fail-if-slower", "5"]).stderr


def test_exports(tmp_path):
    write_runs(tmp_path / "runs", 1, [1.0, 1.2, 1.1])
    write_runs(tmp_path / "runs", 4, [2.0, 2.2, 2.1], start=10)
    paths = {name: tmp_path / f"report.{name}" for name in ("csv", "md", "html")}
    completed = run_tool([ANALYZER, str(tmp_path / "runs" / "*.json"), "--csv", str(paths["csv"]),
                          "--markdown", str(paths["md"]), "--html", str(paths["html"])])
    assert completed.returncode == 0, completed.stderr
    rows = list(csv.DictReader(io.StringIO(paths["csv"].read_text())))
    totals = [row for row in rows if row["metric"] == "total_time"]
    assert [float(row["median"]) for row in totals] == [pytest.approx(1.1), pytest.approx(2.1)]
    assert all(row["unit"] == "seconds" for row in rows)
    markdown = paths["md"].read_text().splitlines()
    assert markdown[0].startswith("| Configuration |") and "Relative" in markdown[0]
    assert markdown[2].endswith("| 1.00 |") and "1.91 ±" in markdown[3]
    page = paths["html"].read_text()
    assert page.count("data:image/png;base64,") >= 3
    assert "src=\"http" not in page and "href=\"http" not in page  # self-contained: no network
    again = run_tool([ANALYZER, str(tmp_path / "runs" / "*.json"), "--csv", str(paths["csv"])])
    assert again.returncode == 2 and "already exists" in again.stderr


def test_html_report_renders_in_a_real_browser(tmp_path):
    browser = shutil.which("chromium")
    if browser is None:
        pytest.skip("chromium is not installed (.ci/run installs it)")
    write_runs(tmp_path / "runs", 1, [1.0, 1.2, 1.1])
    write_runs(tmp_path / "runs", 2, [1.5, 1.6, 1.4], start=10)
    page = tmp_path / "report.html"
    assert run_tool([ANALYZER, str(tmp_path / "runs" / "*.json"), "--html", str(page)]).returncode == 0
    flags = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=5000"]
    dom = subprocess.run([*flags, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=60).stdout
    loaded = int(dom.split('data-images-loaded="')[1].split('"')[0])
    total = int(dom.split('data-images-total="')[1].split('"')[0])
    assert total >= 3 and loaded == total
    screenshot = tmp_path / "page.png"
    subprocess.run([*flags, "--window-size=1200,1600", f"--screenshot={screenshot}", page.as_uri()],
                   capture_output=True, timeout=60)
    assert screenshot.stat().st_size > 20_000
