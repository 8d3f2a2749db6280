"""Settings files a user gives (``--cluster-kwargs``, Dask's configuration): parsed within bounds.

YAML's aliases let a file of a few hundred bytes stand for a billion values ("billion
laughs"): the parser shares them, and whatever walks the value later (a JSON encoder, a
deep copy, Dask sending its configuration to the workers) runs for minutes.  So a file is
refused, in one line and in well under a second, when it is larger than MAX_BYTES, when its
values expanded would be more than MAX_VALUES, when it nests deeper than MAX_DEPTH, or when
an alias refers to the value that holds it.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from typing import Any

MAX_BYTES = 1 << 20  # larger than any settings file a person writes
MAX_VALUES = 100_000  # every scalar, list and mapping, each alias counted as what it stands for
MAX_DEPTH = 64


class SettingsError(ValueError):
    """A settings file or text that is refused; the message says why, on one line."""


class MalformedSettings(SettingsError):
    """Settings that are not valid YAML or JSON, or not UTF-8 text, at all."""


def read_settings_file(path: str) -> Any:
    """The value of a YAML (or JSON) file, bounded; SettingsError or OSError saying why not."""
    return parse_yaml(_read_text(path))


def read_json_file(path: str) -> Any:
    """The value of a JSON file (a scheduler file, say), bounded; SettingsError or OSError saying why not."""
    return parse_json(_read_text(path))


def _read_text(path: str) -> str:
    with open(path, "rb") as stream:
        data = stream.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise SettingsError(f"larger than {MAX_BYTES // 1024} KiB: not a settings file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as bad:
        raise MalformedSettings(f"it holds text that is not UTF-8, at byte {bad.start}") from None


def parse_yaml(text: str) -> Any:
    """The value of a YAML text, its size and depth checked on the parsed graph before any value is built."""
    import yaml  # a dependency of dask

    if _yaml_depth(text) > MAX_DEPTH:  # told by our own count, never by the parser's own limit and wording
        raise SettingsError(f"nested deeper than {MAX_DEPTH} levels")
    loader_class = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    loader = loader_class(text)
    try:
        try:
            node = loader.get_single_node()
        except RecursionError:
            raise SettingsError(f"nested deeper than {MAX_DEPTH} levels") from None
        except yaml.YAMLError as error:
            raise MalformedSettings(f"not valid YAML ({' '.join(str(error).split())})") from None
        if node is None:
            return None
        _check_graph(node)
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _yaml_depth(text: str) -> int:
    """How deeply a YAML text nests, counted before parsing: flow brackets outside quoted strings, or block
    indentation levels (each leading ``- `` one more), whichever is deeper.  An estimate that never counts a
    file the parser would accept deeper than it is by much; the parsed graph is measured exactly after."""
    from dask_timing.record.load import nesting_depth

    indents: list[int] = []
    deepest = 0
    for line in text.splitlines():
        content = line.lstrip(" ")
        if not content or content.startswith("#"):
            continue
        indent = len(line) - len(content)
        while indents and indents[-1] >= indent:
            indents.pop()
        indents.append(indent)
        dashes = len(content) - len(content.lstrip("- ")) if content.startswith("- ") else 0
        deepest = max(deepest, len(indents) + dashes // 2)
    flow = nesting_depth(text.replace("'", '"').encode("utf-8", "surrogatepass"))
    return max(deepest, flow)


def _check_graph(root: Any) -> None:
    """Refuse a graph of YAML nodes whose values expanded exceed MAX_VALUES or MAX_DEPTH levels, or that holds
    itself; each shared node (an alias) measured once."""
    import yaml

    measured: dict[int, tuple[int, int]] = {}  # id(node) -> (values, depth)
    in_progress: set[int] = set()

    def measure(node: Any, level: int) -> tuple[int, int]:
        if level > MAX_DEPTH:
            raise SettingsError(f"nested deeper than {MAX_DEPTH} levels")
        if id(node) in measured:
            return measured[id(node)]
        if id(node) in in_progress:
            raise SettingsError("an alias refers to the value that holds it")
        in_progress.add(id(node))
        children = ([item for pair in node.value for item in pair] if isinstance(node, yaml.MappingNode)
                    else node.value if isinstance(node, yaml.SequenceNode) else [])
        values, depth = 1, 0
        for child in children:
            child_values, child_depth = measure(child, level + 1)
            values += child_values
            depth = max(depth, child_depth + 1)
            if values > MAX_VALUES:
                raise SettingsError(f"more than {MAX_VALUES:,} values once its aliases are expanded")
        in_progress.discard(id(node))
        measured[id(node)] = (values, depth)
        return values, depth

    measure(root, 0)


def parse_json(text: str) -> Any:
    """The value of a JSON text given inline, bounded in size and depth as a file is."""
    from dask_timing.record.load import nesting_depth

    data = text.encode("utf-8", "surrogatepass")
    if len(data) > MAX_BYTES:
        raise SettingsError(f"larger than {MAX_BYTES // 1024} KiB")
    if nesting_depth(data) > MAX_DEPTH:
        raise SettingsError(f"nested deeper than {MAX_DEPTH} levels")
    try:
        return json.loads(text)
    except ValueError as error:
        raise MalformedSettings(f"not valid JSON ({error})") from None


def dask_config_files() -> list[str]:
    """The YAML and JSON files Dask reads its configuration from when it is imported (where ``dask.config``
    looks; found here without importing Dask, which would read them unbounded)."""
    import site

    folders = [os.environ.get("DASK_ROOT_CONFIG", "/etc/dask"), os.path.join(sys.prefix, "etc", "dask"),
               *(os.path.join(prefix, "etc", "dask") for prefix in site.PREFIXES),
               os.path.join(os.path.expanduser("~"), ".config", "dask")]
    if os.environ.get("DASK_CONFIG"):
        folders.append(os.environ["DASK_CONFIG"])
    found = []
    for place in dict.fromkeys(folders):
        if os.path.isdir(place):
            with contextlib.suppress(OSError):
                found += [os.path.join(place, name) for name in sorted(os.listdir(place))
                          if name.endswith((".yaml", ".yml", ".json"))]
        elif os.path.isfile(place):
            found.append(place)
    return found


def check_dask_config_files() -> None:
    """Refuse a Dask configuration file that is not bounded (see the module's docstring) before Dask reads it;
    SettingsError naming the file.  One Dask cannot read at all is left to Dask, which warns and goes on."""
    for path in dask_config_files():
        try:
            read_settings_file(path)
        except OSError:
            continue
        except SettingsError as error:
            said = "is malformed" if isinstance(error, MalformedSettings) else "is refused"
            raise SettingsError(f"Dask's configuration file {path} {said} ({error}); fix that file, or point "
                                "DASK_CONFIG elsewhere") from None
