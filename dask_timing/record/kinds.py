"""The kinds of run a result can record: one place for their names.

Apart from the result model so that what needs only the names (the deployment
registry, which the reaper's import passes through) loads nothing else.
"""

KIND_LOCAL = "local"
KIND_DISTRIBUTED = "distributed"
KIND_CLUSTER = "cluster"  # any Dask cluster manager class
KIND_EXISTING = "existing"  # a running cluster: no startup phases
KIND_SCHEDULERS = "schedulers"  # compare_schedulers.py: one compute per run, not a startup
