"""Any Dask cluster manager (LocalCluster, SubprocessCluster, dask-jobqueue, dask-kubernetes...),
given by its import path, and the checks of that path and its arguments before anything starts."""

from __future__ import annotations

import importlib
import inspect
import json
import shlex
from typing import Any

from dask_timing.deploy.base import ClusterRequest, LaunchSettings, WorkerInstrumentation, common_threads
from dask_timing.deploy.scaled import ScaledClusterDeployment
from dask_timing.record.kinds import KIND_CLUSTER
from dask_timing.record.secrets import mask_secrets


class ClusterManagerDeployment(ScaledClusterDeployment):
    """Any Dask cluster manager (``LocalCluster``, ``SubprocessCluster``, dask-jobqueue's
    ``SLURMCluster``, dask-kubernetes' ``KubeCluster``...), given as ``module:Class`` with
    its arguments: created with no workers, then ``scale(N)``.

    Threads per worker are the class's own business (its arguments): the
    configuration records what came up.
    """

    kind = KIND_CLUSTER

    def __init__(self, cluster_class: str, cluster_kwargs: dict[str, Any], launch: LaunchSettings) -> None:
        super().__init__(launch)
        self.cluster_class = cluster_class
        self.cluster_kwargs = cluster_kwargs
        self.observed: dict[str, Any] = {}

    @classmethod
    def from_request(cls, request: ClusterRequest) -> ClusterManagerDeployment:
        if request.cluster_class is None:
            raise ValueError("a cluster manager deployment needs a cluster class")
        return cls(request.cluster_class, request.cluster_kwargs, request.launch)

    @property
    def title(self) -> str:
        return f"Timing Dask Cluster Manager Startup ({self.cluster_class})"

    def header(self, n_workers: int) -> list[tuple[str, Any]]:
        return [("Workers", n_workers), ("Cluster class", self.cluster_class),
                ("Cluster arguments", json.dumps(mask_secrets(self.cluster_kwargs)))]

    def config(self) -> dict[str, Any]:
        return {
            "cluster_class": self.cluster_class,
            "cluster_kwargs": self.cluster_kwargs,
            "start_method": self.launch.start_method,
            **self.observed,
        }

    def observe_workers(self, workers: list[dict[str, Any]]) -> None:
        """Threads per worker are set by the class's own arguments: record what came up."""
        self.observed = {"threads_per_worker": common_threads(workers)}

    def make_cluster(self) -> Any:
        cls = import_cluster_class(self.cluster_class)
        arguments = cluster_defaults(cls, self.launch.host, self.launch.workdir, self.cluster_kwargs)
        for name, value in self.cluster_kwargs.items():  # the user's settings win, nested ones too
            if isinstance(value, dict) and isinstance(arguments.get(name), dict):
                arguments[name] = {**arguments[name], **value}
            else:
                arguments[name] = value
        if self.instrumentation is not None and hasattr(cls, "job_cls"):
            arguments["job_script_prologue"] = job_prologue(cls, arguments, self.instrumentation)
            if arguments.get("nanny", True):  # its job runs `dask worker --nanny`
                arguments["worker_extra_args"] = [*arguments.get("worker_extra_args", []),
                                                  *self.instrumentation.nanny_arguments()]
        return cls(**arguments, asynchronous=True)


def job_prologue(cls: Any, arguments: dict[str, Any], instrumentation: WorkerInstrumentation) -> list[str]:
    """A dask-jobqueue job script's prologue: the configured one, then the stamping module's variables.

    Batch jobs start from the batch system's environment, not this process's:
    the job script exports what the nanny and the worker need.
    """
    import dask.config

    given = arguments.get("job_script_prologue")
    if given is None:
        given = dask.config.get(f"jobqueue.{cls.job_cls.config_name}.job-script-prologue", None) or []
    environment = instrumentation.environment()
    if instrumentation.import_profile and arguments.get("nanny") is False:  # no nanny to ask for it
        environment["PYTHONPROFILEIMPORTTIME"] = "1"
    return [*given, *(f"export {name}={shlex.quote(value)}" for name, value in environment.items())]


