"""Why B is slower: every comparison explains itself, down to the worker, the imported package and its version."""

from __future__ import annotations

import os
import subprocess

import msgspec
import pytest
from conftest import ANALYZER, STUDY, read_json, run_tool
from helpers import assert_usage_error, wrapper_interpreter

from dask_timing.analysis.explain import (
    ENVIRONMENT, IMPORT, LEVELS, PACKAGE, PHASE, STRAGGLER, WORKER_PHASE, causes, explain, explanation_documents,
)
from dask_timing.analysis.groups import group_results
from dask_timing.analysis.verdicts import judge, pair_environments
from dask_timing.record.import_profile import read_lines
from dask_timing.present.explain import MAX_WHY_LINES, why_block
from dask_timing.record.schema import RunResult

pytestmark = [pytest.mark.usefixtures("no_leftovers")]

SLOWPKG = "import time\ntime.sleep(0.3)\n"  # 0.3 s in every process that imports it
# Side B's site hook in the all-causes study: every process imports slowpkg; each nanny's interpreter starts
# 3 s late; worker-1's process imports slowone (10 s); every worker runs a preload that sleeps 3 s.
SLOWSITE = '''
import os
import time

import slowpkg


def _command(pid):
    with open(f"/proc/{pid}/cmdline", "rb") as stream:
        return stream.read().split(b"\\0")


_ME = _command("self")
if any(b"dask_worker" in part for part in _ME):
    time.sleep(3)
if b"--multiprocessing-fork" in _ME and b"worker-1" in _command(os.getppid()):
    import slowone
os.environ.setdefault("DASK_DISTRIBUTED__WORKER__PRELOAD", '["slowpreload"]')
'''
SLOWONE = "import time\ntime.sleep(10)\n"  # a straggler by the rule even when the machine slows every worker
SLOWPRELOAD = "import time\n\n\ndef dask_setup(worker):\n    time.sleep(3)\n"
# A package version side B records differently (its metadata found first on B's path).
FAKE_MSGPACK = "Metadata-Version: 2.1\nName: msgpack\nVersion: 99.0.0\n"


def site_packages(python: str) -> str:
    return subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()


def hooked_interpreter(folder, modules: dict[str, str], hook: str, metadata: dict[str, str] | None = None) -> str:
    """A virtual environment of this interpreter's packages whose every process runs ``hook`` at its start
    (a .pth line), with ``modules`` on its path and ``metadata`` (dist-info folder: METADATA) installed."""
    python = wrapper_interpreter(folder, hook)
    site = site_packages(python)
    for name, text in modules.items():
        with open(os.path.join(site, f"{name}.py"), "w") as stream:
            stream.write(text)
    for dist_info, text in (metadata or {}).items():
        os.makedirs(os.path.join(site, dist_info))
        with open(os.path.join(site, dist_info, "METADATA"), "w") as stream:
            stream.write(text)
    return python


def items_of(document: dict, level: str) -> list[dict]:
    return [item for item in document["explanations"] if item["level"] == level]


def top_import_cause(document: dict) -> dict:
    found = [item for item in items_of(document, IMPORT) if item["cause"]]
    assert found, document["explanations"]
    return max(found, key=lambda item: item["delta_s"])


def why_lines(stdout: str) -> list[str]:
    """The Why block's lines in a comparison's text."""
    lines = stdout.splitlines()
    start = next(index for index, line in enumerate(lines) if line.startswith("  Why "))
    end = next(index for index in range(start + 1, len(lines)) if not lines[index].startswith("    "))
    return lines[start:end]


# -- the chain as a pure computation ------------------------------------------------------------------------------

def run(total: float, *, env: str, workers_start: float, imports: dict[str, float] | None = None,
        by_worker: dict | None = None, stragglers: list | None = None, packages: dict | None = None,
        load: float = 0.5, nanny: list[float] | None = None, processes: dict | None = None,
        config: dict | None = None) -> RunResult:
    """A result as a run writes it, with what the chain reads."""
    document = {
        "kind": "local", "config": config or {"n_workers": 3}, "run_id": os.urandom(8).hex(), "status": "ok",
        "phases": {"cluster_init": total - workers_start, "workers_start": workers_start},
        "total_time": total,
        "worker_phases": {"nanny": nanny or [0.1, 0.1, 0.1], "imports": [1.0, 1.1, 1.2]},
        "stragglers": stragglers if stragglers is not None else [],
        "environment": {"name": env, "python_version": "3.11.7",
                        "packages": packages or {"dask": "2026.8.0", "distributed": "2026.8.0", "numpy": "2.0"},
                        "load": {"load_per_cpu": load, "sampled": "before the run"}},
    }
    if imports is not None:
        document["import_profile"] = {"workers": 3, "top": [{"module": name, "seconds": seconds}
                                                            for name, seconds in imports.items()],
                                      **({"by_worker": by_worker} if by_worker else {}),
                                      **({"processes": processes} if processes else {}),
                                      "chains": {"slowpkg": ["site", "sitecustomize"]}}
    return msgspec.convert(document, RunResult)


