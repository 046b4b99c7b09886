"""``omniroute gateway``: the agent HTTP + WebSocket API and the browser console."""

from __future__ import annotations

import asyncio
import signal

import click

from omniroute.cli.app import cli, fails_cleanly, say, settings_from_env
from omniroute.cli.db import migrate_database
from omniroute.gateway.server import running_gateway
from omniroute.infra.postgres import resolve_database_url
from omniroute.observability.metrics import record_build_info
from omniroute.settings import Settings


async def _serve(settings: Settings, url: str, port: int | None) -> None:
    await migrate_database(url, settings.database_connect_timeout)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with running_gateway(settings, url, port) as running:
        say(f"gateway: console {running.url}/ , API {running.url}/openapi.json")
        await stop.wait()


@cli.command()
@click.option("--port", type=int, default=None, help="Overrides OMNIROUTE_GATEWAY_PORT.")
@fails_cleanly
def gateway(port: int | None) -> None:
    """Serve the agent API (HTTP + WebSocket) and the agent console."""
    settings = settings_from_env()
    record_build_info("gateway")
    asyncio.run(_serve(settings, resolve_database_url(settings), port))
