"""The sink's one-statement conversation merge (``history/store.py``), on real PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import asyncpg

from integration.history.factories import T0, opened
from omniroute.contract import ConversationEvent, ConversationEventKind
from omniroute.history.store import write_batch


def event(n: int, kind: ConversationEventKind, conversation: str = "c1",
          customer: str = "cust-1", **fields: object) -> ConversationEvent:
    return ConversationEvent(event_id=f"ev-{conversation}-{n}",
                             occurred_at=T0 + timedelta(minutes=n), conversation_id=conversation,
                             customer_id=customer, kind=kind, **fields)  # type: ignore[arg-type]


async def row(conn: asyncpg.Connection, conversation: str = "c1") -> asyncpg.Record:
    return await conn.fetchrow("SELECT * FROM conversations WHERE conversation_id = $1",
                               conversation)


async def test_triage_adds_up_an_unassignment_clears_the_agent_a_reopening_the_resolution(
        database_url: str) -> None:
    """Across batches: triage keys merge, unassigned clears the agent, reopened clears
    resolved_at, and a batch that mentions none of them keeps them."""
    conn = await asyncpg.connect(database_url)
    try:
        batches = [
            [opened("c1", "cust-1"), event(1, ConversationEventKind.TAGGED,
                                           triage={"language": "en"})],
            [event(2, ConversationEventKind.ASSIGNED, agent_id="a1", pool="support"),
             event(3, ConversationEventKind.TAGGED, triage={"intent": "billing"})],
            [event(4, ConversationEventKind.RESOLVED)],
            [event(5, ConversationEventKind.UNASSIGNED), event(6, ConversationEventKind.REOPENED)],
        ]
        seen = []
        for batch in batches:
            await write_batch(conn, [("conversations", e) for e in batch])
            r = await row(conn)
            seen.append((r["status"], r["agent_id"], r["resolved_at"], dict_of(r["triage"])))
        assert seen == [
            ("open", None, None, {"language": "en"}),
            ("open", "a1", None, {"language": "en", "intent": "billing"}),
            ("resolved", "a1", T0 + timedelta(minutes=4), {"language": "en", "intent": "billing"}),
            ("open", None, None, {"language": "en", "intent": "billing"}),
        ]
        assert (r["pool"], r["opened_at"], r["updated_at"]) == (
            "support", T0, T0 + timedelta(minutes=6))
    finally:
        await conn.close()


async def test_a_conversation_another_sink_inserts_meanwhile_is_merged_not_lost(
        database_url: str) -> None:
    """Sink A inserts a conversation and has not committed; sink B's merge of the same
    conversation finds no row to update, its insert waits for A and then does nothing: B
    must merge again once A committed, so both batches' changes are in the row."""
    first, second = await asyncpg.connect(database_url), await asyncpg.connect(database_url)
    try:
        transaction = first.transaction()
        await transaction.start()
        await write_batch(first, [("conversations", opened("c2", "cust-1"))])
        later = asyncio.create_task(write_batch(second, [("conversations", event(
            7, ConversationEventKind.ASSIGNED, "c2", "cust-2", agent_id="a9", pool="vip",
            tags=["late"]))]))  # another customer: B does not wait on A's customer row first
        await asyncio.sleep(0.5)
        assert not later.done()  # waiting for A's row
        await transaction.commit()
        assert await asyncio.wait_for(later, 10) == 1
        r = await row(second, "c2")
        assert (r["status"], r["agent_id"], r["pool"], r["tags"], r["opened_at"]) == (
            "open", "a9", "vip", ["late"], T0)  # A's opening and status, B's agent and tags
    finally:
        await first.close()
        await second.close()


def dict_of(value: object) -> dict[str, str]:
    import json

    return json.loads(value) if isinstance(value, str) else dict(value)  # type: ignore[arg-type]
