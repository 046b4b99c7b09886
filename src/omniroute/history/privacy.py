"""A customer's data: export everything held, or erase it.

Export and erase cover the ids identity merged into the customer (:func:`known_as`).
Erase removes every message (inbound and outbound, matched by customer id and
by the customer's addresses), attachment (with the stored bytes of an email
attachment no other message names, :mod:`.blobs`), delivery status, internal note,
address and identity link of the customer, and (issue 16) the web chat
transcript, the sent-email records (recipients), the dead letters of those
messages and every dead letter whose error quotes one of the customer's
addresses. The sink's ledger of processed event ids stays (event ids carry no
address), so replaying a topic never re-inserts an erased message. Metric rows stay, anonymous: the
conversations, their events, assignments and CSAT scores keep their numbers but
the customer id becomes a random ``erased-…`` id and comments are cleared. An
``audit_log`` row records who erased what, with counts and no content: its
subject is the anonymous id, with a keyed digest of the erased id (so someone
holding the id and ``OMNIROUTE_IDENTITY_KEY`` can prove the erasure) and never
the id itself. Topics are erased by :mod:`.topic_erasure`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from datetime import datetime
from typing import Any

import asyncpg

from omniroute.history.blobs import delete_unnamed
from omniroute.history.erase_requests import ANONYMOUS_PREFIX
from omniroute.infra.topics import all_topics


def _rows(records: list[asyncpg.Record]) -> list[dict[str, Any]]:
    out = []
    for record in records:
        row = {}
        for key, value in record.items():
            if isinstance(value, str) and key in ("content", "decision", "addresses", "triage"):
                value = json.loads(value)
            row[key] = value
        out.append(row)
    return out


MERGED_INTO = "SELECT customer_id FROM customer_merges WHERE merged_into = $1"
"""The customer ids identity merged into the customer ``$1`` (``omniroute.customers.v1``)."""


async def known_as(conn: asyncpg.Connection, customer_id: str) -> list[str]:
    """The customer id and every id identity folded into it.

    A merge does not rewrite history: a conversation another id opened (a verified web
    chat visitor's first message, before the link reached every partition) moves to the
    survivor, but its earlier events, its messages and the customer and address rows they
    made keep the merged-away id. Such an id is the customer's when it appears in the
    customer's conversations (or in conversations merged into them) and owns no
    conversation of its own. Every id identity announced merged into the customer
    (``customer_merges``, from ``omniroute.customers.v1``) is the customer's with every
    conversation it had: an unlink announced since takes it out again.
    """
    rows = await conn.fetch(
        f"""WITH mine AS (SELECT conversation_id FROM conversations WHERE customer_id = $1),
           seen AS (
             SELECT customer_id FROM messages WHERE conversation_id IN (SELECT * FROM mine)
             UNION SELECT customer_id FROM conversation_events
                   WHERE conversation_id IN (SELECT * FROM mine)
             UNION SELECT customer_id FROM conversations
                   WHERE merged_into IN (SELECT * FROM mine))
           SELECT s.customer_id FROM seen s
           WHERE s.customer_id IS NOT NULL AND s.customer_id <> $1
             AND NOT EXISTS (SELECT 1 FROM conversations c WHERE c.customer_id = s.customer_id
                   AND c.conversation_id NOT IN (SELECT * FROM mine)
                   AND (c.merged_into IS NULL OR c.merged_into NOT IN (SELECT * FROM mine)))
             AND NOT EXISTS (SELECT 1 FROM customer_merges m WHERE m.customer_id = s.customer_id
                   AND m.merged_into IS DISTINCT FROM $1)
           UNION {MERGED_INTO}""", customer_id)
    return [customer_id, *sorted(r["customer_id"] for r in rows)]


async def survivor_of(conn: asyncpg.Connection, customer_id: str) -> str:
    """The customer ``customer_id`` is part of: the survivor identity announced it merged
    into (``customer_merges``), else itself. A person found by an address (a web chat
    visitor's ``id:…``, a phone) is often found under an id merged away: exporting or
    erasing that id alone left the survivor's conversations (user run 59)."""
    survivor = await conn.fetchval(
        "SELECT merged_into FROM customer_merges WHERE customer_id = $1", customer_id)
    return str(survivor) if survivor else customer_id


async def _scope(conn: asyncpg.Connection, ids: list[str]) -> tuple[list[str], list[str]]:
    """The customer's conversation ids and message ids (by id and by address)."""
    conversations = [r["conversation_id"] for r in await conn.fetch(
        "SELECT conversation_id FROM conversations WHERE customer_id = ANY($1::text[])", ids)]
    messages = [r["message_id"] for r in await conn.fetch(
        """SELECT m.message_id FROM messages m
           WHERE m.customer_id = ANY($1::text[]) OR m.conversation_id = ANY($2::text[])
              OR EXISTS (SELECT 1 FROM customer_addresses a
                         WHERE a.customer_id = ANY($1::text[]) AND a.channel = m.channel
                         AND (a.address = m.sender AND m.direction = 'inbound'
                              OR a.address = m.recipient AND m.direction = 'outbound'))""",
        ids, conversations)]
    return conversations, messages


async def _address_values(conn: asyncpg.Connection, ids: list[str]) -> list[str]:
    return [r["address"] for r in await conn.fetch(
        "SELECT address FROM customer_addresses WHERE customer_id = ANY($1::text[])", ids)]


async def identifiers(conn: asyncpg.Connection, customer_id: str) -> list[str]:
    """Every string naming the customer: the id and the ids merged into it, stored
    addresses, and the raw sender and recipient values of their messages (``+1415…``,
    ``whatsapp:+1415…``, ``v_…``)."""
    ids = await known_as(conn, customer_id)
    _conversations, messages = await _scope(conn, ids)
    return await _names(conn, ids, messages, await _address_values(conn, ids))


async def _names(conn: asyncpg.Connection, ids: list[str], messages: list[str],
                 addresses: list[str]) -> list[str]:
    """:func:`identifiers` from the customer's ids, message ids and stored addresses."""
    raw = await conn.fetch(
        """SELECT DISTINCT CASE WHEN direction = 'inbound' THEN sender ELSE recipient END AS a
           FROM messages WHERE message_id = ANY($1::text[])""", messages)
    found = {*ids, *addresses}
    found.update(r["a"] for r in raw if r["a"])
    for value in list(found):  # normalized forms carry a scheme: tel:+1…, mailto:a@b
        bare = value.removeprefix("unverified:")  # unauthenticated mail's own address
        found.update((bare, bare.split(":", 1)[1] if bare.startswith(("tel:", "mailto:"))
                      else bare))
    return sorted(v for v in found if len(v) >= 4)


def subject_digest(customer_id: str) -> str:
    """The keyed digest of an erased id recorded in the audit log."""
    from omniroute.identity.customers import _identity_key

    return hmac.new(_identity_key(), customer_id.encode(), hashlib.sha256).hexdigest()


async def export_customer(conn: asyncpg.Connection, customer_id: str) -> dict[str, Any] | None:
    """Everything held about a customer, as JSON-ready data; None when unknown."""
    customer = await conn.fetchrow("SELECT * FROM customers WHERE customer_id = $1", customer_id)
    if customer is None:
        return None
    ids = await known_as(conn, customer_id)
    conversations, messages = await _scope(conn, ids)
    addresses = await _address_values(conn, ids)
    q = conn.fetch
    return {
        "customer": dict(customer),
        "merged_ids": ids[1:],
        "addresses": _rows(await q(
            "SELECT * FROM customer_addresses WHERE customer_id = ANY($1::text[])", ids)),
        "identity_links": _rows(await q(
            """SELECT * FROM identity_links WHERE EXISTS (SELECT 1 FROM
               jsonb_array_elements(addresses) a WHERE a->'address'->>'value' = ANY($1::text[]))""",
            addresses)),
        "conversations": _rows(await q(
            "SELECT * FROM conversations WHERE conversation_id = ANY($1::text[])", conversations)),
        "messages": _rows(await q(
            "SELECT * FROM messages WHERE message_id = ANY($1::text[]) ORDER BY created_at",
            messages)),
        "attachments": _rows(await q(
            "SELECT * FROM attachments WHERE message_id = ANY($1::text[])", messages)),
        "delivery_statuses": _rows(await q(
            "SELECT * FROM delivery_statuses WHERE outbound_event_id = ANY($1::text[])",
            messages)),
        "notes": _rows(await q(
            "SELECT * FROM conversation_notes WHERE conversation_id = ANY($1::text[])",
            conversations)),
        "ratings": _rows(await q(
            "SELECT * FROM csat_ratings WHERE customer_id = ANY($1::text[])", ids)),
        "assignments": _rows(await q(
            "SELECT * FROM assignments WHERE conversation_id = ANY($1::text[])", conversations)),
    }


def compacted_topics() -> list[str]:
    """Topics omniroute declares with ``cleanup.policy=compact`` (tombstone candidates)."""
    return [t.name for t in all_topics() if "compact" in t.configs.get("cleanup.policy", "")]


async def erase_customer(conn: asyncpg.Connection, customer_id: str, *,
                         actor: str) -> dict[str, Any] | None:
    """Erase a customer's content and addresses, keep anonymous metrics, audit it."""
    async with conn.transaction():
        if await conn.fetchval("SELECT 1 FROM customers WHERE customer_id = $1 FOR UPDATE",
                               customer_id) is None:
            return None
        ids = await known_as(conn, customer_id)
        conversations, messages = await _scope(conn, ids)
        addresses = await _address_values(conn, ids)
        names = await _names(conn, ids, messages, addresses)
        anonymous = f"{ANONYMOUS_PREFIX}{uuid.uuid4().hex[:16]}"
        counts = {
            "webchat_messages": await _count(conn.execute(
                """DELETE FROM webchat_messages WHERE event_id = ANY($1::text[])
                   OR conversation_id = ANY($2::text[]) OR address = ANY($3::text[])""",
                messages, conversations, names)),
            "sent_emails": await _count(conn.execute(
                """DELETE FROM email_sent_messages WHERE conversation_id = ANY($1::text[])
                   OR outbound_event_id = ANY($2::text[])
                   OR lower(recipient) = ANY($3::text[])""",
                conversations, messages, [n.lower() for n in names])),
            "dead_letters": await _count(conn.execute(
                """DELETE FROM dead_letters WHERE event_id = ANY($1::text[])
                   OR EXISTS (SELECT 1 FROM unnest($2::text[]) n
                              WHERE strpos(dead_letters.error, n) > 0)""", messages, names)),

            **await _delete_attachments(conn, messages),
            "delivery_statuses": await _count(conn.execute(
                """DELETE FROM delivery_statuses WHERE outbound_event_id = ANY($1::text[])
                   OR conversation_id = ANY($2::text[])""", messages, conversations)),
            "messages": await _count(conn.execute(
                "DELETE FROM messages WHERE message_id = ANY($1::text[])", messages)),
            "notes": await _count(conn.execute(
                "DELETE FROM conversation_notes WHERE conversation_id = ANY($1::text[])",
                conversations)),
            "identity_links": await _count(conn.execute(
                """DELETE FROM identity_links WHERE EXISTS (SELECT 1 FROM
                   jsonb_array_elements(addresses) a
                   WHERE a->'address'->>'value' = ANY($1::text[]))""", addresses)),
            "addresses": len(addresses),
        }
        await conn.execute("UPDATE csat_ratings SET customer_id = $2, comment = NULL "
                           "WHERE customer_id = ANY($1::text[])", ids, anonymous)
        await conn.execute("UPDATE conversations SET customer_id = $2 "
                           "WHERE customer_id = ANY($1::text[])", ids, anonymous)
        await conn.execute("UPDATE conversation_events SET customer_id = $2 "
                           "WHERE customer_id = ANY($1::text[])", ids, anonymous)
        merged = [n for n in names if n.startswith("cus_") or n == customer_id]
        for table in ("conversation_events", "processed_events"):  # ids of merge events
            for name in merged:
                await conn.execute(
                    f"UPDATE {table} SET event_id = replace(event_id, $1, $2) "
                    "WHERE strpos(event_id, $1) > 0", name, anonymous)
        await conn.execute("DELETE FROM customers WHERE customer_id = ANY($1::text[]) "
                           "OR merged_into = ANY($1::text[])", ids)
        await _forget_merges(conn, ids)
        detail = {"counts": counts, "anonymous_id": anonymous, "merged_ids": len(ids) - 1,
                  "conversations_kept_anonymous": len(conversations),
                  "compacted_topics": compacted_topics(),
                  "subject_digest": subject_digest(customer_id)}
        await conn.execute(
            "INSERT INTO audit_log (actor, action, subject, detail) VALUES ($1, $2, $3, $4)",
            actor, "customer.erase", anonymous, json.dumps(detail))
    return {**detail, "identifiers": names, "customer_ids": ids}


async def open_conversations(conn: asyncpg.Connection, customer_id: str) -> dict[str, bool]:
    """The customer's open conversations (under every id it is known as) → whether a pool
    holds it (the router has work to let go of when the worker ends it)."""
    ids = await known_as(conn, customer_id)
    return {r["conversation_id"]: r["pool"] is not None for r in await conn.fetch(
        """SELECT conversation_id, pool FROM conversations
           WHERE customer_id = ANY($1::text[]) AND status = 'open'""", ids)}


async def still_held(conn: asyncpg.Connection, conversations: dict[str, bool],
                     since: datetime) -> list[str]:
    """Which of ``conversations`` (→ routed) history does not yet show ended: resolved (the
    worker's event), held by no agent, and, where a pool held it, let go by the router
    since ``since`` (its ``unassigned``)."""
    rows = await conn.fetch(
        """SELECT c.conversation_id FROM conversations c
           LEFT JOIN conversation_assignments a USING (conversation_id)
           WHERE c.conversation_id = ANY($1::text[]) AND c.status = 'resolved'
             AND c.agent_id IS NULL AND a.agent_id IS NULL
             AND (NOT c.conversation_id = ANY($2::text[]) OR EXISTS (
                  SELECT 1 FROM conversation_events e
                  WHERE e.conversation_id = c.conversation_id AND e.kind = 'unassigned'
                    AND e.occurred_at >= $3))""",
        list(conversations), [c for c, routed in conversations.items() if routed], since)
    ended = {r["conversation_id"] for r in rows}
    return sorted(c for c in conversations if c not in ended)


async def anonymize_again(conn: asyncpg.Connection, customer_ids: list[str],
                          anonymous: str) -> int:
    """Rows that events written after the erase put the customer ids back on (the router
    let go of a conversation; the sink files a customer row for any conversation event's
    customer): anonymous again, or gone. Returns how many."""
    count = 0
    for table in ("conversations", "conversation_events", "csat_ratings"):
        count += await _count(conn.execute(
            f"UPDATE {table} SET customer_id = $2 WHERE customer_id = ANY($1::text[])",
            customer_ids, anonymous))
    count += await _count(conn.execute(
        "DELETE FROM customers WHERE customer_id = ANY($1::text[])", customer_ids))
    return count + await _forget_merges(conn, customer_ids)


async def _forget_merges(conn: asyncpg.Connection, ids: list[str]) -> int:
    """Delete what ``customer_merges`` says of ``ids``, either side; how many rows."""
    return await _count(conn.execute(
        "DELETE FROM customer_merges WHERE customer_id = ANY($1::text[]) "
        "OR merged_into = ANY($1::text[])", ids))


async def _delete_attachments(conn: asyncpg.Connection, messages: list[str]) -> dict[str, int]:
    """The messages' attachment rows, and the email bytes no remaining row names."""
    named = await conn.fetch(
        "DELETE FROM attachments WHERE message_id = ANY($1::text[]) RETURNING media_id",
        messages)
    return {"attachments": len(named),
            "attachment_blobs": await delete_unnamed(conn, (r["media_id"] for r in named))}


async def _count(status: Any) -> int:
    return int((await status).split()[-1])
