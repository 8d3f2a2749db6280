"""The environments a study compares: prepared interpreters, and one cached virtual environment per Dask version.

An environment is an interpreter with dask, distributed and what a run needs.
``--python NAME=PATH`` names any prepared one (a development checkout of
distributed against a release, say); ``--dask-versions V1,V2`` builds one per
version, dask and distributed pinned to it, under the user's cache folder:

    $XDG_CACHE_HOME/dask-timing/envs/<interpreter>/<version>   (default ~/.cache/...)

A build happens once; later studies reuse it after checking its marker file,
which is written last: an interrupted build leaves a folder without a marker,
which no study uses and the next build replaces.  A lock file keeps two studies
from building the same version at once.  The environment is built in place
(not in a temporary folder renamed afterwards) because a virtual environment's
scripts hold its absolute path.  pip's own cache serves the downloads, and pip
compiles every module's bytecode at install, so no run pays for compiling.

Each run of a study starts with its environment's interpreter, finding this
package through a folder holding only a link to it, so that no other package of
the study's own interpreter can leak into the run.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from typing import Any, Callable, Iterator

import dask_timing
from dask_timing.deploy.process_tree import run_tree
from dask_timing.entry import MINIMUM_PYTHON
from dask_timing.errors import UsageError
from dask_timing.record.environment import utc_timestamp
from dask_timing.record.files import write_json

PACKAGE_DIR = os.path.dirname(os.path.abspath(dask_timing.__file__))
# What a run imports (requirements.txt says why each is needed); a prepared interpreter must have them.
RUN_MODULES = ("dask", "distributed", "bokeh", "psutil", "numpy", "msgspec")
# Installed beside dask and distributed in a built environment: what a run needs, and dask-jobqueue for
# --type slurm.  Not the analyzer's plotting and statistics, which run in the study's own interpreter.
RUN_REQUIREMENTS = ("bokeh>=3.1", "psutil>=5.9", "numpy>=1.26", "msgspec>=0.18", "dask-jobqueue>=0.9")
COMPLETE_MARKER = "dask-timing-environment.json"  # written last: its presence means the build finished
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]*")  # names go into file names
VERSION_PATTERN = re.compile(r"[0-9]+(\.[0-9]+)*((a|b|rc)[0-9]+)?")
PROBE_TIMEOUT = 120.0
INDEX_TIMEOUT = 180.0
# Run in the interpreter being checked: which of the modules are missing, the versions, and
# this package's bytecode compiled for it (so that no run pays for compiling it).
PROBE = r"""
import sys
if sys.version_info < (3, 8):
    print('{"python_version": "%d.%d.%d"}' % sys.version_info[:3]); sys.exit(0)
import compileall, importlib.util, json, platform
from importlib import metadata
def version(name):
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None
missing = [name for name in sys.argv[2:] if importlib.util.find_spec(name) is None]
compileall.compile_dir(sys.argv[1], quiet=2)
print(json.dumps({"python_version": platform.python_version(), "executable": sys.executable,
                  "missing": missing, "dask": version("dask"), "distributed": version("distributed")}))
"""


@dataclass(frozen=True)
class Environment:
    """One environment of a study: its name, its interpreter, and the Dask version it was built for."""

    name: str
    python: str
    dask_version: str | None = None  # set for --dask-versions: built (and rebuilt if gone) by this tool

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> "Environment":
        return cls(document["name"], document["python"], document.get("dask_version"))


def named_interpreter(text: str) -> tuple[str, str]:
    """``NAME=PATH`` of --python, checked for form (the interpreter itself is checked by ``describe``)."""
    name, separator, path = text.partition("=")
    if not separator or not path:
        raise ValueError(f"expected NAME=PATH, got {text!r}")
    if not NAME_PATTERN.fullmatch(name):
        raise ValueError(f"a name is letters, digits, '.', '_', '+' or '-', got {name!r}")
    return name, os.path.abspath(os.path.expanduser(path))


def dask_version(text: str) -> str:
    """A release of --dask-versions, such as 2025.12.0, checked for form."""
    if not VERSION_PATTERN.fullmatch(text):
        raise ValueError(f"expected a release such as 2025.12.0, got {text!r}")
    return text


def environments_of(interpreters: list[tuple[str, str]], versions: list[str]) -> list[Environment]:
    """The study's environments, in the order given (the first is the reference); names must differ."""
    environments = [Environment(name, path) for name, path in interpreters]
    environments += [Environment(f"dask-{version}", version_python(version), version) for version in versions]
    names = [environment.name for environment in environments]
    for name in names:
        if names.count(name) > 1:
            raise UsageError(f"two environments are named {name}: give each --python NAME once "
                             "(--dask-versions V is named dask-V)")
    return environments


def cache_root() -> str:
    """Where built environments live: the user's cache folder."""
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(cache, "dask-timing", "envs")


def _interpreter_tag() -> str:
    """The interpreter built environments are made from: its Python, and which installation it is."""
    base = os.path.realpath(getattr(sys, "_base_executable", None) or sys.executable)
    digest = hashlib.sha256(base.encode()).hexdigest()[:8]
    return f"{sys.implementation.name}-{sys.version_info[0]}.{sys.version_info[1]}-{digest}"


