"""Defaults more than one layer needs: one place for each."""

# Seconds every wait of a run may take, unless --timeout says otherwise.
DEFAULT_TIMEOUT = 60.0
# Where schedulers and workers listen unless --host says otherwise: this machine only
# (a scheduler runs any function it is sent).
DEFAULT_HOST = "127.0.0.1"