def pair_of(baseline: list[RunResult], new: list[RunResult]):
    groups = group_results([(f"{index}.json", result) for index, result in enumerate([*baseline, *new])])
    (pair,) = pair_environments(groups, "A").pairs
    return pair


def jitter(index: int) -> float:
    return (index % 3) * 0.01


def test_an_import_in_every_process_of_one_side_is_its_top_cause_with_its_chain():
    baseline = [run(2.0 + jitter(i), env="A", workers_start=1.5, imports={"distributed": 0.6 + jitter(i)})
                for i in range(5)]
    new = [run(2.3 + jitter(i), env="B", workers_start=1.8 + jitter(i),
               imports={"distributed": 0.6 + jitter(i + 1), "slowpkg": 0.3 + jitter(i) / 10}) for i in range(5)]
    pair = pair_of(baseline, new)
    total = judge(pair.label, "total_time", [r.total_time for r in baseline], [r.total_time for r in new])
    chain = explain(pair, total)
    found = [item for item in causes(chain) if item.level == IMPORT]
    assert [item.name for item in found] == ["slowpkg"]
    (slowpkg,) = found
    assert slowpkg.delta_s == pytest.approx(0.3, abs=0.01) and slowpkg.via == ["site", "sitecustomize"]
    assert slowpkg.ci_low <= slowpkg.delta_s <= slowpkg.ci_high and slowpkg.ci_low > 0
    assert slowpkg.share == pytest.approx(0.3 / 0.3, abs=0.1)
    assert [item.level for item in chain] == sorted((item.level for item in chain), key=LEVELS.index)
    phase = next(item for item in causes(chain) if item.level == PHASE)
    assert phase.name == "Workers startup" and phase.delta_s == pytest.approx(0.3, abs=0.02)
    documents = explanation_documents(chain)
    for key in ("configuration", "level", "name", "baseline", "new", "delta_s", "ci_low", "ci_high", "share"):
        assert all(key in document for document in documents)
    block = why_block(chain)
    assert len(block) <= MAX_WHY_LINES
    assert any("import of slowpkg (via site > sitecustomize)" in line and "+0.30" in line for line in block)


def test_a_cause_in_one_worker_stays_that_workers_and_a_straggler_names_its_phase():
    def workers(slow: float) -> dict:
        return {"worker-0": {"slowone": 0.0}, "worker-1": {"slowone": slow}, "worker-2": {"slowone": 0.0}}

    straggler = [{"name": "worker-1", "excess": 3.0, "phase": "imports", "phase_excess": 2.9,
                  "registration_time": 4.0, "median_registration_time": 1.0}]
    baseline = [run(2.0 + jitter(i), env="A", workers_start=1.5, imports={"distributed": 0.6}, by_worker=workers(0))
                for i in range(5)]
    new = [run(5.0 + jitter(i), env="B", workers_start=4.5, imports={"distributed": 0.6, "slowone": 1.0},
               by_worker=workers(3.0), stragglers=straggler, processes={"slowone": 1}) for i in range(5)]
    chain = explain(pair_of(baseline, new))
    (average,) = [item for item in chain if item.level == IMPORT and item.name == "slowone"]
    assert average.processes == "1 of 3 worker processes"  # told even where the workers' logs were one
    (late,) = [item for item in causes(chain) if item.level == STRAGGLER]
    assert late.worker == "worker-1" and late.phase == "Interpreter and imports" and late.delta_s == pytest.approx(3.0)
    assert late.runs == "5 of 5 runs, against 0 of 5"
    own = [item for item in causes(chain) if item.level == IMPORT and item.worker]
    assert [(item.worker, item.delta_s) for item in own] == [("worker-1", pytest.approx(3.0))]
    assert "slowone in worker-1" == own[0].name


