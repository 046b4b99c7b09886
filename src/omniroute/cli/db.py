"""``omniroute db migrate|url``: the PostgreSQL database."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import asyncpg
import click

from omniroute.cli.app import cli, fails_cleanly, say, settings_from_env
from omniroute.infra.migrations import migrate as apply_migrations
from omniroute.infra.postgres import connect, describe, resolve_database_url

T = TypeVar("T")


async def migrate_database(url: str, timeout: float) -> list[str]:
    """Apply pending migrations to the database at ``url``."""
    conn = await connect(url, timeout=timeout)
    try:
        return await apply_migrations(conn)
    finally:
        await conn.close()


def with_database(action: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
    """Run ``action`` on one connection to the migrated database of this process's settings."""
    settings = settings_from_env()
    url = resolve_database_url(settings)

    async def run() -> T:
        await migrate_database(url, settings.database_connect_timeout)
        conn = await connect(url, timeout=settings.database_connect_timeout)
        try:
            return await action(conn)
        finally:
            await conn.close()

    return asyncio.run(run())


@cli.group()
def db() -> None:
    """Manage omniroute's PostgreSQL database."""


@db.command()
@fails_cleanly
def migrate() -> None:
    """Apply pending migrations (idempotent)."""
    settings = settings_from_env()
    url = resolve_database_url(settings)
    applied = asyncio.run(migrate_database(url, settings.database_connect_timeout))
    for name in applied:
        say(f"applied {name}")
    say(f"database {describe(url)} is up to date ({len(applied)} applied)")


@db.command()
@fails_cleanly
def url() -> None:
    """Print the database URL (starting the embedded server while this runs)."""
    click.echo(resolve_database_url(settings_from_env()))
