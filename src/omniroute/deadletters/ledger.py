"""List, show and replay dead letters; a replay is recorded so it happens once.

A replay re-publishes the original key and bytes, unchanged, to the original
topic (the one the processor read them from), with a header
``omniroute-replay-of: <dead letter id>``. The claim row in
``dead_letter_replays`` is written before the record is sent (its primary key
refuses a second replay) and completed with the partition and offset once
Kafka acknowledged it; a claim never completed (the replayer died between the
two) can be taken over with ``force``.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any, TypeAlias

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from omniroute.gateway.problems import BadRequest, Conflict, NotFound, Unavailable
from omniroute.infra.guarded_producer import GuardedProducer
from omniroute.observability.logs import get_logger

log = get_logger("omniroute.deadletters")

Db: TypeAlias = asyncpg.Pool | asyncpg.Connection
REPLAY_HEADER = "omniroute-replay-of"
COLUMNS = """d.event_id, d.occurred_at, d.processor, d.source_topic, d.source_partition,
             d.source_offset, d.error_type, d.error, r.actor AS replayed_by,
             r.requested_at AS replay_requested_at, r.replayed_at, r.target_partition,
             r.target_offset"""


def _plain(record: asyncpg.Record) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in record.items()}


async def list_dead_letters(db: Db, *, processor: str | None = None, topic: str | None = None,
                            replayed: bool | None = None, contains: str | None = None,
                            limit: int = 100) -> list[dict[str, Any]]:
    """Dead letters, newest first, with their replay (if any); never the original bytes."""
    rows = await db.fetch(
        f"""SELECT {COLUMNS} FROM dead_letters d
            LEFT JOIN dead_letter_replays r ON r.event_id = d.event_id
            WHERE ($1::text IS NULL OR d.processor = $1)
              AND ($2::text IS NULL OR d.source_topic LIKE '%' || $2)
              AND ($3::boolean IS NULL OR (r.replayed_at IS NOT NULL) = $3)
              AND ($4::text IS NULL OR d.error ILIKE '%' || $4 || '%')
            ORDER BY d.occurred_at DESC, d.event_id LIMIT $5""",
        processor, topic, replayed, contains, limit)
    return [_plain(r) for r in rows]


def decoded(original_b64: str | None) -> Any:
    """The original record for a person: its JSON if it is JSON, else its text."""
    if original_b64 is None:
        return None
    raw = base64.b64decode(original_b64)
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", errors="replace")


async def show_dead_letter(db: Db, event_id: str) -> dict[str, Any]:
    """One dead letter with its original key and record (decoded), or NotFound."""
    row = await db.fetchrow(
        f"""SELECT {COLUMNS}, d.source_key_b64, d.original_b64 FROM dead_letters d
            LEFT JOIN dead_letter_replays r ON r.event_id = d.event_id
            WHERE d.event_id = $1""", event_id)
    if row is None:
        raise NotFound(f"no dead letter {event_id!r}")
    letter = _plain(row)
    key = letter.get("source_key_b64")
    letter["source_key"] = base64.b64decode(key).decode("utf-8", "replace") if key else None
    letter["original"] = decoded(letter.get("original_b64"))
    return letter


async def _claim(conn: asyncpg.Connection, letter: dict[str, Any], actor: str,
                 force: bool) -> None:
    claimed = await conn.fetchval(
        """INSERT INTO dead_letter_replays (event_id, actor, target_topic) VALUES ($1, $2, $3)
           ON CONFLICT DO NOTHING RETURNING event_id""",
        letter["event_id"], actor, letter["source_topic"])
    if claimed is not None:
        return
    if letter["replayed_at"] is not None:
        raise Conflict(f"dead letter {letter['event_id']} was already replayed at "
                       f"{letter['replayed_at']} by {letter['replayed_by']} (offset "
                       f"{letter['target_partition']}:{letter['target_offset']})")
    if not force:
        raise Conflict(f"a replay of dead letter {letter['event_id']} was started at "
                       f"{letter['replay_requested_at']} by {letter['replayed_by']} and not "
                       "completed; use force to replay it anyway")
    await conn.execute("UPDATE dead_letter_replays SET actor = $2, requested_at = now() "
                       "WHERE event_id = $1", letter["event_id"], actor)


async def replay(conn: asyncpg.Connection, producer: AIOKafkaProducer | GuardedProducer,
                 event_id: str, actor: str, *, force: bool = False) -> dict[str, Any]:
    """Re-publish the dead letter's original record to its topic, once; returns the replay."""
    letter = await show_dead_letter(conn, event_id)
    if letter["original_b64"] is None:
        raise BadRequest(f"dead letter {event_id} was stored without its original bytes "
                         "(before migration 0006); read it from omniroute.dlq.v1")
    await _claim(conn, letter, actor, force)
    key = letter["source_key_b64"]
    try:
        sent = await producer.send_and_wait(
            letter["source_topic"], base64.b64decode(letter["original_b64"]),
            key=base64.b64decode(key) if key else None,
            headers=[(REPLAY_HEADER, event_id.encode())])
    except KafkaError as exc:
        await conn.execute("DELETE FROM dead_letter_replays WHERE event_id = $1 "
                           "AND replayed_at IS NULL", event_id)
        raise Unavailable(f"Kafka did not take the replay: {exc}; retry") from exc
    await conn.execute(
        """UPDATE dead_letter_replays SET replayed_at = now(), target_partition = $2,
           target_offset = $3 WHERE event_id = $1""", event_id, sent.partition, sent.offset)
    await conn.execute(
        "INSERT INTO audit_log (actor, action, subject, detail) VALUES ($1, $2, $3, $4)",
        actor, "dead_letter.replayed", event_id, json.dumps({
            "topic": letter["source_topic"], "partition": sent.partition,
            "offset": sent.offset, "error": letter["error"]}))
    log.info("dead_letter.replayed", event_id=event_id, actor=actor,
             topic=letter["source_topic"], partition=sent.partition, offset=sent.offset)
    return {"event_id": event_id, "topic": letter["source_topic"],
            "partition": sent.partition, "offset": sent.offset}
