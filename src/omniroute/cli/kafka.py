"""``omniroute kafka start|stop|status|fetch``: the local Kafka broker."""

from __future__ import annotations

import sys

import click

from omniroute.cli.app import cli, fails_cleanly, say, settings_from_env
from omniroute.infra.broker import LocalBroker
from omniroute.infra.jars import fetch_jars
from omniroute.infra.probe import parse_local_bootstrap
from omniroute.settings import Settings


def local_broker(settings: Settings) -> LocalBroker:
    """The broker this machine runs for ``settings`` (jars fetched if missing)."""
    host, port = parse_local_bootstrap(settings.kafka_bootstrap)
    return LocalBroker(
        home=settings.state_dir / "kafka",
        libs=fetch_jars(settings.cache_dir, progress=say),
        host=host,
        port=port,
        heap=settings.kafka_heap,
        default_partitions=settings.kafka_partitions,
    )


@cli.group()
def kafka() -> None:
    """Run the local Apache Kafka broker (KRaft, one node)."""


@kafka.command()
@fails_cleanly
def fetch() -> None:
    """Download the broker jars from Maven Central (cached)."""
    settings = settings_from_env()
    say(f"jars in {fetch_jars(settings.cache_dir, progress=say)}")


@kafka.command()
@fails_cleanly
def start() -> None:
    """Start the broker in the background; return when it answers metadata requests."""
    local_broker(settings_from_env()).start(progress=say)


@kafka.command()
@fails_cleanly
def stop() -> None:
    """Stop the broker cleanly."""
    if not local_broker(settings_from_env()).stop(progress=say):
        say("kafka is not running")


@kafka.command()
@fails_cleanly
def status() -> None:
    """Report whether the broker runs and answers; exit 1 when it does not."""
    settings = settings_from_env()
    state = local_broker(settings).status()
    pid = f"pid {state.pid}" if state.pid else "not started by omniroute"
    if state.healthy:
        click.echo(
            f"kafka healthy at {settings.kafka_bootstrap} ({pid}): "
            f"{state.brokers} broker(s), {state.topics} topic(s)"
        )
        return
    click.echo(f"kafka unhealthy at {settings.kafka_bootstrap} ({pid}): {state.detail}")
    sys.exit(1)
