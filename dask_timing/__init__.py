"""dask-timing: how long a Dask cluster takes to become useful, and where that time goes.

The pipeline, one subpackage a step: ``deploy`` gets a cluster, ``measure``
times its phases, ``record`` writes and reads the result files, ``analysis``
turns runs into statistics and verdicts, ``present`` prints, plots and
exports them; ``cli`` is the command line over all of it.
"""

__version__ = "0.6.0"
