"""``omniroute router``: run the router, change its configuration at runtime."""

from __future__ import annotations

import asyncio
import getpass
import signal
import socket
from datetime import UTC, datetime
from pathlib import Path

import click

from omniroute.cli.app import cli, fails_cleanly, say, settings_from_env
from omniroute.errors import BrokerError
from omniroute.observability.health import Health, kafka_check, serve_operations
from omniroute.observability.logs import get_logger
from omniroute.observability.metrics import record_build_info
from omniroute.routing.config import BUILTIN, RoutingConfig, fingerprint, load_config
from omniroute.settings import Settings

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
@click.option("--instance", default=None,
              help="Name of this router process in logs and Kafka client ids (default: the "
                   "host name). Transactional ids come from the partitions a process owns, "
                   "so replicas need no distinct ids and a zombie is fenced.")
@click.option("--tick", "tick_interval", type=click.FloatRange(0.05, 60), default=1.0,
              show_default=True, help="Seconds between clock ticks written to pool streams.")
@click.option("--snapshot-every", type=click.IntRange(1), default=5000, show_default=True,
              help="Snapshot a partition's pool state every this many inputs (restart "
                   "replays only the inputs after the latest snapshot).")
@click.option("--trim-stream/--keep-stream", default=False, show_default=True,
              help="Delete pool-stream records below the previous snapshot round once a "
                   "round is committed (the stream otherwise grows forever).")
@click.option("--commit-interval", type=click.FloatRange(0, 1), default=0.02,
              show_default=True,
              help="Seconds a transaction keeps gathering inputs after the previous batch "
                   "(0: commit each batch as soon as it is decided; see docs/routing.md, "
                   "Latency).")
@fails_cleanly
def run(config_path: Path | None, instance: str | None, tick_interval: float,
        snapshot_every: int, trim_stream: bool, commit_interval: float) -> None:
    """Run the repartition and decide loops until SIGTERM or Ctrl-C."""
    instance = instance or socket.gethostname()
    from omniroute.routing.processor import run_decide, run_repartition
    from omniroute.routing.statsfeed import publish_stats

    settings = settings_from_env()
    config_path = config_path or settings.routing_config
    config = load_config(config_path) if config_path else None
    record_build_info("router")
    log = get_logger("omniroute.router")

    async def main() -> None:
        health = Health()
        health.add("kafka", kafka_check(settings.kafka_bootstrap))
        operations = await serve_operations(settings.metrics_port, health, settings.bind_host)
        stop = asyncio.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            asyncio.get_running_loop().add_signal_handler(signum, stop.set)
        version = await import_file(settings, config, config_path)
        log.info("router.started", config_version=version, instance=instance,
                 metrics_port=settings.metrics_port)
        for warning in config.warnings() if config is not None else ():
            log.warning("router.config_warning", path=str(config_path), warning=str(warning))
        tasks = [asyncio.create_task(run_repartition(settings, instance, stop,
                                                     commit_interval=commit_interval)),
                 asyncio.create_task(run_decide(settings, instance, stop, tick_interval,
                                                snapshot_every, trim_stream,
                                                commit_interval=commit_interval)),
                 asyncio.create_task(publish_stats(settings, stop))]
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


FILE_IMPORTED = "configuration file imported at start"
"""The reason of a version ``router run --config`` published (how its last import is found)."""


async def import_file(settings: Settings, config: RoutingConfig | None,
                      path: Path | None) -> int:
    """Publish the ``--config`` file when it changed since it was last imported (a team
    that keeps its configuration in git restarts with the new file); the live version.
    An unchanged file is not imported again over what was changed live since: a user run's
    router, restarted after a crash, imported it again and removed two agents an admin had
    added, taking back their conversations (2026-12-05)."""
    from omniroute.routing.document import changes
    from omniroute.routing.live import history, latest, publish_config

    versions = await history(settings)
    version, live = latest(versions)
    if config is None:
        return version
    wanted_doc, live_doc = config.document(), live.document()
    wanted = fingerprint(wanted_doc)
    if wanted == fingerprint(live_doc):
        return version
    imported = [v for v in versions if v.reason == FILE_IMPORTED]
    if imported and fingerprint(imported[-1].config.document()) == wanted:
        say(f"{path} is unchanged since it was imported as v{imported[-1].version}; "
            f"keeping the live v{version} (changed since by {versions[-1].actor})")
        return version
    last_import = imported[-1].version if imported else 0
    if versions and versions[-1].version != last_import:  # changed live since the import
        what = (f"changed since it was imported as v{last_import}" if last_import
                else "is imported for the first time")
        say(f"{path} {what}; it replaces the live v{version} (changed since by "
            f"{versions[-1].actor}): {'; '.join(changes(live_doc, wanted_doc))}. "
            f"`omniroute router rollback {version}` restores v{version}")
    return await publish_config(settings, config, actor=f"router run --config {path}",
                                reason=FILE_IMPORTED, previous=live)


@router.command()
@click.argument("config_path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--actor", default=None, help="Who makes the change (default: the OS user).")
@click.option("--reason", default="", help="Why (kept with the version, for the audit).")
@fails_cleanly
def configure(config_path: Path, actor: str | None, reason: str) -> None:
    """Publish a routing configuration file as the new live version (every router applies it
    without restart)."""
    from omniroute.routing.live import publish_config

    settings = settings_from_env()
    config = load_config(config_path)
    version = asyncio.run(publish_config(settings, config, actor=actor or getpass.getuser(),
                                         reason=reason))
    pools = ", ".join(sorted(config.pools))
    say(f"published routing configuration version {version}: {len(config.pools)} pool(s) "
        f"({pools}), {len(config.agents)} agent(s)")


@router.command()
@click.argument("version", type=int)
@click.option("--actor", default=None, help="Who makes the change (default: the OS user).")
@click.option("--reason", default="", help="Why (kept with the version, for the audit).")
@fails_cleanly
def rollback(version: int, actor: str | None, reason: str) -> None:
    """Publish an earlier routing configuration version again, as the new live version
    (``omniroute router history`` lists them)."""
    from omniroute.routing.live import restore

    new, told = asyncio.run(restore(settings_from_env(), version,
                                    actor=actor or getpass.getuser(), reason=reason))
    say(f"published routing configuration version {new}, a copy of v{version}: "
        + ("; ".join(told) if told else "the same as the version before"))


@router.command("export")
@fails_cleanly
def export() -> None:
    """Print the live routing configuration as TOML (to keep it in git)."""
    from omniroute.routing.document import to_toml
    from omniroute.routing.live import history

    settings = settings_from_env()
    versions = asyncio.run(history(settings))
    head = (f"# routing configuration version {versions[-1].version} by {versions[-1].actor}"
            if versions else "# routing configuration version 0 (built-in)")
    config = versions[-1].config if versions else BUILTIN
    click.echo(head + "\n" + to_toml(config.document()), nl=False)


@router.command("history")
@fails_cleanly
def history_command() -> None:
    """List the routing configuration versions: when, who, why, pools and agents."""
    from omniroute.routing.live import history

    for v in asyncio.run(history(settings_from_env())):
        when = datetime.fromtimestamp(v.at, UTC).isoformat(timespec="seconds")
        say(f"v{v.version}  {when}  {v.actor}  pools={len(v.config.pools)} "
            f"agents={len(v.config.agents)}  {v.reason}")
