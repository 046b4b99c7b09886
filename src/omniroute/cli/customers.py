"""``omniroute customers export|erase ID``: a customer's data, for access and erasure requests."""

from __future__ import annotations

import asyncio
import getpass
import json
from typing import Any

import asyncpg
import click

from omniroute.cli.app import cli, fails_cleanly, say
from omniroute.cli.db import with_database
from omniroute.errors import RejectedInput
from omniroute.history.privacy import erase_customer, export_customer, identifiers
from omniroute.history.topic_erasure import erase_from_topics
from omniroute.settings import load_settings


@cli.group()
def customers() -> None:
    """A customer's data in history: export it, erase it."""


@customers.command()
@click.argument("customer_id")
@fails_cleanly
def export(customer_id: str) -> None:
    """Print everything held about CUSTOMER_ID as JSON."""
    data = with_database(lambda conn: export_customer(conn, customer_id))
    if data is None:
        raise RejectedInput(f"no customer {customer_id!r} in history")
    click.echo(json.dumps(data, default=str, indent=2, ensure_ascii=False))


@customers.command()
@click.argument("customer_ids", nargs=-1, required=True)
@click.option("--actor", default=None, help="Who asked for it (recorded in the audit log).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--no-topics", is_flag=True, help="Erase history only; do not scan the topics.")
@fails_cleanly
def erase(customer_ids: tuple[str, ...], actor: str | None, yes: bool, no_topics: bool) -> None:
    """Erase each CUSTOMER_ID's messages, addresses, transcripts and dead letters; tombstone
    what compacted topics hold of them; keep anonymous metrics.

    Give every id one person is known under (a customer identity could not link) at
    once: their identifiers are gathered before anything is deleted.
    """
    if not yes:
        click.confirm(f"erase every message and address of {', '.join(customer_ids)}?",
                      abort=True)
    who = actor or getpass.getuser()

    async def erase_all(conn: asyncpg.Connection) -> tuple[list[dict[str, Any]], list[str]]:
        names = sorted({n for c in customer_ids for n in await identifiers(conn, c)})
        return [d for c in customer_ids
                if (d := await erase_customer(conn, c, actor=who)) is not None], names

    details, names = with_database(erase_all)
    if not details:
        raise RejectedInput(f"no customer {', '.join(customer_ids)!r} in history")
    for customer_id, detail in zip(customer_ids, details, strict=False):
        counts = ", ".join(f"{n} {what}" for what, n in detail["counts"].items())
        say(f"erased {customer_id}: {counts}; metrics kept as {detail['anonymous_id']}")
    if no_topics:
        say("topics not scanned (--no-topics)")
        return
    report = asyncio.run(erase_from_topics(load_settings(), names))
    say(f"topics: {report.scanned} records scanned; tombstones written: "
        f"{report.tombstoned or 'none'}; left to compaction: {report.superseded or 'none'}; "
        f"left to retention (append-only topics): {report.pending or 'none'}")
