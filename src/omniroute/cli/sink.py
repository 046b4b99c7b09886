"""``omniroute sink``: the history sink process, and ``omniroute sink retention``."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from datetime import UTC, datetime

import click

from omniroute.cli.app import cli, fails_cleanly, say, settings_from_env
from omniroute.cli.db import migrate_database
from omniroute.history.retention import DEFAULT_DAYS, Policy, run_retention, set_policy
from omniroute.history.sink import HistorySink
from omniroute.infra.collector import tune_collector
from omniroute.infra.postgres import connect, resolve_database_url
from omniroute.observability.health import Health, serve_operations
from omniroute.observability.logs import get_logger
from omniroute.observability.metrics import record_build_info
from omniroute.settings import Settings

log = get_logger(__name__)


async def _retention_loop(settings: Settings, url: str, days: int, every: float,
                          stop: asyncio.Event) -> None:
    """Run the retention job now and then every ``every`` seconds until stopped."""
    while not stop.is_set():
        try:
            conn = await connect(url, timeout=settings.database_connect_timeout)
            try:
                report = await run_retention(conn, default_days=days)
            finally:
                await conn.close()
            log.info("retention ran", created=report.created, dropped=report.dropped,
                     deleted_rows=report.deleted_rows)
        except Exception as exc:  # the sink keeps running; the next round retries
            log.warning("retention failed; will retry", error=str(exc))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every)


async def _run(settings: Settings, url: str, batch_size: int, retention_days: int,
               retention_every: float) -> None:
    await migrate_database(url, settings.database_connect_timeout)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    sink = HistorySink(settings, url, batch_size=batch_size, retention_days=retention_days)
    health = Health()
    runner = await serve_operations(settings.metrics_port, health, settings.bind_host)
    retention = asyncio.create_task(
        _retention_loop(settings, url, retention_days, retention_every, stop))
    try:
        await sink.run(stop)
    finally:
        stop.set()
        await retention
        await runner.cleanup()


@cli.group(invoke_without_command=True)
@click.option("--batch-size", default=1000, show_default=True, help="Records per DB transaction.")
@click.option("--retention-days", default=DEFAULT_DAYS, show_default=True,
              help="Days messages are kept where no policy says otherwise.")
@click.option("--retention-every", default=3600.0, show_default=True,
              help="Seconds between runs of the retention job.")
@click.pass_context
@fails_cleanly
def sink(ctx: click.Context, batch_size: int, retention_days: int,
         retention_every: float) -> None:
    """Write every public topic to PostgreSQL (history), and enforce retention."""
    if ctx.invoked_subcommand is not None:
        return
    settings = settings_from_env()
    record_build_info("sink")
    url = resolve_database_url(settings)
    tune_collector()
    say(f"sink: metrics on http://{settings.bind_host}:{settings.metrics_port}/metrics")
    asyncio.run(_run(settings, url, batch_size, retention_days, retention_every))


@sink.command()
@click.option("--workspace", default="default", show_default=True)
@click.option("--channel", default="*", show_default=True, help="A channel, or * for all.")
@click.option("--days", type=click.IntRange(min=1), default=None,
              help="Set this policy before running the job.")
@click.option("--default-days", default=DEFAULT_DAYS, show_default=True)
@fails_cleanly
def retention(workspace: str, channel: str, days: int | None, default_days: int) -> None:
    """Set a retention policy (with --days) and run the retention job once."""
    settings = settings_from_env()
    url = resolve_database_url(settings)

    async def go() -> None:
        await migrate_database(url, settings.database_connect_timeout)
        conn = await connect(url, timeout=settings.database_connect_timeout)
        try:
            if days is not None:
                await set_policy(conn, Policy(workspace, channel, days))
                say(f"retention for {workspace}/{channel}: {days} days")
            report = await run_retention(conn, default_days=default_days,
                                         now=datetime.now(UTC))
        finally:
            await conn.close()
        say(f"partitions created {report.created or 'none'}, dropped {report.dropped or 'none'},"
            f" {report.deleted_rows} message(s) deleted")

    asyncio.run(go())
