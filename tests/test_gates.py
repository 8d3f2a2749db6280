"""Gates that cannot pass on nothing: every outcome of a comparison, with its exit code and its file."""

from __future__ import annotations

import json
import shutil

import pytest
from conftest import ANALYZER, read_json, run_tool
from helpers import STEADY, assert_usage_error, write_environment_results
from scipy import stats as scipy_stats

from dask_timing.analysis.inference import runs_for_significance, smallest_p
from dask_timing.errors import EXIT_FAILED, EXIT_INCONCLUSIVE, EXIT_OK, EXIT_USAGE

pytestmark = pytest.mark.timeout(120)

# Found by search: CI of the ratio [1.008, 1.123] excludes 1, but Mann-Whitney's p = 0.083.
DISAGREEING = ([2.027, 1.915, 2.011, 2.186, 2.085, 2.075, 1.872, 1.951],
               [2.146, 2.172, 1.865, 2.059, 2.307, 2.104, 2.146, 2.222])
def gate(tmp_path, new, old, *options):
    return run_tool([ANALYZER, str(new), "--baseline", str(old), *options])


@pytest.mark.parametrize("n_baseline, n_new", [(3, 3), (4, 4), (3, 5), (2, 8), (6, 6)])
def test_the_smallest_reachable_p_is_that_of_completely_separated_runs(n_baseline, n_new):
    low, high = list(range(n_baseline)), [100 + value for value in range(n_new)]
    exact = scipy_stats.mannwhitneyu(high, low, alternative="two-sided", method="exact").pvalue
    assert smallest_p(n_baseline, n_new) == pytest.approx(exact)


def test_runs_needed_for_significance():
    assert runs_for_significance(3, 3) == 4  # 2 / C(8, 4) = 0.029
    assert runs_for_significance(1, 1) == 4
    assert runs_for_significance(2, 20) == 1  # many runs on one side make up for few on the other
    assert smallest_p(runs_for_significance(3, 3), runs_for_significance(3, 3)) < 0.05


def test_no_configuration_in_common_is_an_error_never_a_pass(tmp_path):
    write_environment_results(tmp_path / "old", STEADY, workers=2)
    write_environment_results(tmp_path / "new", STEADY, workers=4)
    completed = gate(tmp_path, tmp_path / "new", tmp_path / "old", "--fail-if-slower", "10",
                     "--verdict-json", str(tmp_path / "verdict.json"))
    assert completed.returncode == EXIT_USAGE
    assert completed.stderr.strip().splitlines() == [
        "analyze_results.py: error: no configuration is on both sides: nothing to compare"]
    assert "passed" not in completed.stdout
    assert read_json(tmp_path / "verdict.json")["outcome"] == "nothing to compare"
    assert gate(tmp_path, tmp_path / "new", tmp_path / "old").returncode == EXIT_USAGE  # without a gate too


def test_a_baseline_holding_the_same_runs_is_an_error_never_a_pass(tmp_path):
    """The same runs on both sides show no change: the gate would pass having compared nothing."""
    write_environment_results(tmp_path / "new", STEADY)
    shutil.copytree(tmp_path / "new", tmp_path / "copy")  # a backup of the same runs
    write_environment_results(tmp_path / "other", STEADY, workers=4)
    for baseline in (tmp_path / "new", tmp_path / "copy"):
        completed = gate(tmp_path, tmp_path / "new", baseline, "--fail-if-slower", "10",
                         "--verdict-json", str(tmp_path / "verdict.json"))
        assert completed.returncode == EXIT_USAGE, completed.stdout
        assert "10 of its run(s) are among the results too" in completed.stderr
        assert "passed" not in completed.stdout and not (tmp_path / "verdict.json").exists()
    partly = run_tool([ANALYZER, str(tmp_path / "new"), str(tmp_path / "other"),
                       "--baseline", str(tmp_path / "copy"), "--fail-if-slower", "10"])
    assert partly.returncode == EXIT_USAGE and "10 of its run(s) are among the results too" in partly.stderr


def write_phases_only(folder, scale: float, runs: int = 8) -> None:
    """Flat files of the earlier tool without a total time: their phases alone."""
    folder.mkdir()
    for index in range(runs):
        (folder / f"flat{index}.json").write_text(json.dumps(
            {"n_workers": 2, "threads_per_worker": 1, "scheduler_start_time": scale * (1 + 0.01 * index),
             "workers_start_time": 2 * scale}))


