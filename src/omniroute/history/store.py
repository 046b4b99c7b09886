"""The history repository: writes one batch of events to PostgreSQL in one transaction.

:func:`write_batch` records every event in a ledger first (conversation events
in their own log, ``conversation_events``; every other one in
``processed_events``) and applies only the events that were new, so the same
events written twice leave the same rows. Messages go in with COPY (new ones) and one
COALESCE update (ones another topic already told about); every other table is
written set-based (:mod:`omniroute.history.staging`: arrays of rows; conversations by
:mod:`omniroute.history.conversation_merge`):
one COPY and one statement per table and batch, never a statement per row.
"""

from __future__ import annotations

import functools
import hashlib
import json
import operator
from typing import Any, cast

import asyncpg

from omniroute.contract import ConversationEvent, Envelope
from omniroute.history.conversation_merge import write_conversations
from omniroute.history.partitions import ensure_partitions
from omniroute.history.profiles import address_rows, customer_rows
from omniroute.history.projection import (
    BatchPlan,
    ConversationPatch,
    MessageRow,
    plan_batch,
    presence_of,
    unique_events,
)
from omniroute.history.retention import Horizon
from omniroute.history.staging import insert_new, relation

_LEDGER_COLUMNS = ("topic", "event_id", "occurred_at")
_UPDATABLE = [c for c in MessageRow.COLUMNS if c not in ("message_id", "created_at")]


async def write_batch(conn: asyncpg.Connection, events: list[tuple[str, Envelope]], *,
                      horizon: Horizon | None = None) -> int:
    """Apply ``(topic slug, event)`` pairs idempotently; return how many were new.

    With a retention ``horizon``, a message not stored yet and already past its retention
    is not stored (its other views may have been expired already; see :class:`Horizon`).

    Conversation events are their own ledger: their log (``conversation_events``, keyed by
    event id) is inserted first and only the rows it took are applied. Every other event
    gets a ``processed_events`` row. One ledger row per event, one statement per ledger.
    """
    events = unique_events(events)
    if not events:
        return 0
    async with conn.transaction():
        logged = [cast(ConversationEvent, e) for _, e in events if _logs_itself(type(e))]
        others = [(t, e) for t, e in events if not _logs_itself(type(e))]
        new_ids = await _log_conversation_events(conn, logged) if logged else set()
        if others:
            ids = [ledger_id(e.event_id) for _, e in others]
            ledger, args = await relation(conn, "processed_events", [
                (t, i, e.occurred_at) for (t, e), i in zip(others, ids, strict=True)],
                _LEDGER_COLUMNS)
            rows = await conn.fetch(
                f"""INSERT INTO processed_events ({', '.join(_LEDGER_COLUMNS)})
                   SELECT * FROM {ledger} ON CONFLICT DO NOTHING RETURNING topic, event_id""",
                *args)
            new = {(r["topic"], r["event_id"]) for r in rows}
            new_ids.update(id(e) for (t, e), i in zip(others, ids, strict=True) if (t, i) in new)
        fresh = [e for _, e in events if id(e) in new_ids]
        if fresh:
            await apply_plan(conn, plan_batch(fresh), horizon)
        return len(fresh)


@functools.cache
def _logs_itself(kind: type) -> bool:
    """Conversation events (and subclasses) are their own ledger; cached per type, because
    pydantic's isinstance goes through ABCMeta."""
    return issubclass(kind, ConversationEvent)


async def _log_conversation_events(conn: asyncpg.Connection,
                                   events: list[ConversationEvent]) -> set[int]:
    """Insert the events' log rows; return ``id()`` of the events that were not logged yet."""
    rows, args = await relation(conn, "conversation_events", [
        (e.event_id, e.workspace, e.occurred_at, e.conversation_id, e.customer_id,
         e.kind.value, e.channel.value if e.channel else None, e.agent_id, e.pool,
         e.reason) for e in events])  # column order of 0002 + 0006
    taken = {r[0] for r in await conn.fetch(
        f"INSERT INTO conversation_events SELECT * FROM {rows} ON CONFLICT DO NOTHING"
        " RETURNING event_id", *args)}
    return {id(e) for e in events if e.event_id in taken}


def ledger_id(event_id: str) -> str:
    """What the ledger keeps of an event id: a digest, so it never holds an address."""
    return hashlib.sha256(event_id.encode()).hexdigest()[:32]


async def apply_plan(conn: asyncpg.Connection, plan: BatchPlan,
                     horizon: Horizon | None = None) -> None:
    """Every write of a plan, inside the caller's transaction."""
    patches = list(plan.conversations.values())
    messages = await _write_messages(conn, list(plan.messages.values()), horizon)
    await _write_moves(conn, plan)
    await _write_customers(conn, messages, patches)
    erased = await write_conversations(conn, patches)
    await _write_conversation_log(conn, plan)
    if erased:
        await _keep_anonymous(conn, erased)
    await _write_deliveries(conn, plan)
    await _write_assignments(conn, plan)
    await _write_agent_events(conn, plan)
    await _write_misc(conn, plan)


