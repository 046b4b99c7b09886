"""A customer's data: export everything held, or erase it.

Erase removes every message (inbound and outbound, matched by customer id and
by the customer's addresses), attachment, delivery status, internal note,
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
from typing import Any

import asyncpg

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


async def _scope(conn: asyncpg.Connection, customer_id: str) -> tuple[list[str], list[str]]:
    """The customer's conversation ids and message ids (by id and by address)."""
    conversations = [r["conversation_id"] for r in await conn.fetch(
        "SELECT conversation_id FROM conversations WHERE customer_id = $1", customer_id)]
    messages = [r["message_id"] for r in await conn.fetch(
        """SELECT m.message_id FROM messages m
           WHERE m.customer_id = $1 OR m.conversation_id = ANY($2::text[])
              OR EXISTS (SELECT 1 FROM customer_addresses a WHERE a.customer_id = $1
                         AND a.channel = m.channel
                         AND (a.address = m.sender AND m.direction = 'inbound'
                              OR a.address = m.recipient AND m.direction = 'outbound'))""",
        customer_id, conversations)]
    return conversations, messages


async def _address_values(conn: asyncpg.Connection, customer_id: str) -> list[str]:
    return [r["address"] for r in await conn.fetch(
        "SELECT address FROM customer_addresses WHERE customer_id = $1", customer_id)]


async def identifiers(conn: asyncpg.Connection, customer_id: str) -> list[str]:
    """Every string naming the customer: the id, stored addresses, and the raw sender and
    recipient values of their messages (``+1415…``, ``whatsapp:+1415…``, ``v_…``)."""
    _conversations, messages = await _scope(conn, customer_id)
    raw = await conn.fetch(
        """SELECT DISTINCT CASE WHEN direction = 'inbound' THEN sender ELSE recipient END AS a
           FROM messages WHERE message_id = ANY($1::text[])""", messages)
    found = {customer_id, *await _address_values(conn, customer_id)}
    found.update(r["customer_id"] for r in await conn.fetch(
        "SELECT customer_id FROM customers WHERE merged_into = $1", customer_id))
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
    conversations, messages = await _scope(conn, customer_id)
    addresses = await _address_values(conn, customer_id)
    q = conn.fetch
    return {
        "customer": dict(customer),
        "addresses": _rows(await q(
            "SELECT * FROM customer_addresses WHERE customer_id = $1", customer_id)),
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
            "SELECT * FROM csat_ratings WHERE customer_id = $1", customer_id)),
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
        conversations, messages = await _scope(conn, customer_id)
        addresses = await _address_values(conn, customer_id)
        names = await identifiers(conn, customer_id)
        anonymous = f"erased-{uuid.uuid4().hex[:16]}"
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

            "attachments": await _count(conn.execute(
                "DELETE FROM attachments WHERE message_id = ANY($1::text[])", messages)),
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
                           "WHERE customer_id = $1", customer_id, anonymous)
        await conn.execute("UPDATE conversations SET customer_id = $2 WHERE customer_id = $1",
                           customer_id, anonymous)
        await conn.execute("UPDATE conversation_events SET customer_id = $2 "
                           "WHERE customer_id = $1", customer_id, anonymous)
        merged = [n for n in names if n.startswith("cus_") or n == customer_id]
        for table in ("conversation_events", "processed_events"):  # ids of merge events
            for name in merged:
                await conn.execute(
                    f"UPDATE {table} SET event_id = replace(event_id, $1, $2) "
                    "WHERE strpos(event_id, $1) > 0", name, anonymous)
        await conn.execute("DELETE FROM customers WHERE merged_into = $1", customer_id)
        await conn.execute("DELETE FROM customers WHERE customer_id = $1", customer_id)
        detail = {"counts": counts, "anonymous_id": anonymous,
                  "conversations_kept_anonymous": len(conversations),
                  "compacted_topics": compacted_topics(),
                  "subject_digest": subject_digest(customer_id)}
        await conn.execute(
            "INSERT INTO audit_log (actor, action, subject, detail) VALUES ($1, $2, $3, $4)",
            actor, "customer.erase", anonymous, json.dumps(detail))
    return {**detail, "identifiers": names}


async def _count(status: Any) -> int:
    return int((await status).split()[-1])
