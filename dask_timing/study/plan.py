"""A study's plan: its configurations (the sweep), runs, bounds and environments.

Lists on any axis (``--workers 1,2,4``, ``--type local,distributed``) make a
sweep; so do environments (``--python NAME=PATH``, ``--dask-versions``:
``measure.environments``).  A plan is checked whole before the first run
(``UsageError`` for a misfit) and saved in the study's manifest
(``study.manifest``) so ``--resume`` finishes the same study.
"""

from __future__ import annotations

import dataclasses
import itertools
import sys
from dataclasses import dataclass, field
from typing import Any

from dask_timing.defaults import DEFAULT_THREADS, DEFAULT_TIMEOUT, DEFAULT_WORKERS
from dask_timing.deploy.manager import check_cluster_arguments
from dask_timing.errors import UsageError
from dask_timing.measure.environments import RUN_MODULES, Environment, environments_of
from dask_timing.record.workloads import DEFAULT_CHUNK
from dask_timing.record.environment import utc_timestamp
from dask_timing.record.kinds import KIND_CLUSTER, KIND_DISTRIBUTED, KIND_LOCAL
from dask_timing.record.schema import SCHEMA_VERSION, STUDY_DOCUMENT, new_study_id
from dask_timing.record.secrets import mask_secrets

TYPE_SLURM = "slurm"  # dask-jobqueue's SLURMCluster on the Slurm this machine submits to
MANAGED_TYPES = (TYPE_SLURM, KIND_CLUSTER)  # cluster: any cluster manager given with --cluster-class
STUDY_TYPES = (KIND_LOCAL, KIND_DISTRIBUTED, *MANAGED_TYPES)
SLURM_CLASS = "dask_jobqueue:SLURMCluster"
# One single-process worker per job, with --threads cores; the job runs the run's interpreter.
SLURM_DEFAULTS = {"processes": 1, "memory": "1GB", "walltime": "00:30:00"}
ON_OFF = {"on": True, "off": False}


@dataclass(frozen=True)
class Configuration:
    """One point of the sweep: the study type, the settings passed to the timing tool, and the environment."""

    kind: str
    workers: int
    threads: int
    start_method: str | None
    dashboard: str
    isolation: str | None  # nanny on/off (distributed) or processes on/off (local)
    environment: str | None = None  # the environment's name; None: the study's own interpreter

    def that_differs(self) -> "Configuration":
        """This configuration without a knob that does nothing here: no worker process is started
        by a nanny (thread workers, or workers without a nanny), so the start method is moot."""
        if self.isolation == "off" and self.start_method is not None:
            return dataclasses.replace(self, start_method=None)
        return self

    def arguments(self) -> list[str]:
        arguments = ["--workers", str(self.workers)]
        if self.kind in MANAGED_TYPES:  # threads and the rest come from the cluster's own arguments
            return arguments
        arguments += ["--threads", str(self.threads)]
        if self.start_method:
            arguments += ["--start-method", self.start_method]
        if self.dashboard == "off":
            arguments.append("--no-dashboard")
        if self.isolation == "off":
            arguments.append("--no-nanny" if self.kind == KIND_DISTRIBUTED else "--no-processes")
        return arguments

    def stem(self) -> str:
        """File-name part: type, workers, threads, whichever knobs are set, and the environment."""
        parts = [self.kind, f"w{self.workers}", f"t{self.threads}"]
        if self.start_method:
            parts.append(self.start_method)
        if self.dashboard == "off":
            parts.append("nodash")
        if self.isolation == "off":
            parts.append("nonanny" if self.kind == KIND_DISTRIBUTED else "threads")
        if self.environment:
            parts.append(self.environment)
        return "_".join(parts)


# The options that make a plan (None: the default below).
PLAN_OPTIONS = ("type", "workers", "threads", "start_method", "dashboard", "nanny", "processes", "workload",
                "workload_chunk", "runs", "warmup", "timeout", "cluster_class", "cluster_kwargs", "python",
                "dask_versions", "import_profile")
