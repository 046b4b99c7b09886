"""``omniroute topics create``: public and internal topics, idempotently."""

from __future__ import annotations

import asyncio

import click

from omniroute.cli.app import cli, fails_cleanly, say, settings_from_env
from omniroute.infra.topics import create_topics


@cli.group()
def topics() -> None:
    """Manage omniroute's Kafka topics."""


@topics.command()
@click.option(
    "--partitions",
    type=click.IntRange(1, 1000),
    default=None,
    help="Partitions for keyed topics (default OMNIROUTE_KAFKA_PARTITIONS, 6).",
)
@fails_cleanly
def create(partitions: int | None) -> None:
    """Create every topic that does not exist yet."""
    settings = settings_from_env()
    results = asyncio.run(create_topics(settings, partitions=partitions))
    for result in results:
        verb = "created" if result.created else "exists "
        detail = f" ({result.partitions} partitions)" if result.created else ""
        say(f"{verb} {result.name}{detail}")
    say(f"{sum(r.created for r in results)} created, {sum(not r.created for r in results)} existed")
