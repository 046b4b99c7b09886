"""The history repository: writes one batch of events to PostgreSQL in one transaction.

:func:`write_batch` records every ``(topic, event_id)`` in ``processed_events``
first and applies only the events that were new, so the same events written
twice leave the same rows. Messages go in with COPY (new ones) and one
COALESCE update (ones another topic already told about).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import asyncpg

from omniroute.contract import Envelope
from omniroute.history.partitions import ensure_partitions
from omniroute.history.projection import (
    BatchPlan,
    ConversationPatch,
    MessageRow,
    plan_batch,
    presence_of,
    unique_events,
)

_UPDATABLE = [c for c in MessageRow.COLUMNS if c not in ("message_id", "created_at")]


async def write_batch(conn: asyncpg.Connection, events: list[tuple[str, Envelope]]) -> int:
    """Apply ``(topic slug, event)`` pairs idempotently; return how many were new."""
    events = unique_events(events)
    if not events:
        return 0
    async with conn.transaction():
        rows = await conn.fetch(
            """INSERT INTO processed_events (topic, event_id, occurred_at)
               SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[])
               ON CONFLICT DO NOTHING RETURNING topic, event_id""",
            [t for t, _ in events], [ledger_id(e.event_id) for _, e in events],
            [e.occurred_at for _, e in events],
        )
        new = {(r["topic"], r["event_id"]) for r in rows}
        fresh = [e for t, e in events if (t, ledger_id(e.event_id)) in new]
        if fresh:
            await apply_plan(conn, plan_batch(fresh))
        return len(fresh)


def ledger_id(event_id: str) -> str:
    """What the ledger keeps of an event id: a digest, so it never holds an address."""
    return hashlib.sha256(event_id.encode()).hexdigest()[:32]


async def apply_plan(conn: asyncpg.Connection, plan: BatchPlan) -> None:
    """Every write of a plan, inside the caller's transaction."""
    await _write_conversations(conn, list(plan.conversations.values()))
    await _write_messages(conn, list(plan.messages.values()))
    await _write_conversation_log(conn, plan)
    await _write_deliveries(conn, plan)
    await _write_assignments(conn, plan)
    await _write_agent_events(conn, plan)
    await _write_misc(conn, plan)


async def _write_messages(conn: asyncpg.Connection, rows: list[MessageRow]) -> None:
    if not rows:
        return
    ids = sorted(r.message_id for r in rows)
    # Two sink instances may see two views of one message at once (different topics):
    # lock the ids so exactly one inserts and the other updates.
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext(id)) FROM unnest($1::text[]) id", ids)
    existing = {r["message_id"] for r in await conn.fetch(
        "SELECT message_id FROM messages WHERE message_id = ANY($1::text[])", ids)}
    new = [r for r in rows if r.message_id not in existing]
    known = [r for r in rows if r.message_id in existing]
    if new:
        await ensure_partitions(conn, [r.created_at for r in new])
        await conn.copy_records_to_table(
            "messages", columns=list(MessageRow.COLUMNS),
            records=[_message_record(r) for r in new],
        )
    if known:
        sets = ", ".join(f"{c} = COALESCE(m.{c}, ${i + 2})" for i, c in enumerate(_UPDATABLE)
                         if c != "content")
        await conn.executemany(
            f"UPDATE messages m SET {sets}, content = m.content || ${len(_UPDATABLE) + 1} "
            "WHERE m.message_id = $1",
            [(r.message_id, *_message_record(r)[2:]) for r in known],
        )
    attachments = [
        (r.message_id, i, r.created_at, a.get("kind"), a.get("url"), a.get("media_id"),
         a.get("content_type"), a.get("filename"), a.get("size_bytes"), a.get("caption"))
        for r in rows for i, a in enumerate(r.attachments)
    ]
    if attachments:
        await conn.executemany(
            "INSERT INTO attachments VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10) "
            "ON CONFLICT DO NOTHING", attachments)
    await _write_customers(conn, ids)


def _message_record(row: MessageRow) -> tuple[Any, ...]:
    values = [getattr(row, c) for c in MessageRow.COLUMNS]
    values[-1] = json.dumps(row.content)
    return tuple(values)