KNOBS = ("start_method", "dashboard", "nanny", "processes")
# 5 runs: the fewest with which a comparison of two configurations can be significant at p < 0.01
# (Mann-Whitney's smallest p with 5 against 5 is 2 / C(10, 5) = 0.008); one run gives no spread at all.
DEFAULT_RUNS = 5
DEFAULTS = {"type": [KIND_LOCAL], "workers": [DEFAULT_WORKERS], "threads": [DEFAULT_THREADS], "runs": DEFAULT_RUNS, "warmup": 0,
            "timeout": DEFAULT_TIMEOUT, "workload_chunk": DEFAULT_CHUNK, "python": [], "dask_versions": [],
            "import_profile": False}


@dataclass
class Plan:
    """Everything that defines a study; saved in its manifest."""

    study_id: str
    kinds: list[str]
    configurations: list[Configuration]
    runs: int
    warmup: int
    timeout: float
    workload: str | None
    workload_chunk: int
    cluster_class: str | None = None  # of --type cluster (slurm's is SLURM_CLASS)
    cluster_kwargs: dict[str, Any] | None = None  # as given; slurm's defaults are added per run
    environments: list[Environment] = field(default_factory=list)
    # --db (its URL, the password masked), --label and --revision: a resumed study records as it began
    recording: dict[str, str | None] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # what the sweep left out and why; not in the manifest
    import_profile: bool = False  # every run profiles its workers' imports (--import-profile)

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> "Plan":
        """A new study's plan from the options given (None: the default); UsageError for misfits."""
        values = dict(options)
        values.update({name: DEFAULTS[name] for name in DEFAULTS if values[name] is None})
        kinds = values["type"]
        check_knobs(kinds, values)
        cluster_class, cluster_kwargs = managed_cluster(kinds, values)
        environments = environments_of(values["python"], values["dask_versions"])
        names = [environment.name for environment in environments] or [None]
        swept = [
            Configuration(kind, *point, name)
            for kind in kinds
            for point in itertools.product(values["workers"], values["threads"], *knob_values(kind, values))
            for name in names  # innermost: each setting's environments run one after the other
        ]
        configurations = list(dict.fromkeys(map(Configuration.that_differs, swept)))
        plan = cls(new_study_id(), kinds, configurations, values["runs"], values["warmup"], values["timeout"],
                   values["workload"], values["workload_chunk"], cluster_class, cluster_kwargs, environments,
                   import_profile=values["import_profile"])
        if len(configurations) < len(swept):
            plan.notes.append(f"{len(swept) - len(configurations)} combination(s) left out: they cannot differ from "
                              "one kept (a start method does not apply to thread workers, --processes off, or to "
                              "workers without a nanny, --nanny off)")
        return plan

    def to_json(self) -> dict[str, Any]:
        return {
            "document": STUDY_DOCUMENT,
            "schema_version": SCHEMA_VERSION,
            "study_id": self.study_id,
            "created": utc_timestamp(),
            "types": self.kinds,
            "configurations": [configuration.__dict__ for configuration in self.configurations],
            "environments": [environment.to_json() for environment in self.environments],
            "runs": self.runs,
            "warmup": self.warmup,
            "timeout": self.timeout,
            "workload": self.workload,
            "workload_chunk": self.workload_chunk,
            "cluster_class": self.cluster_class,
            # results are meant to be shared, and so is the folder they are in: no secrets
            "cluster_kwargs": mask_secrets(self.cluster_kwargs),
            "recording": mask_secrets(self.recording),
            "import_profile": self.import_profile,
        }

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> "Plan":
        kinds = document.get("types") or [document["kind"]]  # a manifest of one type had "kind"
        return cls(
            document["study_id"], kinds,
            [Configuration(**{"kind": kinds[0], **configuration}) for configuration in document["configurations"]],
            document["runs"], document["warmup"], document["timeout"], document["workload"],
            document["workload_chunk"], document.get("cluster_class"), document.get("cluster_kwargs"),
            [Environment.from_json(environment) for environment in document.get("environments", [])],
            dict(document.get("recording") or {}), import_profile=bool(document.get("import_profile")),
        )

    def schedule(self) -> list[tuple[Configuration, int, bool]]:
        """(configuration, run number, warmup?) in the order to run: warmups, then rounds."""
        order = [(configuration, run, True) for run in range(1, self.warmup + 1) for configuration in self.configurations]
        order += [(configuration, run, False) for run in range(1, self.runs + 1) for configuration in self.configurations]
        return order

    def environment(self, name: str | None) -> Environment | None:
        return next((environment for environment in self.environments if environment.name == name), None)

    def cluster(self, kind: str, python: str) -> tuple[str, dict[str, Any]]:
        """The cluster class and arguments of a managed type's runs under interpreter ``python``."""
        return cluster_for(kind, self.cluster_class, self.cluster_kwargs, python)

    def required_modules(self) -> tuple[str, ...]:
        """What every environment's interpreter must have: a run's requirements, and the cluster's module."""
        clusters = [self.cluster(kind, sys.executable)[0] for kind in self.kinds if kind in MANAGED_TYPES]
        return tuple(dict.fromkeys([*RUN_MODULES, *(name.split(":")[0].split(".")[0] for name in clusters)]))


