"""Reading result files, current or of the earlier flat format, with the reason when unusable.

Files written by the public tool this project replaces hold only flat keys
(``total_time``, ``first_task_time``...); they are read as schema version 0.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

from dask_timing import phases
from dask_timing.record.files import read_bytes
from dask_timing.record.kinds import KIND_DISTRIBUTED, KIND_LOCAL
from dask_timing.record.schema import (
    LEGACY_SCHEMA_VERSION, MAX_SECONDS, RESULT_DOCUMENT, SCHEMA_VERSION, STUDY_DOCUMENT, SUMMARY_DOCUMENT, VERDICT_DOCUMENT, AnalyzedRun, RunResult, Seconds, TimedRun, TotalSeconds,
)


class ResultFileError(Exception):
    """A file that is not a readable dask-timing result; the message says why."""


class SummaryFile(ResultFileError):
    """A study summary or manifest, or a verdict file: ours, but not a run result."""


def from_json(document: Any, model: type[TimedRun] = RunResult) -> TimedRun:
    """Build a run from a parsed result document, current or legacy."""
    if not isinstance(document, dict):
        raise ResultFileError("not a JSON object")
    tag = document.get("document")
    if tag in (SUMMARY_DOCUMENT, STUDY_DOCUMENT, VERDICT_DOCUMENT):
        raise SummaryFile("a study summary, manifest or verdict, not a run result")
    if tag == RESULT_DOCUMENT or (tag is None and "kind" in document):  # as the decoder reads them
        _check_version(document.get("schema_version", SCHEMA_VERSION))  # absent: as the decoder reads it
        try:
            return msgspec.convert(document, model)
        except RecursionError:
            raise ResultFileError("malformed result (nested too deeply)") from None
        except msgspec.ValidationError as error:
            raise ResultFileError(f"malformed result ({_first_line(error)})") from None
    if phases.TOTAL_KEY in document or not phases.PHASES_BY_FLAT_KEY.keys().isdisjoint(document):
        return _from_legacy(document, model)
    raise ResultFileError("no dask-timing result keys (total_time, phases) in it")


def _check_version(version: Any) -> None:
    if not isinstance(version, int) or version > SCHEMA_VERSION:
        raise ResultFileError(
            f"schema version {version!r} is newer than this tool reads ({SCHEMA_VERSION}); "
            "update dask-timing"
        )


def _from_legacy(document: dict[str, Any], model: type[TimedRun] = RunResult) -> TimedRun:
    """Read a flat file of the public tool as ``model``: kind inferred from its phase keys."""
    kind = KIND_DISTRIBUTED if phases.SCHEDULER_START.flat_key in document else KIND_LOCAL
    found: dict[str, float] = {}
    after_ready: dict[str, float] = {}
    try:
        for name, value in document.items():  # one pass: these files are read by the thousand
            phase = phases.PHASES_BY_FLAT_KEY.get(name)
            if phase is not None and value is not None:
                found[phase.key] = value if type(value) is float and value >= 0 else _seconds(value)
            elif name.startswith("batch_") and name.endswith("_tasks_time") and value is not None:
                after_ready[name[: -len("_time")]] = _seconds(value)
        config = {
            "n_workers": _int_or_none(document.get("n_workers")),
            "threads_per_worker": _int_or_none(document.get("threads_per_worker")),
        }
        # Only a whole run has the scheduler's address; the lighter models are built faster.
        whole = {"scheduler": {"address": document["scheduler_address"]}} if (
            model is RunResult and "scheduler_address" in document) else {}
        return model(
            kind=kind,
            config=config,
            timestamp=str(document.get("timestamp", "")),
            phases=found,
            total_time=_total_or_none(document.get(phases.TOTAL_KEY)),
            after_ready=after_ready,
            schema_version=LEGACY_SCHEMA_VERSION,
            **whole,
        )
    except (TypeError, ValueError) as error:
        raise ResultFileError(f"malformed flat result ({error})") from None


_DECODERS = {model: msgspec.json.Decoder(model) for model in (TimedRun, AnalyzedRun, RunResult)}
# What every document the tools write holds, as its bytes: its tag (JSON escapes aside, which the
# model's decoder would read too: such a file is read the long way, to the same result).
_DOCUMENT_FIELD = b'"document"'


# Any failure to decode an arbitrary file: the decoder's exception types change between its versions (text
# that is not UTF-8 was a ValueError, then a DecodeError), so what users are told comes from this module's
# own checks of the bytes (``_why_undecodable``), never from which exception the decoder raised.
_UNDECODABLE = Exception
# Deeper than any result the tools write (a few levels, a cluster's settings a few more): "nested too deeply".
MAX_NESTING = 200
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_A_BRACKET = bytes(byte for byte in range(256) if byte not in b"[]{}")


def read_document(path: str) -> Any:
    """Any JSON document the tools wrote (a result, summary or manifest), parsed; ResultFileError
    saying why when the file cannot be read or parsed, whatever is wrong with it."""
    return _parse(_read(path))


def _read(path: str) -> bytes:
    try:
        return read_bytes(path)
    except OSError as error:
        raise ResultFileError(error.strerror or str(error)) from None


def _parse(data: bytes) -> Any:
    if nesting_depth(data) > MAX_NESTING:  # told here, whether or not the decoder would have managed
        raise ResultFileError("not valid JSON (nested too deeply)")
    try:
        return msgspec.json.decode(data)
    except _UNDECODABLE as error:
        raise ResultFileError(f"not valid JSON ({_why_undecodable(data, error)})") from None


def _why_undecodable(data: bytes, error: BaseException) -> str:
    """Why ``data`` is not JSON, told by checking the bytes here; the decoder's own words only as the last
    detail, after every case a user can act on was told apart."""
    if not data.strip():
        return "the file is empty"
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as bad:
        return f"it holds text that is not UTF-8, at byte {bad.start}"
    return _first_line(error)


def nesting_depth(data: bytes) -> int:
    """How deeply the arrays and objects of a JSON text nest (brackets inside strings not counted)."""
    brackets = _STRING.sub(b"", data).translate(None, _NOT_A_BRACKET)
    depth = deepest = 0
    for byte in brackets:
        depth += 1 if byte in b"[{" else -1
        deepest = max(deepest, depth)
    return deepest


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else "malformed"


def load_result(path: str, model: type[TimedRun] = RunResult) -> TimedRun:
    """Read one result file; raise ResultFileError saying why it is unusable.

    ``model=TimedRun`` reads only the timing; ``AnalyzedRun`` also which environment ran it
    (what the analyzer groups by).  A current result is
    decoded straight into the model, checked as it goes; anything else (a flat
    file of the earlier format, a study summary, a newer schema, a malformed
    file) is parsed as plain JSON to tell which.
    """
    data = _read(path)
    if _DOCUMENT_FIELD in data:
        try:
            result = _DECODERS[model].decode(data)
        except _UNDECODABLE:
            pass
        else:
            if result.schema_version > SCHEMA_VERSION:
                _check_version(result.schema_version)  # raises, saying so
            return result
    else:  # no such field: not a current result, perhaps a flat file
        result = _plain_flat_file(data, model)
        if result is not None:
            return result
    return from_json(_parse(data), model)


# A flat file's keys that ``_from_legacy`` reads but for the tasks timed after ready (``batch_N_tasks_time``),
# each checked as it checks it; the timed ones UNSET when absent (null is no figure, but says what the file is).
_FlatFile = msgspec.defstruct("FlatFile", [
    *((key, Seconds | None | msgspec.UnsetType, msgspec.UNSET) for key in phases.PHASES_BY_FLAT_KEY),
    (phases.TOTAL_KEY, TotalSeconds | None | msgspec.UnsetType, msgspec.UNSET),
    ("n_workers", int | None, None),
    ("threads_per_worker", int | None, None),
    ("timestamp", str, ""),
    ("scheduler_address", Any, msgspec.UNSET),
    ("kind", Any, msgspec.UNSET),  # a current result's: read the long way
])
_FLAT_DECODER = msgspec.json.Decoder(_FlatFile)
_FLAT_PHASE_KEYS = tuple(phase.key for phase in phases.PHASES_BY_FLAT_KEY.values())  # the struct's first fields
_DISTRIBUTED_FLAT_KEY = list(phases.PHASES_BY_FLAT_KEY).index(phases.SCHEDULER_START.flat_key)


def _plain_flat_file(data: bytes, model: type[TimedRun]) -> TimedRun | None:
    """A flat file read straight into ``model``, its phases in run order, when it is a plain one (without
    the tasks timed after ready, nor a ``kind`` as a current result has; every value as ``_from_legacy``
    takes it): read so, the flat files of a big study take a C call each.  None for anything else, left to
    ``from_json`` to read or refuse, saying why."""
    if b'"batch_' in data:
        return None
    try:
        flat = _FLAT_DECODER.decode(data)
    except _UNDECODABLE:
        return None
    *timed, total, workers, threads, timestamp, address, kind = msgspec.structs.astuple(flat)
    if kind is not msgspec.UNSET or (total is msgspec.UNSET and all(value is msgspec.UNSET for value in timed)):
        return None  # a current result without its tag, or no key of a flat file
    whole = {"scheduler": {"address": address}} if model is RunResult and address is not msgspec.UNSET else {}
    return model(
        kind=KIND_LOCAL if timed[_DISTRIBUTED_FLAT_KEY] is msgspec.UNSET else KIND_DISTRIBUTED,
        config={"n_workers": workers, "threads_per_worker": threads}, timestamp=timestamp,
        phases={key: value for key, value in zip(_FLAT_PHASE_KEYS, timed) if type(value) is float},
        total_time=None if total is msgspec.UNSET else total, schema_version=LEGACY_SCHEMA_VERSION, **whole)


def _total_or_none(value: Any) -> float | None:
    if value is None:
        return None
    if _seconds(value) == 0:
        raise ValueError("a total time of 0 seconds: no cluster is ready in no time")
    return float(value)


def _seconds(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= MAX_SECONDS:
        raise ValueError(f"{value!r} is not a number of seconds")
    return float(value)


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)
