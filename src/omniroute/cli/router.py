"""``omniroute router``: run the router, change its configuration at runtime."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import click

from omniroute.cli.app import cli, fails_cleanly, say, settings_from_env
from omniroute.errors import BrokerError
from omniroute.observability.health import Health, kafka_check, serve_operations
from omniroute.observability.logs import get_logger
from omniroute.observability.metrics import record_build_info
from omniroute.routing.config import RoutingConfig, load_config

CONFIG_OPTION = click.option(
    "--config", "config_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
    envvar="OMNIROUTE_ROUTING_CONFIG", default=None,
    help="Routing configuration (TOML; see deploy/routing.example.toml). "
         "Env: OMNIROUTE_ROUTING_CONFIG.")


@cli.group(invoke_without_command=True)
@click.pass_context
def router(ctx: click.Context) -> None:
    """Route waiting conversations to agents (``omniroute router`` = ``router run``)."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(run)


@router.command()
@CONFIG_OPTION
@click.option("--instance", default="0", show_default=True,
              help="Stable id of this router process (names its transactional producers).")
@click.option("--tick", "tick_interval", type=click.FloatRange(0.05, 60), default=1.0,
              show_default=True, help="Seconds between clock ticks written to pool streams.")
@click.option("--snapshot-every", type=click.IntRange(1), default=5000, show_default=True,
              help="Snapshot a partition's pool state every this many inputs (restart "
                   "replays only the inputs after the latest snapshot).")
@fails_cleanly
def run(config_path: Path | None, instance: str, tick_interval: float,
        snapshot_every: int) -> None:
    """Run the repartition and decide loops until SIGTERM or Ctrl-C."""
    from omniroute.routing.processor import (
        publish_configuration,
        run_decide,
        run_repartition,
    )

    settings = settings_from_env()
    config_path = config_path or settings.routing_config
    config = load_config(config_path) if config_path else RoutingConfig()
    record_build_info("router")
    log = get_logger("omniroute.router")

    async def main() -> None:
        health = Health()
        health.add("kafka", kafka_check(settings.kafka_bootstrap))
        operations = await serve_operations(settings.metrics_port, health, settings.bind_host)
        stop = asyncio.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            asyncio.get_running_loop().add_signal_handler(signum, stop.set)
        await publish_configuration(settings, config)
        log.info("router.started", pools=sorted(config.pools), agents=len(config.agents),
                 instance=instance, metrics_port=settings.metrics_port)
        tasks = [asyncio.create_task(run_repartition(settings, config, instance, stop)),
                 asyncio.create_task(run_decide(settings, instance, stop, tick_interval,
                                                snapshot_every))]
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        await operations.cleanup()
        for task in done:
            if task.exception() is not None:
                raise task.exception()  # type: ignore[misc]

    try:
        asyncio.run(main())
    except OSError as exc:
        raise BrokerError(
            f"router cannot reach Kafka at {settings.kafka_bootstrap}: {exc}") from exc


@router.command()
@click.argument("config_path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@fails_cleanly
def configure(config_path: Path) -> None:
    """Apply a routing configuration at runtime (pools whose settings changed get a new version)."""
    from omniroute.routing.processor import publish_configuration

    settings = settings_from_env()
    config = load_config(config_path)
    asyncio.run(publish_configuration(settings, config))
    pools = ", ".join(sorted(config.pools))
    say(f"published configuration of {len(config.pools)} pool(s): {pools}")