def test_the_environment_names_versions_and_the_load_before_the_runs():
    baseline = [run(2.0 + jitter(i), env="A", workers_start=1.5, load=0.4) for i in range(3)]
    new = [run(2.0 + jitter(i), env="B", workers_start=1.5, load=1.6,
               packages={"dask": "2026.8.0", "distributed": "2026.8.0", "numpy": "2.1"}) for i in range(3)]
    chain = explain(pair_of(baseline, new))
    (package,) = [item for item in chain if item.level == PACKAGE]
    assert (package.name, package.baseline, package.new, package.delta_s) == ("numpy", "2.0", "2.1", None)
    (load,) = [item for item in chain if item.level == ENVIRONMENT]
    assert load.name == "machine load before each run" and load.cause and load.new == 1.6
    assert "busier for B" in " ".join(why_block(chain))


def test_noise_is_no_cause_and_is_shown_as_such_only_when_asked():
    baseline = [run(2.0 + jitter(i), env="A", workers_start=1.5 + jitter(i), imports={"distributed": 0.6 + jitter(i)})
                for i in range(5)]
    new = [run(2.0 + jitter(i + 1), env="B", workers_start=1.5 + jitter(i + 1),
               imports={"distributed": 0.6 + jitter(i + 2)}) for i in range(5)]
    chain = explain(pair_of(baseline, new))
    assert not [item for item in causes(chain) if item.level in (PHASE, WORKER_PHASE, IMPORT)]
    assert all(item.share is None for item in chain)  # a share of a difference that is noise would mislead
    concise, verbose = why_block(chain), why_block(chain, verbose=True)
    assert "no cause the runs can tell from noise" in concise[1] and "--verbose" in concise[-1]
    assert sum("(noise)" in line for line in verbose) == len([item for item in chain if item.delta_s is not None])


def test_an_import_chain_is_read_from_the_nesting_of_the_profile():
    lines = ["import time: self [us] | cumulative | imported package",
             "import time:    300301 |     300301 |     slowpkg",
             "import time:       224 |     300525 |   sitecustomize",
             "import time:      1493 |     334117 | site",
             "import time:       328 |        328 |       _json",
             "import time:      1442 |       1769 |     json.scanner",
             "import time:       632 |       2401 |   json.decoder",
             "import time:       535 |       3426 | json"]
    found = read_lines(lines + lines[1:4])  # a second interpreter imported slowpkg, not json
    assert found.totals["slowpkg"] == pytest.approx(0.600602) and found.totals["json"] == pytest.approx(0.002609)
    assert found.chains == {"slowpkg": ["site", "sitecustomize"], "sitecustomize": ["site"], "_json": ["json"]}
    assert (found.processes["slowpkg"], found.processes["json"]) == (2, 1)


# -- on real clusters ------------------------------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.timeout(900)
def test_a_site_hook_in_every_process_of_b_is_named_by_the_study_and_the_analyzer(tmp_path):
    a = wrapper_interpreter(tmp_path / "a")
    b = hooked_interpreter(tmp_path / "b", {"slowpkg": SLOWPKG}, "import slowpkg")
    out, verdicts = tmp_path / "out", tmp_path / "verdicts.json"
    completed = run_tool([STUDY, "--python", f"A={a}", "--python", f"B={b}", "-w", "2", "-r", "4",
                          "--import-profile", "-o", str(out), "--verdict-json", str(verdicts)], timeout=800)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    result = read_json(next(out.glob("local_*_B_run001_*.json")))
    assert result["environment"]["load"]["sampled"] == "before the run"  # the change's own load is not the machine's
    cause = top_import_cause(read_json(verdicts))
    assert cause["name"] == "slowpkg" and cause["delta_s"] == pytest.approx(0.3, abs=0.1)
    assert cause["via"] == ["site"] and cause["baseline"] == 0 and cause["new"] == pytest.approx(0.3, abs=0.1)
    block = why_lines(completed.stdout)
    assert len(block) <= MAX_WHY_LINES
    first_import = next(line for line in block if "import of" in line)
    assert "import of slowpkg (via site)" in first_import and "per worker process" in first_import
    again = tmp_path / "again.json"
    analyzed = run_tool([ANALYZER, str(out), "--baseline-env", "A", "--verdict-json", str(again)], timeout=300)
    assert analyzed.returncode == 0, analyzed.stdout + analyzed.stderr
    assert top_import_cause(read_json(again)) == cause
    assert next(line for line in why_lines(analyzed.stdout) if "import of" in line) == first_import