async def _keep_anonymous(conn: asyncpg.Connection, erased: list[tuple[str, str, str]]) -> None:
    """Events about erased customers' conversations that name the erased id (``erased``:
    conversation, that id, the anonymous id): their log rows and ratings take the anonymous
    id, and the customer row they filed goes (see :mod:`.conversation_merge`)."""
    for table in ("conversation_events", "csat_ratings"):
        await conn.executemany(
            f"UPDATE {table} SET customer_id = $3 WHERE conversation_id = $1 "
            "AND customer_id = $2", erased)
    await conn.execute(
        """DELETE FROM customers cu WHERE customer_id = ANY($1::text[])
           AND NOT EXISTS (SELECT 1 FROM conversations c WHERE c.customer_id = cu.customer_id)
           AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.customer_id = cu.customer_id)""",
        sorted({named for _, named, _ in erased}))


async def _write_messages(conn: asyncpg.Connection, rows: list[MessageRow],
                         horizon: Horizon | None) -> list[MessageRow]:
    """Insert new messages (unless past retention), complete known ones; return every touched
    message as now stored."""
    if not rows:
        return []
    ids = sorted(r.message_id for r in rows)
    # Two sink instances may see two views of one message at once (different topics):
    # lock the ids so exactly one inserts and the other updates.
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext(id)) FROM unnest($1::text[]) id", ids)
    existing = {r["message_id"] for r in await conn.fetch(
        "SELECT message_id FROM messages WHERE message_id = ANY($1::text[])", ids)}
    new = [r for r in rows if r.message_id not in existing]
    known = [r for r in rows if r.message_id in existing]
    if horizon is not None:
        new = [r for r in new if not horizon.expired(r.workspace, r.channel, r.created_at)]
        rows = new + known
    if new:
        await ensure_partitions(conn, [r.created_at for r in new])
        await conn.copy_records_to_table(
            "messages", columns=list(MessageRow.COLUMNS),
            records=[_message_record(r) for r in new],
        )
    if known:
        staged, args = await relation(conn, "messages", [_message_record(r) for r in known],
                                      MessageRow.COLUMNS)
        new += [MessageRow(**dict(r)) for r in await conn.fetch(_UPDATE_KNOWN % staged, *args)]
    await insert_new(conn, "attachments", [
        (r.message_id, i, r.created_at, a.get("kind"), a.get("url"), a.get("media_id"),
         a.get("content_type"), a.get("filename"), a.get("size_bytes"), a.get("caption"))
        for r in rows for i, a in enumerate(r.attachments)
    ])
    return new


_UPDATE_KNOWN = (
    "UPDATE messages m SET "
    + ", ".join(f"{c} = COALESCE(m.{c}, s.{c})" for c in _UPDATABLE if c != "content")
    + ", content = m.content || s.content FROM %s WHERE m.message_id = s.message_id"
    " RETURNING m.message_id, m.created_at, m.workspace, m.direction, m.channel,"
    " m.customer_id, m.sender, m.sender_name"
)
"""Fill what the stored view of a message did not know from the staged views."""


_COLUMN_VALUES = operator.attrgetter(*MessageRow.COLUMNS[:-1])


def _message_record(row: MessageRow) -> tuple[Any, ...]:
    """The row's values in ``MessageRow.COLUMNS`` order, ``content`` as JSON text."""
    return (*_COLUMN_VALUES(row), json.dumps(row.content) if row.content else "{}")


async def _write_moves(conn: asyncpg.Connection, plan: BatchPlan) -> None:
    """Re-file messages an unlink moved to another conversation and customer."""
    if plan.moves:
        ids = sorted(plan.moves)
        await conn.execute(
            """UPDATE messages m SET conversation_id = v.conversation_id,
                 customer_id = v.customer_id
               FROM unnest($1::text[], $2::text[], $3::text[])
                 AS v(message_id, conversation_id, customer_id)
               WHERE m.message_id = v.message_id""",
            ids, [plan.moves[i][0] for i in ids], [plan.moves[i][1] for i in ids])


async def _write_customers(conn: asyncpg.Connection, messages: list[MessageRow],
                          patches: list[ConversationPatch]) -> None:
    """Customers and their addresses, as far as the stored messages and conversations tell."""
    customers = customer_rows(messages, patches)
    if customers:
        rows, args = await relation(conn, "customers", customers, _CUSTOMER_COLUMNS)
        await conn.execute(
            f"""INSERT INTO customers AS c ({', '.join(_CUSTOMER_COLUMNS)})
               SELECT * FROM {rows}
               ON CONFLICT (customer_id) DO UPDATE SET
                 display_name = COALESCE(EXCLUDED.display_name, c.display_name),
                 first_seen_at = LEAST(c.first_seen_at, EXCLUDED.first_seen_at),
                 last_seen_at = GREATEST(c.last_seen_at, EXCLUDED.last_seen_at)""", *args)
    addresses = address_rows(messages)
    if addresses:
        rows, args = await relation(conn, "customer_addresses", addresses)
        await conn.execute(
            f"""INSERT INTO customer_addresses AS a SELECT * FROM {rows}
               ON CONFLICT (customer_id, channel, address) DO UPDATE SET
                 display_name = COALESCE(EXCLUDED.display_name, a.display_name),
                 first_seen_at = LEAST(a.first_seen_at, EXCLUDED.first_seen_at),
                 last_seen_at = GREATEST(a.last_seen_at, EXCLUDED.last_seen_at)""", *args)