def test_a_gate_without_a_total_time_to_judge_never_passes(tmp_path):
    """Three times slower in every phase, and no total time: the gate had nothing of its own to compare."""
    write_phases_only(tmp_path / "old", 1.0)
    write_phases_only(tmp_path / "new", 3.0)
    completed = gate(tmp_path, tmp_path / "new", tmp_path / "old", "--fail-if-slower", "10",
                     "--verdict-json", str(tmp_path / "verdict.json"))
    assert completed.returncode == EXIT_USAGE, completed.stdout
    assert "no configuration has a total time on both sides" in completed.stderr
    assert "passed" not in completed.stdout
    assert read_json(tmp_path / "verdict.json")["outcome"] == "nothing to compare"
    # One pair without it among pairs with it: that pair cannot be vouched for.
    write_environment_results(tmp_path / "old", STEADY)
    write_environment_results(tmp_path / "new", STEADY)
    mixed = gate(tmp_path, tmp_path / "new", tmp_path / "old", "--fail-if-slower", "10")
    assert mixed.returncode == EXIT_INCONCLUSIVE, mixed.stdout
    assert "legacy flat files: new against baseline: no total time on both sides" in mixed.stdout


def test_a_phase_of_zero_seconds_is_not_divided_by(tmp_path):
    """A ratio of medians needs the baseline's above 0: such a phase gets no verdict, the total time does."""
    for side, offset in (("old", 0.0), ("new", 0.02)):
        (tmp_path / side).mkdir()
        for index in range(5):
            (tmp_path / side / f"flat{index}.json").write_text(json.dumps(
                {"n_workers": 1, "threads_per_worker": 1, "cluster_init_time": 0.0,
                 "total_time": 1 + offset + 0.01 * index}))
    completed = gate(tmp_path, tmp_path / "new", tmp_path / "old", "--fail-if-slower", "10")
    assert completed.returncode == EXIT_OK, completed.stdout + completed.stderr
    compared = completed.stdout.split("COMPARISON (new / baseline")[1]
    assert "  total_time   " in compared and "cluster_init_time" not in compared


def test_runs_that_never_got_ready_are_judged_too(tmp_path):
    """A change that makes a third of the startups fail has no slower total time: the runs that got ready
    are as fast as before. The gate judges the failures, never passing them."""
    write_environment_results(tmp_path / "old", STEADY * 2)
    write_environment_results(tmp_path / "new", STEADY * 2, minute=30)
    write_environment_results(tmp_path / "new", STEADY, status="failed", minute=60)
    completed = gate(tmp_path, tmp_path / "new", tmp_path / "old", "--fail-if-slower", "10",
                     "--verdict-json", str(tmp_path / "verdict.json"))
    assert completed.returncode == EXIT_FAILED, completed.stdout
    reason = ("local, 2 workers, 1 thread(s) per worker: 10 of 30 new run(s) failed, against 0 of 20 baseline run(s) "
              "(Fisher's exact p = 0.0029)")
    assert completed.stdout.rstrip().splitlines()[-1] == f"REGRESSION: {reason}"
    assert read_json(tmp_path / "verdict.json")["reasons"] == [reason]
    # One failure more is no proof, but no pass either.
    write_environment_results(tmp_path / "once", STEADY * 2, minute=30)
    write_environment_results(tmp_path / "once", STEADY[:1], status="failed", minute=90)
    once = gate(tmp_path, tmp_path / "once", tmp_path / "old", "--fail-if-slower", "10")
    assert once.returncode == EXIT_INCONCLUSIVE, once.stdout
    assert ("INCONCLUSIVE: local, 2 workers, 1 thread(s) per worker: 1 of 21 new run(s) failed, against 0 of 20 "
            "baseline run(s) (Fisher's exact p = 0.51): the runs cannot tell chance from a change") in once.stdout
    # As many failures on each side: judged by the runs that got ready, as before.
    write_environment_results(tmp_path / "old", STEADY[:1], status="failed", minute=90)
    assert gate(tmp_path, tmp_path / "once", tmp_path / "old", "--fail-if-slower", "10").returncode == EXIT_OK


