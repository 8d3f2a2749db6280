"""Ways of getting a cluster to time, one module each, found by their kind.

Each module holds a ``Deployment`` (``base.py``: the one interface the timing
loop sees).  Adding a kind is a module here and one line in ``BUILDERS``; the
command line then asks ``build_deployment`` for it with a ``ClusterRequest``.
Modules are imported only when their kind is built, so importing one part of
this package (``managed`` for instance) loads none of the others.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

from dask_timing.record.kinds import KIND_CLUSTER, KIND_DISTRIBUTED, KIND_EXISTING, KIND_LOCAL

if TYPE_CHECKING:
    from dask_timing.deploy.base import ClusterRequest, Deployment

# Kind (as recorded in results) -> "module:Deployment class" that builds it.
BUILDERS: dict[str, str] = {
    KIND_LOCAL: "dask_timing.deploy.local:LocalClusterDeployment",
    KIND_DISTRIBUTED: "dask_timing.deploy.processes:SeparateProcessDeployment",
    KIND_CLUSTER: "dask_timing.deploy.manager:ClusterManagerDeployment",
    KIND_EXISTING: "dask_timing.deploy.existing:ExistingClusterDeployment",
}


def build_deployment(request: ClusterRequest) -> Deployment:
    """The deployment of the request's kind, built from the request."""
    try:
        target = BUILDERS[request.kind]
    except KeyError:
        raise ValueError(f"no deployment of kind {request.kind!r}; known: {', '.join(BUILDERS)}") from None
    module_name, _, class_name = target.partition(":")
    return getattr(import_module(module_name), class_name).from_request(request)