@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_a_straggling_import_a_slow_preload_a_slow_nanny_and_a_package_version_are_each_named(tmp_path):
    a = wrapper_interpreter(tmp_path / "a")
    b = hooked_interpreter(tmp_path / "b", {"slowpkg": SLOWPKG, "slowsite": SLOWSITE, "slowone": SLOWONE,
                                            "slowpreload": SLOWPRELOAD}, "import slowsite",
                           {"msgpack-99.0.0.dist-info": FAKE_MSGPACK})
    out, verdicts = tmp_path / "out", tmp_path / "verdicts.json"
    completed = run_tool([STUDY, "--python", f"A={a}", "--python", f"B={b}", "-t", "distributed", "-w", "3",
                          "-r", "4", "--import-profile", "-o", str(out), "--verdict-json", str(verdicts)],
                         timeout=1400)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    document = read_json(verdicts)
    found = {(item["level"], item["name"]) for item in document["explanations"] if item["cause"]}
    assert (IMPORT, "slowone in worker-1") in found, found
    (late,) = [item for item in items_of(document, STRAGGLER) if item["cause"]]
    assert late["worker"] == "worker-1" and late["phase"] == "Interpreter and imports"
    assert (WORKER_PHASE, "Worker start (median worker)") in found
    assert (WORKER_PHASE, "Nanny start (median worker)") in found
    (package,) = items_of(document, PACKAGE)
    assert (package["name"], package["new"]) == ("msgpack", "99.0.0")
    text = "\n".join(why_lines(completed.stdout))
    assert "straggler worker-1" in text and "import of slowone in worker-1" in text
    assert "package msgpack:" in text and "-> 99.0.0" in text
    analyzed = run_tool([ANALYZER, str(out)], timeout=300)
    assert "Stragglers: distributed, 3 workers" in analyzed.stdout and "worker-1 in 4 of 4 runs" in analyzed.stdout


def test_import_profile_on_a_study_whose_workers_cannot_take_it_is_one_line_before_any_run(tmp_path):
    completed = run_tool([STUDY, "--import-profile", "--processes", "off", "-r", "1", "-o", str(tmp_path / "out")])
    assert_usage_error(completed)
    assert "local_w4_t1_threads: --import-profile: thread workers" in completed.stderr
    assert not (tmp_path / "out").exists()


# -- readability of a comparison -------------------------------------------------------------------------------------

SWEEP_LINES = 80  # the most the default text of 16 compared configurations may print, Why blocks included


def write_compared_sweep(folder, runs: int = 4) -> list[dict]:
    """Two environments' results of 16 configurations (1 or 2 workers, 1 to 8 threads), as a study of them writes
    them: in B every worker process imports slowpkg (0.3 s), and with 5 threads or more a package takes 1 s more to
    import in every worker process, which also slows the workers' start.  Returns the configurations."""
    configurations = [{"n_workers": workers, "threads_per_worker": threads}
                      for workers in (1, 2) for threads in range(1, 9)]
    for number, config in enumerate(configurations):
        for index in range(runs):
            spread = jitter(index + number)
            slow = 1.0 if config["threads_per_worker"] >= 5 else 0.0
            for env, imports, start in (
                    ("A", {"distributed": 0.6 + spread}, 1.5 + spread),
                    ("B", {"distributed": 0.6 + jitter(index + 1), "slowpkg": 0.3 + spread / 10,
                           **({"heavypkg": slow + spread} if slow else {})}, 1.8 + slow + spread)):
                result = run(start + 0.5, env=env, workers_start=start, imports=imports, config=config)
                (folder / f"{env}_{number:02d}_{index}.json").write_text(msgspec.json.encode(result.to_json()).decode())
    return configurations


