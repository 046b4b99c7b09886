"""``omniroute customers export|erase ID``: a customer's data, for access and erasure requests."""

from __future__ import annotations

import asyncio
import getpass
import json
import time
from datetime import UTC, datetime
from typing import Any

import asyncpg
import click

from omniroute.cli.app import cli, fails_cleanly, say
from omniroute.cli.db import with_database
from omniroute.errors import BrokerError, RejectedInput
from omniroute.history.erase_requests import request_worker_erase
from omniroute.history.personal_retention import enforce
from omniroute.history.privacy import (
    anonymize_again,
    erase_customer,
    export_customer,
    identifiers,
    open_conversations,
    still_held,
    survivor_of,
)
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
    async def export_whole(conn: asyncpg.Connection) -> dict[str, Any] | None:
        return await export_customer(conn, await survivor_of(conn, customer_id))

    data = with_database(export_whole)
    if data is None:
        raise RejectedInput(f"no customer {customer_id!r} in history")
    click.echo(json.dumps(data, default=str, indent=2, ensure_ascii=False))


@customers.command()
@click.argument("customer_ids", nargs=-1, required=True)
@click.option("--actor", default=None, help="Who asked for it (recorded in the audit log).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--no-topics", is_flag=True,
              help="Erase history only; do not ask the worker nor scan the topics.")
@click.option("--worker-timeout", default=120.0, show_default=True,
              help="Seconds to wait for the worker to confirm it forgot the customer.")
@fails_cleanly
def erase(customer_ids: tuple[str, ...], actor: str | None, yes: bool, no_topics: bool,
          worker_timeout: float) -> None:
    """Erase each CUSTOMER_ID's messages, addresses, transcripts and dead letters; have the
    running worker forget them (durably); tombstone what compacted topics hold of them;
    report when append-only topics drop the rest; keep anonymous metrics.

    Give every id one person is known under (a customer identity could not link) at
    once: their identifiers are gathered before anything is deleted. An id identity merged
    into another customer stands for that customer, with every id merged into it.
    """
    if not yes:
        click.confirm(f"erase every message and address of {', '.join(customer_ids)}?",
                      abort=True)
    who = actor or getpass.getuser()
    settings = load_settings()

    async def gather(conn: asyncpg.Connection) -> tuple[list[str], list[str], dict[str, bool]]:
        wanted = []  # an id merged into another customer: that customer, whole
        for given in customer_ids:
            whole = await survivor_of(conn, given)
            if whole != given:
                say(f"{given} is part of customer {whole} (merged by identity): "
                    f"erasing {whole} and every id merged into it")
            wanted.append(whole)
        known = [c for c in dict.fromkeys(wanted) if await conn.fetchval(
            "SELECT 1 FROM customers WHERE customer_id = $1", c)]
        names = sorted({n for c in known for n in await identifiers(conn, c)})
        return known, names, {k: v for c in known
                              for k, v in (await open_conversations(conn, c)).items()}

    started = datetime.now(UTC)
    known, names, still_open = with_database(gather)
    if not known:
        raise RejectedInput(f"no customer {', '.join(customer_ids)!r} in history")
    if not no_topics:  # first, so the worker writes nothing more about them (and it ends
        # their open conversations: see omniroute.worker.erasure)
        try:
            answers = asyncio.run(request_worker_erase(settings, names, timeout=worker_timeout))
        except BrokerError as exc:
            raise BrokerError(f"{exc}; nothing else was erased: run the command again") from exc
        removed: dict[str, int] = {}
        for per_table in answers.values():
            for table, n in per_table.items():
                removed[table] = removed.get(table, 0) + n
        say(f"worker: {len(answers)} partitions confirmed, tombstones durable; entries "
            f"removed: {removed or 'none'}")

    async def erase_all(conn: asyncpg.Connection) -> list[dict[str, Any]]:
        return [d for c in known if (d := await erase_customer(conn, c, actor=who)) is not None]

    details = with_database(erase_all)
    for customer_id, detail in zip(known, details, strict=False):
        counts = ", ".join(f"{n} {what}" for what, n in detail["counts"].items())
        say(f"erased {customer_id}: {counts}; metrics kept as {detail['anonymous_id']}")
    if no_topics:
        say("worker and topics not touched (--no-topics)")
        return
    asyncio.run(enforce(settings))
    report = asyncio.run(erase_from_topics(settings, names))
    say(f"topics: {report.scanned} records scanned; tombstones written: "
        f"{report.tombstoned or 'none'}; left to compaction: {report.superseded or 'none'}")
    for topic, count in sorted(report.pending.items()):
        say(f"append-only {topic}: {count} records, gone by {report.gone_by[topic]}")
    if still_open:
        held = with_database(lambda conn: _until_let_go(conn, still_open, started,
                                                        worker_timeout))
        say(f"open conversations ended: {len(still_open) - len(held)} of {len(still_open)}"
            + (f"; the router has not let go of {', '.join(held)} yet (it will when it "
               "reads the request)" if held else ""))
    # a last sweep: what records in flight during the erase may have written back
    swept = asyncio.run(request_worker_erase(settings, names, timeout=worker_timeout))
    say(f"worker sweep: {sum(n for c in swept.values() for n in c.values())} entries removed")

    async def sweep_history(conn: asyncpg.Connection) -> int:
        return sum([await anonymize_again(conn, d["customer_ids"], d["anonymous_id"])
                    for d in details])

    say(f"history sweep: {with_database(sweep_history)} rows made anonymous again")


async def _until_let_go(conn: asyncpg.Connection, conversations: dict[str, bool],
                        since: datetime, timeout: float) -> list[str]:
    """Wait (at most ``timeout`` seconds) until history shows ``conversations`` ended, so the
    router's events about them are stored before the last sweep; those still held."""
    deadline = time.monotonic() + timeout
    while True:  # polls history: nothing tells this process when the sink stored them
        held = await still_held(conn, conversations, since)
        if not held or time.monotonic() >= deadline:
            return held
        await asyncio.sleep(0.5)
