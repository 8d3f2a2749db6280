"""What the benchmarks share: where the repository is, and running its tools as installed."""

import compileall
import os

REPOSITORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def compile_package() -> None:
    """Byte-compile dask_timing, as pip does when it installs a package.

    Without this, an environment that sets PYTHONDONTWRITEBYTECODE recompiles
    the package in every timed run (about 0.2 s for the timing tools), which is
    not what an installed tool costs.
    """
    compileall.compile_dir(os.path.join(REPOSITORY, "dask_timing"), quiet=1)