def test_sixteen_compared_configurations_print_their_why_in_80_lines(tmp_path):
    """The default text of a comparison of 16 configurations: a row a pair, the causes merged (each with the
    configurations it is one in), in 80 lines; --verbose: every pair whole."""
    configurations = write_compared_sweep(tmp_path)
    completed = run_tool([ANALYZER, str(tmp_path), "--baseline-env", "A"], timeout=300)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    lines = completed.stdout.splitlines()
    assert len(lines) <= SWEEP_LINES, "\n".join(lines)
    rows = [line.split() for line in lines if line.startswith("  [")]
    assert len(rows) == len(configurations) and rows[0][:3] == ["[1]", "[2]", "local,"]
    why = lines[next(index for index, line in enumerate(lines) if line.startswith("  Why B differs from A")):]
    slowpkg = next(line for line in why if "import of slowpkg (via site > sitecustomize)" in line)
    assert "per worker process in all 16" in slowpkg and "+0.30" in slowpkg
    heavy = next(line for line in why if "import of heavypkg" in line)
    assert heavy.split(" in ")[1].startswith("[9] [10] to [15] [16], [25] [26] to [31] [32]")  # the table's rows
    assert "+1.0" in heavy
    assert "Traceback" not in completed.stderr
    assert "CONFIGURATION COMPARISON" not in completed.stdout and "the ranking" in lines[5]
    verbose = run_tool([ANALYZER, str(tmp_path), "--baseline-env", "A", "--verbose"], timeout=300)
    assert verbose.stdout.count("  Why B differs from A (total") == len(configurations)
    ranked = run_tool([ANALYZER, str(tmp_path), "--baseline-env", "A", "--compare"], timeout=300)
    assert "CONFIGURATION COMPARISON" in ranked.stdout  # asked for: the ranking stays


def test_the_ranking_marks_a_configuration_tied_with_the_fastest():
    from dask_timing.analysis.ranking import Standing
    from dask_timing.analysis.stats import summarize
    from dask_timing.present.report import _ranked_figures

    baseline = [run(2.0, env="A", workers_start=1.5)]
    group = pair_of(baseline, [run(2.1, env="B", workers_start=1.5)]).new
    tied, apart = (Standing(group, 2, summarize([2.1, 2.2]), 1.05, low, high) for low, high in ((0.97, 1.12),
                                                                                                  (1.02, 1.09)))
    assert tied.tied_with_fastest and _ranked_figures(tied).endswith("tied with 1")
    assert not apart.tied_with_fastest and "tied" not in _ranked_figures(apart)


# -- the exports -----------------------------------------------------------------------------------------------------

ODD_PACKAGE = "slow|pkg<img src=x>"  # a module name read from a profile: data, never markup


def test_markdown_and_html_carry_the_why_blocks_of_the_one_analysis_escaped(tmp_path, monkeypatch):
    from dask_timing.analysis import explain as explain_module
    from dask_timing.cli import analyze

    for index in range(5):
        for env, imports, start in (("A", {"distributed": 0.6 + jitter(index)}, 1.5),
                                    ("B", {"distributed": 0.6 + jitter(index + 1), ODD_PACKAGE: 0.3}, 1.8)):
            result = run(start + 0.5 + jitter(index), env=env, workers_start=start + jitter(index), imports=imports)
            (tmp_path / f"{env}{index}.json").write_text(msgspec.json.encode(result.to_json()).decode())
    calls = []
    chain_of = explain_module.explain_pairs
    monkeypatch.setattr(explain_module, "explain_pairs", lambda *args: calls.append(1) or chain_of(*args))
    paths = {option: tmp_path / f"out.{option}" for option in ("markdown", "html", "verdict-json")}
    argv = [str(tmp_path / "*.json"), "--baseline-env", "A",
            *[part for option, path in paths.items() for part in (f"--{option}", str(path))]]
    assert analyze.run(argv, "analyze_results.py") == 0
    assert calls == [1]  # computed once, for the text, the verdict file and both exports
    cause = next(item for item in read_json(paths["verdict-json"])["explanations"] if item["name"] == ODD_PACKAGE)
    assert cause["cause"] and cause["level"] == IMPORT
    delta = f"{cause['delta_s']:+.3f} s"
    markdown = paths["markdown"].read_text()
    (row,) = [line for line in markdown.splitlines() if "import of" in line]
    assert "import of slow\\|pkg&lt;img src=x>" in row and delta in row and "| B / A |" in row
    assert "<img" not in markdown
    page = paths["html"].read_text()
    assert "<img src=x>" not in page and "import of slow|pkg&lt;img src=x&gt;" in page
    why = page[page.index("<h3>Why the sides differ</h3>"):]
    assert delta in why and f"[{cause['ci_low']:+.3f}, {cause['ci_high']:+.3f}]" in why
    assert "<details><summary>Every item of each pair's chain" in why and "(noise)" in why