async def _write_customers(conn: asyncpg.Connection, message_ids: list[str]) -> None:
    """Customers and their addresses, as far as the stored messages now tell."""
    await conn.execute(
        """INSERT INTO customers (customer_id, workspace, display_name, first_seen_at, last_seen_at)
           SELECT customer_id, min(workspace), max(sender_name), min(created_at), max(created_at)
           FROM messages WHERE message_id = ANY($1::text[]) AND customer_id IS NOT NULL
           GROUP BY customer_id
           ON CONFLICT (customer_id) DO UPDATE SET
             display_name = COALESCE(EXCLUDED.display_name, customers.display_name),
             first_seen_at = LEAST(customers.first_seen_at, EXCLUDED.first_seen_at),
             last_seen_at = GREATEST(customers.last_seen_at, EXCLUDED.last_seen_at)""",
        message_ids,
    )
    await conn.execute(
        """INSERT INTO customer_addresses
             (customer_id, channel, address, display_name, first_seen_at, last_seen_at)
           SELECT customer_id, channel, sender, max(sender_name), min(created_at), max(created_at)
           FROM messages
           WHERE message_id = ANY($1::text[]) AND direction = 'inbound'
             AND customer_id IS NOT NULL AND sender IS NOT NULL
           GROUP BY customer_id, channel, sender
           ON CONFLICT (customer_id, channel, address) DO UPDATE SET
             display_name = COALESCE(EXCLUDED.display_name, customer_addresses.display_name),
             first_seen_at = LEAST(customer_addresses.first_seen_at, EXCLUDED.first_seen_at),
             last_seen_at = GREATEST(customer_addresses.last_seen_at, EXCLUDED.last_seen_at)""",
        message_ids,
    )


async def _write_conversations(conn: asyncpg.Connection, patches: list[ConversationPatch]) -> None:
    if not patches:
        return
    await conn.executemany(
        """INSERT INTO customers (customer_id, workspace, first_seen_at, last_seen_at)
           VALUES ($1, $2, $3, $3)
           ON CONFLICT (customer_id) DO UPDATE SET
             last_seen_at = GREATEST(customers.last_seen_at, EXCLUDED.last_seen_at)""",
        [(p.customer_id, p.workspace, p.updated_at) for p in patches],
    )
    await conn.executemany(
        """INSERT INTO conversations AS c (conversation_id, workspace, customer_id, status, channel,
             pool, agent_id, opened_at, resolved_at, last_message_at, merged_into, tags, triage,
             updated_at)
           VALUES ($1, $2, $3, COALESCE($4, 'open'), $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
           ON CONFLICT (conversation_id) DO UPDATE SET
             customer_id = EXCLUDED.customer_id,
             status = COALESCE($4, c.status),
             channel = COALESCE($5, c.channel),
             pool = COALESCE($6, c.pool),
             agent_id = CASE WHEN $15 THEN $7 ELSE c.agent_id END,
             opened_at = LEAST(c.opened_at, $8),
             resolved_at = CASE WHEN $4 = 'open' THEN NULL ELSE COALESCE($9, c.resolved_at) END,
             last_message_at = GREATEST(c.last_message_at, $10),
             merged_into = COALESCE($11, c.merged_into),
             tags = ARRAY(SELECT DISTINCT unnest(c.tags || $12::text[])),
             triage = c.triage || $13::jsonb,
             updated_at = GREATEST(c.updated_at, $14)""",
        [(p.conversation_id, p.workspace, p.customer_id, p.status, p.channel, p.pool, p.agent_id,
          p.opened_at, p.resolved_at, p.last_message_at, p.merged_into, list(p.tags),
          json.dumps(p.triage), p.updated_at, p.agent_set) for p in patches],
    )