_CUSTOMER_COLUMNS = ("customer_id", "workspace", "display_name", "first_seen_at", "last_seen_at")


async def _write_conversation_log(conn: asyncpg.Connection, plan: BatchPlan) -> None:
    events = plan.conversation_events  # their log rows went in first (the ledger)
    await insert_new(conn, "conversation_notes", [
        (e.event_id, e.conversation_id, e.agent_id, e.note, e.occurred_at)
        for e in events if e.note])
    await insert_new(conn, "csat_ratings", [
        (e.event_id, e.workspace, e.conversation_id, e.customer_id, e.rating.score,
         e.rating.comment, e.occurred_at) for e in events if e.rating is not None])


async def _write_deliveries(conn: asyncpg.Connection, plan: BatchPlan) -> None:
    await insert_new(conn, "delivery_statuses", [
        (d.event_id, d.workspace, d.conversation_id, d.outbound_event_id, d.channel.value,
         d.provider, d.provider_message_id, d.state.value, d.state.rank,
         d.status_at or d.occurred_at, d.error_code, d.error_message)
        for d in plan.deliveries])


async def _write_assignments(conn: asyncpg.Connection, plan: BatchPlan) -> None:
    await insert_new(conn, "assignments", [
        (a.event_id, a.workspace, a.occurred_at, a.agent_id, a.kind.value, a.conversation_id,
         a.work_id, a.offer_id, a.pool, a.channel.value if a.channel else None, a.priority,
         a.expires_at, a.reason, a.decision.model_dump_json() if a.decision else None)
        for a in plan.assignments])
    if plan.holders:
        # Assignments are keyed by agent, so a hand-over can arrive in either order:
        # the later change wins, and only the holder's own release clears it. Applied in
        # time order (executemany keeps it), pipelined in one round trip.
        await conn.executemany(
            """INSERT INTO conversation_assignments AS a VALUES ($1, $2, $3, $4, $5)
               ON CONFLICT (conversation_id) DO UPDATE SET agent_id = $2, state = $3,
                 offer_id = $4, changed_at = $5
               WHERE a.changed_at <= $5 AND ($3 = 'assigned' OR a.agent_id = $6)""",
            [(h.conversation_id, h.agent_id, h.state, h.offer_id, h.changed_at,
              h.releasing_agent) for h in sorted(plan.holders, key=lambda h: h.changed_at)])


async def _write_agent_events(conn: asyncpg.Connection, plan: BatchPlan) -> None:
    events = plan.agent_events
    await insert_new(conn, "agent_events", [
        (e.event_id, e.workspace, e.occurred_at, e.agent_id, e.kind.value, presence_of(e),
         e.conversation_id, e.offer_id, e.reason) for e in events])
    await insert_new(conn, "agent_presence", [
        (e.event_id, e.agent_id, presence_of(e), e.occurred_at)
        for e in events if presence_of(e)])


async def _write_misc(conn: asyncpg.Connection, plan: BatchPlan) -> None:
    await insert_new(conn, "identity_links", [
        (x.event_id, x.workspace, x.occurred_at, x.action.value, x.customer_hint,
         json.dumps([a.model_dump(mode="json", exclude_none=True) for a in x.addresses]),
         x.source, x.evidence.value, x.reason) for x in plan.identity_links])
    await insert_new(conn, "selfservice_events", plan.selfservice)
    if plan.customer_merges:  # rare (identity links): no statement for the other batches
        await conn.executemany(  # an id's announcements share a partition: the latest wins
            """INSERT INTO customer_merges AS m (customer_id, workspace, merged_into,
                 changed_at, event_id) VALUES ($1, $2, $3, $4, $5)
               ON CONFLICT (customer_id) DO UPDATE SET merged_into = $3, changed_at = $4,
                 event_id = $5 WHERE m.changed_at <= $4""",
            [(e.customer_id, e.workspace, e.merged_into, e.occurred_at, e.event_id)
             for e in plan.customer_merges.values()])
    await insert_new(conn, "dead_letters", [
        (d.event_id, d.occurred_at, d.processor, d.source_topic, d.source_partition,
         d.source_offset, d.error_type, d.error, d.source_key_b64, d.original_b64)
        for d in plan.dead_letters])  # column order of 0002 + 0006
