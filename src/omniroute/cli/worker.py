"""``omniroute worker``: the stream processors (identity, conversations, ...)."""

from __future__ import annotations

from omniroute.cli.app import cli, fails_cleanly, settings_from_env


@cli.command()
@fails_cleanly
def worker() -> None:
    """Run the stream-processing worker; start several to split the partitions."""
    from omniroute.worker.bootstrap import run

    run(settings_from_env())