async def _write_conversation_log(conn: asyncpg.Connection, plan: BatchPlan) -> None:
    events = plan.conversation_events
    if not events:
        return
    await conn.executemany(
        "INSERT INTO conversation_events VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9) "
        "ON CONFLICT DO NOTHING",
        [(e.event_id, e.workspace, e.occurred_at, e.conversation_id, e.customer_id,
          e.kind.value, e.channel.value if e.channel else None, e.agent_id, e.pool)
         for e in events],
    )
    notes = [(e.event_id, e.conversation_id, e.agent_id, e.note, e.occurred_at)
             for e in events if e.note]
    if notes:
        await conn.executemany(
            "INSERT INTO conversation_notes VALUES ($1,$2,$3,$4,$5) ON CONFLICT DO NOTHING", notes)
    ratings = [(e.event_id, e.workspace, e.conversation_id, e.customer_id, e.rating.score,
                e.rating.comment, e.occurred_at) for e in events if e.rating is not None]
    if ratings:
        await conn.executemany(
            "INSERT INTO csat_ratings VALUES ($1,$2,$3,$4,$5,$6,$7) ON CONFLICT DO NOTHING",
            ratings)


async def _write_deliveries(conn: asyncpg.Connection, plan: BatchPlan) -> None:
    if plan.deliveries:
        await conn.executemany(
            "INSERT INTO delivery_statuses VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12) "
            "ON CONFLICT DO NOTHING",
            [(d.event_id, d.workspace, d.conversation_id, d.outbound_event_id, d.channel.value,
              d.provider, d.provider_message_id, d.state.value, d.state.rank,
              d.status_at or d.occurred_at, d.error_code, d.error_message)
             for d in plan.deliveries],
        )


async def _write_assignments(conn: asyncpg.Connection, plan: BatchPlan) -> None:
    if plan.assignments:
        await conn.executemany(
            "INSERT INTO assignments VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14) "
            "ON CONFLICT DO NOTHING",
            [(a.event_id, a.workspace, a.occurred_at, a.agent_id, a.kind.value, a.conversation_id,
              a.work_id, a.offer_id, a.pool, a.channel.value if a.channel else None, a.priority,
              a.expires_at, a.reason,
              a.decision.model_dump_json() if a.decision else None) for a in plan.assignments],
        )
    for h in sorted(plan.holders, key=lambda h: h.changed_at):
        # Assignments are keyed by agent, so a hand-over can arrive in either order:
        # the later change wins, and only the holder's own release clears it.
        await conn.execute(
            """INSERT INTO conversation_assignments AS a VALUES ($1, $2, $3, $4, $5)
               ON CONFLICT (conversation_id) DO UPDATE SET agent_id = $2, state = $3,
                 offer_id = $4, changed_at = $5
               WHERE a.changed_at <= $5 AND ($3 = 'assigned' OR a.agent_id = $6)""",
            h.conversation_id, h.agent_id, h.state, h.offer_id, h.changed_at, h.releasing_agent,
        )


async def _write_agent_events(conn: asyncpg.Connection, plan: BatchPlan) -> None:
    events = plan.agent_events
    if not events:
        return
    await conn.executemany(
        "INSERT INTO agent_events VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9) ON CONFLICT DO NOTHING",
        [(e.event_id, e.workspace, e.occurred_at, e.agent_id, e.kind.value, presence_of(e),
          e.conversation_id, e.offer_id, e.reason) for e in events],
    )
    presence = [(e.event_id, e.agent_id, presence_of(e), e.occurred_at)
                for e in events if presence_of(e)]
    if presence:
        await conn.executemany(
            "INSERT INTO agent_presence VALUES ($1,$2,$3,$4) ON CONFLICT DO NOTHING", presence)


async def _write_misc(conn: asyncpg.Connection, plan: BatchPlan) -> None:
    if plan.identity_links:
        await conn.executemany(
            "INSERT INTO identity_links VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9) ON CONFLICT DO NOTHING",
            [(x.event_id, x.workspace, x.occurred_at, x.action.value, x.customer_hint,
              json.dumps([a.model_dump(mode="json", exclude_none=True) for a in x.addresses]),
              x.source, x.evidence.value, x.reason) for x in plan.identity_links],
        )
    if plan.dead_letters:
        await conn.executemany(
            "INSERT INTO dead_letters VALUES ($1,$2,$3,$4,$5,$6,$7,$8) ON CONFLICT DO NOTHING",
            [(d.event_id, d.occurred_at, d.processor, d.source_topic, d.source_partition,
              d.source_offset, d.error_type, d.error) for d in plan.dead_letters],
        )