def cluster_for(kind: str, cluster_class: str | None, cluster_kwargs: dict[str, Any] | None,
                python: str) -> tuple[str, dict[str, Any]]:
    """A managed type's cluster class and arguments; Slurm's jobs run the run's own interpreter."""
    if kind == TYPE_SLURM:
        return SLURM_CLASS, {**SLURM_DEFAULTS, "python": python, **(cluster_kwargs or {})}
    return cluster_class, dict(cluster_kwargs or {})


def knob_values(kind: str, values: dict[str, Any]) -> list[list[Any]]:
    """The start methods, dashboard settings and isolation settings a kind's configurations take."""
    if kind in MANAGED_TYPES:  # set in the cluster's own arguments
        return [[None], ["on"], [None]]
    isolation = values["nanny"] if kind == KIND_DISTRIBUTED else values["processes"]
    return [values["start_method"] or [None], values["dashboard"] or ["on"], isolation or [None]]


def check_knobs(kinds: list[str], values: dict[str, Any]) -> None:
    """Each knob given must apply to one of the study's types (the others do without it)."""
    if values["nanny"] and KIND_DISTRIBUTED not in kinds:
        raise UsageError("--nanny is for --type distributed; for local use --processes")
    if values["processes"] and KIND_LOCAL not in kinds:
        raise UsageError("--processes is for --type local; for distributed use --nanny")
    knobs = [name for name in KNOBS if values[name]]
    if knobs and all(kind in MANAGED_TYPES for kind in kinds):
        raise UsageError(f"--{knobs[0].replace('_', '-')} is not for --type {kinds[0]}: "
                         "set it in the cluster's own arguments (--cluster-kwargs)")


def managed_cluster(kinds: list[str], values: dict[str, Any]) -> tuple[str | None, dict[str, Any] | None]:
    """The cluster class (of --type cluster) and the arguments of the managed types; usage errors for misfits."""
    if not any(kind in MANAGED_TYPES for kind in kinds):
        if values["cluster_class"] or values["cluster_kwargs"]:
            raise UsageError("--cluster-class and --cluster-kwargs go with --type slurm or --type cluster")
        return None, None
    if values["cluster_class"] and KIND_CLUSTER not in kinds:
        raise UsageError("--type slurm uses dask_jobqueue:SLURMCluster; for another class use --type cluster")
    if KIND_CLUSTER in kinds and not values["cluster_class"]:
        raise UsageError("--type cluster needs --cluster-class MODULE:CLASS")
    cluster_class, cluster_kwargs = values["cluster_class"], dict(values["cluster_kwargs"] or {})
    for kind in kinds:
        if kind in MANAGED_TYPES:
            try:
                check_cluster_arguments(*cluster_for(kind, cluster_class, cluster_kwargs, sys.executable))
            except ValueError as error:
                raise UsageError(f"--cluster-class: {error}") from None
    return cluster_class, cluster_kwargs