def test_a_pass_names_the_configurations_it_did_not_gate(tmp_path):
    write_environment_results(tmp_path / "old", STEADY)
    write_environment_results(tmp_path / "new", STEADY)
    write_environment_results(tmp_path / "new", STEADY, workers=4, minute=30)
    completed = gate(tmp_path, tmp_path / "new", tmp_path / "old", "--fail-if-slower", "10")
    assert completed.returncode == EXIT_OK, completed.stdout
    assert completed.stdout.rstrip().splitlines()[-1] == (
        "Regression gate passed: every total time is, at 95 % confidence, less than 10% slower (1 configuration(s) "
        "compared; 1 on one side only, not gated: local, 4 workers, 1 thread(s) per worker).")


def test_a_side_without_a_successful_run_is_an_error(tmp_path):
    write_environment_results(tmp_path / "old", STEADY)
    write_environment_results(tmp_path / "new", STEADY[:4], status="failed")
    completed = gate(tmp_path, tmp_path / "new", tmp_path / "old", "--fail-if-slower", "10")
    assert completed.returncode == EXIT_USAGE
    assert "new has no successful run (4 failed): nothing to compare" in completed.stderr
    assert "passed" not in completed.stdout


def test_too_few_runs_are_inconclusive_with_their_own_exit_code(tmp_path):
    write_environment_results(tmp_path / "old", [1.00, 1.05, 0.95])
    write_environment_results(tmp_path / "new", [1.267, 1.33, 1.20], minute=30)
    completed = gate(tmp_path, tmp_path / "new", tmp_path / "old", "--fail-if-slower", "10",
                     "--verdict-json", str(tmp_path / "verdict.json"))
    assert completed.returncode == EXIT_INCONCLUSIVE == 3, completed.stdout
    (total,) = [line for line in completed.stdout.splitlines() if line.lstrip().startswith("total_time") and "x  [" in line]
    assert total.endswith("inconclusive") and "no significant change" not in total
    assert "Mann-Whitney's p cannot go below 0.1; run at least 4 of each" in completed.stdout
    assert "Regression gate inconclusive (exit code 3)" in completed.stdout and "passed" not in completed.stdout
    document = read_json(tmp_path / "verdict.json")
    assert (document["outcome"], document["exit_code"], document["threshold_percent"]) == ("inconclusive", 3, 10)
    # Without a gate the verdict is the same; nothing fails.
    plain = gate(tmp_path, tmp_path / "new", tmp_path / "old")
    assert plain.returncode == EXIT_OK and "inconclusive" in plain.stdout


def test_an_interval_and_a_p_value_that_disagree_follow_the_rule(tmp_path):
    old, new = DISAGREEING
    write_environment_results(tmp_path / "old", old, every=2)
    write_environment_results(tmp_path / "new", new, minute=1, every=2)
    # The interval reaches past 1.10: it cannot rule a 10 % regression out.
    strict = gate(tmp_path, tmp_path / "new", tmp_path / "old", "--fail-if-slower", "10")
    assert strict.returncode == EXIT_INCONCLUSIVE, strict.stdout
    assert "the 95 % CI excludes 1 but p = 0.083 is not below 0.05: the measures disagree" in strict.stdout
    assert "Rule: a change is significant when Mann-Whitney's p < 0.05 and the ratio's 95 % bootstrap CI" in strict.stdout
    # All of the interval lies under 1.20: no 20 % regression can hide in it.
    lenient = gate(tmp_path, tmp_path / "new", tmp_path / "old", "--fail-if-slower", "20")
    assert lenient.returncode == EXIT_OK, lenient.stdout
    assert "the measures disagree" in lenient.stdout and "Regression gate passed" in lenient.stdout


def test_runs_too_noisy_to_rule_a_regression_out_do_not_pass(tmp_path):
    write_environment_results(tmp_path / "old", [1.0, 2.0, 1.5, 3.0, 1.2, 2.5, 1.1, 1.8], every=2)
    write_environment_results(tmp_path / "new", [1.9, 1.05, 2.9, 1.3, 2.4, 1.6, 1.15, 2.1], minute=1, every=2)
    noisy = gate(tmp_path, tmp_path / "new", tmp_path / "old", "--fail-if-slower", "10")
    assert noisy.returncode == EXIT_INCONCLUSIVE, noisy.stdout
    assert "no significant change" in noisy.stdout and "past the 10% allowed" in noisy.stdout
    assert "Regression gate passed" not in noisy.stdout
    wide = gate(tmp_path, tmp_path / "new", tmp_path / "old", "--fail-if-slower", "200")
    assert wide.returncode == EXIT_OK and "less than 200% slower" in wide.stdout