def takes_this_environment(cls: Any) -> bool:
    """Whether a cluster class's workers start with this process's Dask settings and environment:
    distributed's in-process and subprocess clusters, and dask-jobqueue's jobs (their job script)."""
    from distributed import LocalCluster
    from distributed.deploy.subprocess import SubprocessCluster

    return hasattr(cls, "job_cls") or cls is SubprocessCluster or (inspect.isclass(cls) and issubclass(cls, LocalCluster))


def import_cluster_class(path: str) -> Any:
    """``module:Class`` (or ``module.Class``) to the class, or a factory such as
    ``SubprocessCluster``; ValueError saying what is wrong."""
    module_name, _, class_name = path.partition(":") if ":" in path else path.rpartition(".")
    if not module_name or not class_name:
        raise ValueError(f"{path!r} is not module:Class (e.g. dask_jobqueue:SLURMCluster)")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        from dask_timing.errors import EXTRAS, missing_requirement

        if (error.name or "").split(".")[0] in EXTRAS:  # one of the package's extras: which one to install
            raise ValueError(missing_requirement(error)) from None
        raise ValueError(f"cannot import {module_name} ({error}); is it installed?") from None
    cls = getattr(module, class_name, None)
    if not callable(cls):
        raise ValueError(f"{module_name} has no cluster class {class_name}")
    from distributed.deploy.cluster import Cluster

    if inspect.isclass(cls) and not issubclass(cls, Cluster):
        raise ValueError(f"{path} is not a Dask cluster manager (a subclass of distributed.deploy.Cluster)")
    return cls


def cluster_defaults(cls: Any, host: str, workdir: str, given: dict[str, Any]) -> dict[str, Any]:
    """What we pass unless the user's kwargs (``given``) say otherwise, where the class takes it: no
    workers at first (LocalCluster's default is one per core), a scheduler and dashboard
    on ``host`` and free ports (some classes default to the fixed 8787), and batch jobs'
    output in the run's work folder rather than wherever the tool was started."""
    try:
        parameters = inspect.signature(cls).parameters
    except (TypeError, ValueError):
        return {}
    network = {"host": host, "scheduler_port": 0, "dashboard_address": f"{host}:0"}
    if given.get("processes") is False and "protocol" not in given:
        # Worker threads in the driver's process talk over inproc, which has neither host nor port.
        network = {"dashboard_address": network["dashboard_address"]}
    if "scheduler_options" in parameters:  # dask-jobqueue: the scheduler's settings go there
        defaults: dict[str, Any] = {"scheduler_options": {"host": host, "dashboard_address": f"{host}:0"}}
    else:
        defaults = {name: value for name, value in network.items() if name in parameters}
    if "n_workers" in parameters:
        defaults["n_workers"] = 0
    if hasattr(cls, "job_cls"):  # dask-jobqueue
        defaults["log_directory"] = workdir
        # its workers (and their dashboards) listen where the scheduler does, not on every interface
        defaults["worker_extra_args"] = ["--host", host, "--dashboard-address", f"{host}:0"]
    return defaults


def check_cluster_arguments(path: str, kwargs: dict[str, Any]) -> None:
    """Fail before anything starts if the class is missing or the kwargs do not fit it.

    dask-jobqueue's clusters pass the arguments they do not know to their job
    class, which fails only when the first job is made: those are checked
    against the job class (and its bases) too.
    """
    cls = import_cluster_class(path)
    try:
        signature = inspect.signature(cls)
    except (TypeError, ValueError):
        return
    accepted = dict(signature.parameters)
    job_class = getattr(cls, "job_cls", None)
    for base in getattr(job_class, "__mro__", ()):
        if "__init__" in vars(base):
            accepted.update(inspect.signature(vars(base)["__init__"]).parameters)
    named = {name: parameter for name, parameter in accepted.items() if parameter.kind is not inspect.Parameter.VAR_KEYWORD}
    accepts_any = job_class is None and len(named) < len(accepted)
    unknown = [name for name in kwargs if name not in named]
    if unknown and not accepts_any:
        raise ValueError(f"{path} takes no argument {', '.join(unknown)}")
