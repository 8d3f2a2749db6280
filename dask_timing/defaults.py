"""Defaults more than one layer needs: one place for each."""

# Seconds every wait of a run may take, unless --timeout says otherwise.
DEFAULT_TIMEOUT = 60.0
# Where schedulers and workers listen unless --host says otherwise: this machine only
# (a scheduler runs any function it is sent).
DEFAULT_HOST = "127.0.0.1"
# A cluster's size unless --workers and --threads say otherwise, in a single run and in a study.
DEFAULT_WORKERS = 4
DEFAULT_THREADS = 1
# Where a study writes its results unless --output-dir says otherwise, and where the analyzer looks for them.
DEFAULT_RESULTS_DIR = "timing_results"