@dataclass(frozen=True)
class Recipe:
    """What one cached environment holds: its folder's name, what pip installs into it beside what a run
    needs, and what its marker says it is (a release of dask and distributed, or a commit of a checkout)."""

    key: str
    requirements: tuple[str, ...]
    describes: tuple[tuple[str, str], ...]  # (what, which): ("dask", "2025.12.0"), ("commit", "4f0c...")
    # Sees the packages of the interpreter it is made from: what they satisfy is not downloaded again.
    system_site_packages: bool = False

    def folder(self) -> str:
        return os.path.join(cache_root(), _interpreter_tag(), self.key)

    def python(self) -> str:
        return os.path.join(self.folder(), "bin", "python")

    def is_built(self) -> bool:
        return os.path.isfile(os.path.join(self.folder(), COMPLETE_MARKER))

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "requirements": list(self.requirements), "describes": dict(self.describes),
                "system_site_packages": self.system_site_packages}

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> "Recipe":
        return cls(document["key"], tuple(document["requirements"]), tuple(document["describes"].items()),
                   document["system_site_packages"])


def release_recipe(version: str) -> Recipe:
    """The environment of one Dask release: dask and distributed pinned to it."""
    return Recipe(version, (f"dask=={version}", f"distributed=={version}"),
                  (("dask", version), ("distributed", version)))


def version_python(version: str) -> str:
    return release_recipe(version).python()


def is_built(version: str) -> bool:
    return release_recipe(version).is_built()


def check_installable(versions: list[str]) -> None:
    """Refuse, before anything is built or run, a version the package index does not have for this
    Python (versions already built are not asked about)."""
    wanted = [version for version in versions if not is_built(version)]
    if not wanted:
        return
    python = f"Python {sys.version_info[0]}.{sys.version_info[1]}"
    for package in ("dask", "distributed"):
        available = released_versions(package)
        for version in wanted:
            if version not in available:
                raise UsageError(f"--dask-versions: {package} {version} cannot be installed for {python} "
                                 f"(the package index has no such release for it)")


def released_versions(package: str) -> set[str]:
    """The releases of ``package`` the package index offers this interpreter (pip's own configuration)."""
    completed = _pip(["index", "versions", package], INDEX_TIMEOUT)
    for line in completed.stdout.splitlines():
        if line.startswith("Available versions:"):
            return {version.strip() for version in line.split(":", 1)[1].split(",")}
    raise UsageError(f"--dask-versions: cannot read the releases of {package} from the package index "
                     f"({_last_line(completed.stderr) or 'no answer'})")


def _pip(arguments: list[str], timeout: float) -> subprocess.CompletedProcess:
    """This interpreter's pip; UsageError if it has none or it does not answer in time."""
    try:
        return run_tree([sys.executable, "-m", "pip", "--disable-pip-version-check", *arguments], timeout)
    except subprocess.TimeoutExpired:
        raise UsageError(f"--dask-versions: pip did not finish 'pip {arguments[0]}' in {timeout:g} s "
                         "(is the package index reachable?)") from None


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


