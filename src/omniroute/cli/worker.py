"""``omniroute worker``: the stream processors (identity, conversations, ...)."""

from __future__ import annotations

import click

from omniroute.cli.app import cli, fails_cleanly, settings_from_env


@cli.command()
@click.option("--engine", type=click.Choice(["faust", "batch"]), default=None,
              help="faust agents or the transactional batch engine "
              "(default: OMNIROUTE_WORKER_ENGINE, batch).")
@fails_cleanly
def worker(engine: str | None) -> None:
    """Run the stream-processing worker; start several to split the partitions."""
    from omniroute.worker.bootstrap import run

    settings = settings_from_env()
    if engine is not None:
        settings = settings.model_copy(update={"worker_engine": engine})
    run(settings)