def test_a_regression_fails_and_its_table_is_in_the_verdict_file_and_the_markdown(tmp_path):
    write_environment_results(tmp_path / "old", STEADY, every=2)
    write_environment_results(tmp_path / "new", [value * 1.3 for value in STEADY], minute=1, every=2)
    completed = gate(tmp_path, tmp_path / "new", tmp_path / "old", "--fail-if-slower", "10",
                     "--verdict-json", str(tmp_path / "verdict.json"), "--markdown", str(tmp_path / "report.md"))
    assert completed.returncode == EXIT_FAILED, completed.stdout
    assert "REGRESSION: local, 2 workers, 1 thread(s) per worker: new is 1.30 ± " in completed.stdout
    assert "times slower than baseline (95 % CI [" in completed.stdout and "n = 10 + 10)" in completed.stdout
    assert "WARNING" not in completed.stdout  # interleaved in time, same load
    document = read_json(tmp_path / "verdict.json")
    assert (document["outcome"], document["exit_code"], document["threshold_percent"]) == ("regression", 1, 10)
    rows = {row["metric"]: row for row in document["verdicts"]}
    assert rows["total_time"]["verdict"] == "slower" and rows["total_time"]["gated"]
    assert rows["total_time"]["ratio"] == pytest.approx(1.3) and rows["total_time"]["ci_low"] > 1
    assert not rows["first_task_time"]["gated"]
    markdown = (tmp_path / "report.md").read_text()
    assert "| configuration | compared | metric | n | ratio | 95% CI | p | verdict | threshold | note |" in markdown
    (row,) = [line for line in markdown.splitlines() if "| total_time |" in line]
    assert row.startswith("| local, 2 workers, 1 thread(s) per worker | new / baseline | total_time | 10 + 10 | 1.300 ± ")
    assert "| slower | +10% |" in row
    assert "**Gate: regression (exit code 1): " in markdown


def test_sides_run_apart_or_under_different_load_are_warned_of(tmp_path):
    write_environment_results(tmp_path / "old", STEADY, load=0.25)
    write_environment_results(tmp_path / "new", STEADY, load=1.40, minute=120)
    completed = gate(tmp_path, tmp_path / "new", tmp_path / "old", "--fail-if-slower", "10",
                     "--verdict-json", str(tmp_path / "verdict.json"))
    assert completed.returncode == EXIT_OK, completed.stdout
    assert "WARNING: the two sides ran at different times" in completed.stdout
    assert "run both sides interleaved in one study" in completed.stdout
    assert ("WARNING: local, 2 workers, 1 thread(s) per worker: baseline ran under a median load of 0.25 per CPU "
            "and new under 1.40") in completed.stdout
    assert len(read_json(tmp_path / "verdict.json")["warnings"]) == 2


def test_runs_of_other_machines_are_warned_of(tmp_path):
    """One configuration's runs from two machines are pooled, and a comparison across machines compares them."""
    write_environment_results(tmp_path / "old", STEADY, host="ci-1")
    write_environment_results(tmp_path / "new", STEADY[:5], host="ci-2", minute=1, every=2)
    write_environment_results(tmp_path / "new", [2 * total for total in STEADY[5:]], host="big-box", minute=2, every=2)
    completed = gate(tmp_path, tmp_path / "new", tmp_path / "old", "--verdict-json", str(tmp_path / "verdict.json"))
    assert completed.returncode == EXIT_OK, completed.stdout
    assert ("WARNING: local, 2 workers, 1 thread(s) per worker: its runs came from 2 machines (big-box 5, ci-2 5 "
            "run(s)), pooled: its figures mix their speeds") in completed.stdout
    sides = "local, 2 workers, 1 thread(s) per worker: baseline ran on ci-1 and new on big-box, ci-2: another machine"
    assert f"WARNING: {sides}" in completed.stdout
    assert any(warning.startswith(sides) for warning in read_json(tmp_path / "verdict.json")["warnings"])


