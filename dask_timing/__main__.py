"""``python -m dask_timing COMMAND ...``: the same as the ``dask-timing`` command."""

if __name__ == "__main__":
    # Under the guard: a worker process started with spawn imports this module
    # again and must not load the tool while it is being timed.
    from dask_timing.cli import console

    console()
