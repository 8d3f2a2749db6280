"""The package's imports run down the pipeline: a check over every module's imports, read with ``ast``.

cli and the study workflow sit on top; present uses analysis and record; analysis and history use record;
measure uses deploy and record; measure and analysis never import each other; record and deploy import none
of the layers above them.  A lower layer that needs a name of a higher one gets it from a place both may
import (``record``, or a neutral module at the package's top such as ``phases`` or ``errors``).

And present only renders: of analysis, history and the statistics it takes only the computed objects, the types
they hold, constants and helpers that name, format or read what is computed (``RENDERS_ONLY``); never a function
that computes a statistic, which belongs in ``analysis.computed.Analysis`` (or the history's own objects).

And the tests share their factories through ``tests/helpers.py`` (or ``conftest``): no test file imports another.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = "dask_timing"
ROOT = Path(__file__).resolve().parent.parent / PACKAGE
TOP = {"cli", "study"}
# For each layer, the layers it must never import.
NEVER = {
    "measure": {"analysis", "present", "history", *TOP},
    "analysis": {"measure", "present", "history", *TOP},
    "record": {"measure", "analysis", "present", "history", "deploy", *TOP},
    "deploy": {"measure", "analysis", "present", "history", *TOP},
    "present": TOP,
    "history": {"present", "measure", *TOP},
}


# What present/ may import from the modules that compute: the computed objects, the types they hold, constants,
# and helpers that name, format or read what is already computed (``total_summary``, ``total_times``: the group's
# own statistics, computed once by ``Group.summaries``; the ``*_document`` functions: JSON of computed objects).
# Every other name of these modules, and every other module of analysis/ and history/, is a computation.
RENDERS_ONLY = {
    "dask_timing.analysis.computed": {"Analysis", "Probes", "Scaling", "WorkerPhases"},
    "dask_timing.analysis.groups": {"Group", "LABEL_KEYS", "all_metric_names", "summary_document", "total_summary",
                                    "total_times"},
    "dask_timing.analysis.ranking": {"SINGLE_RUN", "Standing"},
    "dask_timing.analysis.gate": {"COMPARED", "NOTHING_TO_COMPARE", "PASSED", "REGRESSION", "UNDECIDED", "Gate",
                                  "gated_measure"},
    "dask_timing.analysis.verdicts": {"RULE", "Pair", "Verdict", "verdict_document"},
    "dask_timing.analysis.explain": {"ENVIRONMENT", "IMPORT", "LEVELS", "LOAD_PER_CPU", "PACKAGE", "PHASE",
                                     "STRAGGLER", "WORKER_PHASE", "Explanation", "explanation_documents",
                                     "worker_called"},
    "dask_timing.analysis.knobs": {"KnobEffect"},
    "dask_timing.analysis.scaling": {"Fit"},
    "dask_timing.analysis.stats": {"Summary"},
    "dask_timing.analysis.workers": {"Arrivals", "worker_label"},
    "dask_timing.history.overview": {"Overview"},
    "dask_timing.history.series": {"MetricHistory"},
    "dask_timing.history.steps": {"RULE", "VERDICT_WORDS", "Step"},
    "dask_timing.record.statistics": {"Summary"},
}
# What computes: statistics, verdicts, histories and their steps (the standard library's statistics too).
COMPUTING = ("dask_timing.analysis", "dask_timing.history", "dask_timing.record.statistics", "statistics")


def _import_nodes(path: Path, root: Path) -> list[tuple[ast.Import | ast.ImportFrom, str]]:
    """Every import statement of the file, at any depth (imports inside functions count too), with the module
    it imports from (relative imports resolved against the file's package; "" for ``import``)."""
    package = (PACKAGE, *path.relative_to(root).parts[:-1])
    found: list[tuple[ast.Import | ast.ImportFrom, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.append((node, ""))
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(package[:len(package) - node.level + 1]) if node.level else ""
            found.append((node, ".".join(part for part in (base, node.module) if part)))
    return found


def imported_modules(path: Path, root: Path) -> list[tuple[int, str]]:
    """(line, module) of every import in the file."""
    found = []
    for node, module in _import_nodes(path, root):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif node.module is None:  # from . import name: each name may be a module
            found += [(node.lineno, f"{module}.{alias.name}") for alias in node.names]
        else:
            found.append((node.lineno, module))
    return found


def imported_names(path: Path, root: Path) -> list[tuple[int, str, str | None]]:
    """(line, module, name) of every import in the file; name None for ``import module``."""
    found: list[tuple[int, str, str | None]] = []
    for node, module in _import_nodes(path, root):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, None) for alias in node.names]
        else:
            found += [(node.lineno, module, alias.name) for alias in node.names]
    return found


def computations_in_present(root: Path) -> list[str]:
    """Every import under ``present/`` of something that computes (``COMPUTING``) and is not in
    ``RENDERS_ONLY``, as ``path:line imports module.name``."""
    found = []
    for path in sorted((root / "present").rglob("*.py")):
        for line, module, name in imported_names(path, root):
            computing = any(module == prefix or module.startswith(prefix + ".") for prefix in COMPUTING)
            if computing and (name is None or name not in RENDERS_ONLY.get(module, ())):
                found.append(f"{path.relative_to(root.parent)}:{line} imports {module}"
                             + ("" if name is None else f".{name}"))
    return found


def violations(root: Path) -> list[str]:
    """Every import of a module under ``root`` that runs against NEVER, as ``path:line imports module``."""
    found = []
    for path in sorted(root.rglob("*.py")):
        layer = path.relative_to(root).parts[0]
        for line, module in imported_modules(path, root):
            parts = module.split(".")
            if layer in NEVER and parts[0] == PACKAGE and len(parts) > 1 and parts[1] in NEVER[layer]:
                found.append(f"{path.relative_to(root.parent)}:{line} imports {module}")
    return found


def test_imports_run_down_the_pipeline():
    assert violations(ROOT) == []


@pytest.mark.parametrize("importer, source, line, module", [
    ("measure/clock.py", "from dask_timing.present.console import RunConsole", 1, "dask_timing.present.console"),
    ("analysis/scaling.py", "import dask_timing.measure.workloads", 1, "dask_timing.measure.workloads"),
    ("measure/probes.py", "from ..analysis import stats", 1, "dask_timing.analysis"),
    ("present/report.py", "def late():\n    from dask_timing.study.plan import Plan", 2, "dask_timing.study.plan"),
    ("record/files.py", "from dask_timing.cli import common", 1, "dask_timing.cli"),
])
def test_the_check_finds_an_import_that_runs_up(tmp_path, importer, source, line, module):
    root = tmp_path / PACKAGE
    path = root / importer
    path.parent.mkdir(parents=True)
    path.write_text(source + "\n")
    assert violations(root) == [f"{PACKAGE}/{importer}:{line} imports {module}"]


def test_present_only_renders():
    assert computations_in_present(ROOT) == []


@pytest.mark.parametrize("source, line, imported", [
    ("from dask_timing.analysis.scaling import Fit, fit_scaling", 1, "dask_timing.analysis.scaling.fit_scaling"),
    ("def late():\n    from dask_timing.analysis.workers import median_run", 2,
     "dask_timing.analysis.workers.median_run"),
    ("from dask_timing.analysis.computed import Analysis, probe_medians", 1,
     "dask_timing.analysis.computed.probe_medians"),
    ("from ...analysis import scaling", 1, "dask_timing.analysis.scaling"),
    ("import dask_timing.analysis.knobs", 1, "dask_timing.analysis.knobs"),
    ("from dask_timing.history.series import MetricHistory, metric_history", 1,
     "dask_timing.history.series.metric_history"),
    ("from dask_timing.record.statistics import Summary, summarize", 1, "dask_timing.record.statistics.summarize"),
    ("import statistics", 1, "statistics"),
])
def test_the_check_finds_a_statistic_computed_in_present(tmp_path, source, line, imported):
    root = tmp_path / PACKAGE
    path = root / "present" / "plots" / "queue_depth.py"
    path.parent.mkdir(parents=True)
    path.write_text(source + "\n")
    assert computations_in_present(root) == [f"{PACKAGE}/present/plots/queue_depth.py:{line} imports {imported}"]


TESTS = Path(__file__).resolve().parent


def imports_of_test_files(folder: Path) -> list[str]:
    """Every import, in any ``*.py`` of ``folder`` (at any depth of the file), of one of the folder's
    ``test_*.py`` files, as ``path:line imports module``: what tests share lives in ``helpers`` (or ``conftest``)."""
    test_files = {path.stem for path in folder.glob("test_*.py")}
    found = []
    for path in sorted(folder.glob("*.py")):
        for line, module in imported_modules(path, folder):
            if module.split(".")[0] in test_files:
                found.append(f"{path.name}:{line} imports {module}")
    return found


def test_no_test_file_imports_another():
    found = imports_of_test_files(TESTS)
    assert found == [], "test files import other test files (move what they share to helpers.py):\n" + "\n".join(found)


@pytest.mark.parametrize("source, line, module", [
    ("from test_gates import STEADY", 1, "test_gates"),
    ("import test_gates", 1, "test_gates"),
    ("def late():\n    from test_gates import write_results", 2, "test_gates"),
    ("from test_gates import write_results as write_environment_results", 1, "test_gates"),
])
def test_the_check_finds_a_test_file_imported_by_another(tmp_path, source, line, module):
    (tmp_path / "test_gates.py").write_text("STEADY = [2.0]\n")
    (tmp_path / "helpers.py").write_text("import json\n")
    (tmp_path / "test_exports.py").write_text(source + "\n")
    assert imports_of_test_files(tmp_path) == [f"test_exports.py:{line} imports {module}"]
