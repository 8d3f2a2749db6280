"""A study's manifest: its plan, saved beside its results so ``--resume`` can finish it."""

from __future__ import annotations

import os

from dask_timing.errors import UsageError
from dask_timing.record.files import write_json
from dask_timing.record.load import ResultFileError, read_document
from dask_timing.study.plan import Plan


def manifest_path(folder: str, study_id: str) -> str:
    return os.path.join(folder, f"study_{study_id}.json")


def save_manifest(folder: str, plan: Plan) -> None:
    """Keep a new study's plan in ``folder`` (never over another file)."""
    write_json(manifest_path(folder, plan.study_id), plan.to_json())


def find_manifest(folder: str, study_id: str) -> str:
    """The manifest of ``study_id`` in ``folder`` ('latest': the newest one)."""
    if study_id != "latest":
        path = manifest_path(folder, study_id)
        if not os.path.exists(path):
            raise UsageError(f"no study {study_id} in {folder} (no {os.path.basename(path)})")
        return path
    manifests = sorted(name for name in os.listdir(folder) if name.startswith("study_") and name.endswith(".json"))
    if not manifests:
        raise UsageError(f"no study to resume in {folder}: no study_*.json manifest")
    return os.path.join(folder, manifests[-1])


def load_plan(folder: str, study_id: str) -> Plan:
    """The plan of the study to resume: ``study_id`` in ``folder`` ('latest': the newest); UsageError if unreadable."""
    path = find_manifest(folder, study_id)
    try:
        return Plan.from_json(read_document(path))
    except (ResultFileError, KeyError, TypeError, ValueError, AttributeError) as error:
        raise UsageError(f"{path} is not a readable study manifest ({error}); start a new study "
                         "or give another --resume STUDY_ID") from None