def test_comparisons_need_something_to_compare_and_never_overwrite_their_file(tmp_path):
    write_environment_results(tmp_path / "runs", STEADY)
    existing = tmp_path / "verdict.json"
    existing.write_text("precious\n")
    for arguments in (["--verdict-json", str(tmp_path / "new.json")], ["--fail-if-slower", "5"],
                      ["--baseline", str(tmp_path / "runs"), "--baseline-env", "A"],
                      ["--baseline", str(tmp_path / "runs"), "--verdict-json", str(existing)],
                      ["--baseline-env", "A"]):
        assert_usage_error(run_tool([ANALYZER, str(tmp_path / "runs"), *arguments]))
    assert existing.read_text() == "precious\n" and not (tmp_path / "new.json").exists()


def test_dask_versions_are_never_pooled_and_each_is_labelled(tmp_path):
    write_environment_results(tmp_path / "runs", STEADY, version="2025.12.0", every=2)
    write_environment_results(tmp_path / "runs", [value * 1.1 for value in STEADY], version="2026.8.0", minute=1,
                              every=2)
    completed = run_tool([ANALYZER, str(tmp_path / "runs"), "--compare", "--html", str(tmp_path / "report.html")])
    assert completed.returncode == 0, completed.stderr
    assert "nothing to compare" not in completed.stdout
    for version in ("2025.12.0", "2026.8.0"):
        label = f"local, 2 workers, 1 thread(s) per worker, dask={version}, distributed={version}"
        assert f"Configuration: {label}\nNumber of runs: 10\n" in completed.stdout
    page = (tmp_path / "report.html").read_text()
    assert "<td>2025.12.0</td>" in page and "<td>2026.8.0</td>" in page
    # Two sets of one version each: the versions are what is compared.
    write_environment_results(tmp_path / "old", STEADY, version="2025.12.0", every=2)
    write_environment_results(tmp_path / "new", STEADY, version="2026.8.0", minute=1, every=2)
    across = gate(tmp_path, tmp_path / "new", tmp_path / "old", "--fail-if-slower", "10")
    assert across.returncode == EXIT_OK and "no significant change" in across.stdout


def test_each_environment_is_compared_with_the_reference(tmp_path):
    write_environment_results(tmp_path / "runs", STEADY, name="A", every=3)
    write_environment_results(tmp_path / "runs", STEADY, name="B", minute=1, every=3)
    write_environment_results(tmp_path / "runs", [value * 1.5 for value in STEADY], name="C", minute=2, every=3)
    completed = run_tool([ANALYZER, str(tmp_path / "runs"), "--baseline-env", "A", "--fail-if-slower", "10"])
    assert completed.returncode == EXIT_FAILED, completed.stdout
    assert "Configuration: local, 2 workers, 1 thread(s) per worker (A: n=10, B: n=10)" in completed.stdout
    assert "Configuration: local, 2 workers, 1 thread(s) per worker (A: n=10, C: n=10)" in completed.stdout
    assert "=> B is 1.00 ± 0.01 times slower than A" in completed.stdout and "no significant change" in completed.stdout
    assert "REGRESSION: local, 2 workers, 1 thread(s) per worker: C is 1.50 ± " in completed.stdout
    assert "REGRESSION: local, 2 workers, 1 thread(s) per worker: B" not in completed.stdout


def test_a_gate_on_another_metric_says_which_metric_it_judged(tmp_path):
    """A bisect gates on --metric: its conclusion names that metric, not the total time."""
    from dask_timing.present.report import write_verdicts
    from dask_timing.study.bisect import compare_probe

    write_environment_results(tmp_path / "a", [1.00, 1.05, 0.95], name="a")
    write_environment_results(tmp_path / "b", [1.267, 1.33, 1.20], name="b", minute=30)
    paths = sorted(str(path) for path in tmp_path.glob("*/*.json"))
    compared = compare_probe(paths, "a", 10, "cluster_init_time")
    lines: list[str] = []
    write_verdicts(compared.analysis, lines.append)
    assert compared.analysis.gate.exit_code == EXIT_INCONCLUSIVE
    assert lines[-1] == ("Regression gate inconclusive (exit code 3): the runs cannot say whether the "
                         "cluster_init_time is slower by more than 10%."), lines
    assert not any("total time" in line for line in lines if "gate" in line.lower())
