"""The package's imports run down the pipeline: a check over every module's imports, read with ``ast``.

cli and the study workflow sit on top; present uses analysis and record; analysis and history use record;
measure uses deploy and record; measure and analysis never import each other; record and deploy import none
of the layers above them.  A lower layer that needs a name of a higher one gets it from a place both may
import (``record``, or a neutral module at the package's top such as ``phases`` or ``errors``).
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


def imported_modules(path: Path, root: Path) -> list[tuple[int, str]]:
    """(line, module) of every import in the file, at any depth (imports inside functions count too);
    relative imports resolved against the file's package."""
    package = (PACKAGE, *path.relative_to(root).parts[:-1])
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(package[:len(package) - node.level + 1]) if node.level else ""
            module = ".".join(part for part in (base, node.module) if part)
            if node.module is None:  # from . import name: each name may be a module
                found += [(node.lineno, f"{module}.{alias.name}") for alias in node.names]
            else:
                found.append((node.lineno, module))
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
