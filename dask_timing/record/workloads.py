"""The workloads a run can time after ready, by name: what the timing tools offer and the analysis reads.

``weak-array`` is a weak-scaling workload (seed: Dask weak-scaling studies on
Slurm and Kubernetes): a Dask array with one fixed-size chunk per worker,
transformed element-wise and reduced to one number (``measure.workloads``
runs it).  The work per worker stays constant as workers are added, so on an
ideal cluster its time would too; efficiency E(n) = T(1) / T(n) says how far
from that a deployment is.
"""

WEAK_ARRAY = "weak-array"
WORKLOADS = (WEAK_ARRAY,)
DEFAULT_CHUNK = 1000  # a 1000 x 1000 float64 chunk: 8 MB per worker