@contextlib.contextmanager
def _build_lock(folder: str) -> Iterator[None]:
    """Hold the lock of one version's environment: one build at a time, across processes."""
    import fcntl

    os.makedirs(os.path.dirname(folder), exist_ok=True)
    with open(lock_path(folder), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


class InstallFailed(UsageError):
    """pip could not install an environment: what it was to hold, and pip's last word on why."""

    def __init__(self, what: str, why: str) -> None:
        super().__init__(f"{what} could not be installed ({why})")
        self.why = why


def build(recipe: Recipe, write: Callable[[str], None] = print) -> bool:
    """Make sure the environment of ``recipe`` is built; True if it was built now, False if cached.

    A folder without the marker is what an interrupted build left: it is removed and built again.
    """
    folder = recipe.folder()
    if recipe.is_built():
        return False
    with _build_lock(folder):
        if recipe.is_built():  # another study built it while this one waited
            return False
        what = ", ".join(f"{name} {value}" for name, value in recipe.describes)
        write(f"Building the environment of {what} in {folder} (once; later studies reuse it)...")
        shutil.rmtree(folder, ignore_errors=True)
        try:
            _install(folder, recipe)
        except BaseException:  # an error or an interruption: leave nothing a study could mistake for built
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return True


def _install(folder: str, recipe: Recipe) -> None:
    shared = ["--system-site-packages"] if recipe.system_site_packages else []
    made = run_tree([sys.executable, "-m", "venv", "--without-pip", *shared, folder])
    if made.returncode != 0:
        raise RuntimeError(f"python -m venv {folder} failed: {_last_line(made.stderr)}")
    python = os.path.join(folder, "bin", "python")
    completed = _pip(["--python", python, "install", "--compile", "--quiet", *recipe.requirements,
                      *RUN_REQUIREMENTS], timeout=1800)
    if completed.returncode != 0:
        what = " and ".join(f"{name} {value}" for name, value in recipe.describes)
        errors = [line for line in completed.stderr.splitlines() if line.lstrip().lower().startswith("error")]
        # An error line that ends in ':' announces what follows it (pip's "ERROR: Exception:" and a traceback):
        # the last line says what went wrong.
        last_error = errors[-1] if errors and not errors[-1].rstrip().endswith(":") else completed.stderr
        why = _last_line(last_error) or f"pip exited with {completed.returncode}"
        raise InstallFailed(what, why)
    write_json(os.path.join(folder, COMPLETE_MARKER),
               {**recipe.to_json(), **dict(recipe.describes), "run_requirements": list(RUN_REQUIREMENTS),
                "built": utc_timestamp(), "made_from": sys.executable})


def cached_folder(python: str) -> str | None:
    """The built environment's folder an interpreter belongs to (None: a prepared interpreter)."""
    folder = os.path.dirname(os.path.dirname(os.path.abspath(python)))
    return folder if os.path.dirname(os.path.dirname(folder)) == cache_root() else None


def lock_path(folder: str) -> str:
    """The lock of a built environment: held exclusively to build or remove it, shared while runs use it."""
    return folder + ".lock"


@contextlib.contextmanager
def in_use(environments: list[Environment]) -> Iterator[None]:
    """Mark the built environments among ``environments`` as in use while the runs go: a shared lock,
    which ``dask-timing envs prune`` cannot take (so it leaves them), and their marker's time set to now
    (what ``envs`` shows as last used).  The lock goes with the process, however it ends."""
    import fcntl

    with contextlib.ExitStack() as stack:
        for folder in dict.fromkeys(filter(None, (cached_folder(environment.python) for environment in environments))):
            lock = stack.enter_context(open(lock_path(folder), "a"))
            fcntl.flock(lock, fcntl.LOCK_SH)
            with contextlib.suppress(OSError):
                os.utime(os.path.join(folder, COMPLETE_MARKER))
        yield


def _described(environment: Environment) -> str:
    if environment.dask_version:
        return f"the environment of dask {environment.dask_version} ({environment.python})"
    return f"--python {environment.name}={environment.python}"


def check_executable(environment: Environment) -> None:
    """UsageError, one line, if the environment's interpreter is no executable file."""
    if not os.path.isfile(environment.python) or not os.access(environment.python, os.X_OK):
        raise UsageError(f"{_described(environment)}: no such executable file")


def describe(environment: Environment, modules: tuple[str, ...]) -> dict[str, Any]:
    """What the environment's interpreter is (Python, dask and distributed versions); UsageError, one
    line, if it is not an interpreter with ``modules`` that can run this tool."""
    what = _described(environment)
    check_executable(environment)
    try:
        completed = run_tree([environment.python, "-c", PROBE, PACKAGE_DIR, *modules], PROBE_TIMEOUT)
        found = json.loads(completed.stdout.strip().splitlines()[-1])
        version = tuple(int(part) for part in found["python_version"].split(".")[:2])
    except (OSError, subprocess.TimeoutExpired, ValueError, IndexError, KeyError, TypeError, AttributeError):
        raise UsageError(f"{what} is not a Python interpreter that answers "
                         "(it should run 'PATH -c CODE' and print)") from None
    if version < MINIMUM_PYTHON:
        raise UsageError(f"{what} is Python {found['python_version']}; dask-timing needs "
                         f"{'.'.join(map(str, MINIMUM_PYTHON))} or newer")
    if found["missing"]:
        raise UsageError(f"{what} lacks {', '.join(found['missing'])}: install dask, distributed and "
                         "dask-timing's requirements into it (pip install -r requirements.txt)")
    return found


@contextlib.contextmanager
def package_path() -> Iterator[str]:
    """A folder holding only a link to this package: the runs' PYTHONPATH, which shows them this
    package and nothing else of the study's interpreter (an installed copy lives among other packages)."""
    folder = tempfile.mkdtemp(prefix="dask-timing-package-")
    try:
        os.symlink(PACKAGE_DIR, os.path.join(folder, "dask_timing"))
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def prepare(environments: list[Environment], modules: tuple[str, ...],
            write: Callable[[str], None] = print) -> None:
    """Build what is missing and check every interpreter, before any run; the time it took is printed
    apart from the study's."""
    if not environments:
        return
    began = time.monotonic()
    check_installable([environment.dask_version for environment in environments if environment.dask_version])
    built = [environment.name for environment in environments
             if environment.dask_version and build(release_recipe(environment.dask_version), write)]
    described = [(environment, describe(environment, modules)) for environment in environments]
    write("Environments (the first is the reference):")
    for environment, found in described:
        write(f"  {environment.name}: {found['executable']} (Python {found['python_version']}, "
              f"dask {found['dask']}, distributed {found['distributed']})")
    cached = [environment.name for environment in environments
              if environment.dask_version and environment.name not in built]
    done = [f"{what}: {', '.join(names)}" for what, names in (("built", built), ("cached", cached)) if names]
    write(f"Preparing the environments took {time.monotonic() - began:.1f} s, apart from the study"
          + (f" ({'; '.join(done)})" if done else ""))
