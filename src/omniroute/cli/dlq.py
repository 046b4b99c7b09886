"""``omniroute dlq list|show|replay``: dead letters kept in history, replayed once."""

from __future__ import annotations

import getpass
import json
from typing import Any

import asyncpg
import click
from aiokafka import AIOKafkaProducer

from omniroute.cli.app import cli, fails_cleanly, say, settings_from_env
from omniroute.cli.db import with_database
from omniroute.deadletters import ledger


@cli.group()
def dlq() -> None:
    """Dead letters (omniroute.dlq.v1, as the sink stored them): list, show, replay."""


@dlq.command("list")
@click.option("--processor", default=None, help="Only this processor's (router, worker…).")
@click.option("--topic", default=None, help="Only records from this topic.")
@click.option("--contains", default=None, help="Only errors containing this text.")
@click.option("--replayed/--not-replayed", default=None, help="Only (not) replayed ones.")
@click.option("--limit", type=click.IntRange(1, 10000), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@fails_cleanly
def list_(processor: str | None, topic: str | None, contains: str | None,
          replayed: bool | None, limit: int, as_json: bool) -> None:
    """Dead letters, newest first: id, when, processor, topic, error, replay."""
    rows = with_database(lambda conn: ledger.list_dead_letters(
        conn, processor=processor, topic=topic, replayed=replayed, contains=contains,
        limit=limit))
    for row in rows:
        if as_json:
            click.echo(json.dumps(row))
            continue
        replay = f"replayed {row['replayed_at']}" if row["replayed_at"] else "not replayed"
        click.echo(f"{row['event_id']}  {row['occurred_at']}  {row['processor']:<8} "
                   f"{row['source_topic']}  {replay}\n    {row['error_type']}: "
                   f"{row['error'][:200]}")
    if not rows:
        say("no dead letters")


@dlq.command()
@click.argument("event_id")
@fails_cleanly
def show(event_id: str) -> None:
    """One dead letter as JSON, with its original key and record decoded."""
    letter = with_database(lambda conn: ledger.show_dead_letter(conn, event_id))
    click.echo(json.dumps(letter, indent=2, ensure_ascii=False, default=str))


@dlq.command()
@click.argument("event_ids", nargs=-1, required=True)
@click.option("--force", is_flag=True,
              help="Take over a replay that was started and never completed.")
@click.option("--actor", default=None, help="Who replays (audit log); default: your user.")
@fails_cleanly
def replay(event_ids: tuple[str, ...], force: bool, actor: str | None) -> None:
    """Re-publish each dead letter's original record to its original topic, once."""
    settings = settings_from_env()
    who = f"cli:{actor or getpass.getuser()}"

    async def run(conn: asyncpg.Connection) -> list[dict[str, Any]]:
        producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all",
                                    enable_idempotence=True)
        await producer.start()
        try:
            return [await ledger.replay(conn, producer, e, who, force=force)
                    for e in event_ids]
        finally:
            await producer.stop()

    for done in with_database(lambda conn: run(conn)):
        say(f"replayed {done['event_id']} to {done['topic']} "
            f"(partition {done['partition']}, offset {done['offset']})")


