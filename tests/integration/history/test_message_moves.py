"""An unlink's split re-files the split-off person's messages (issue 11).

Real PostgreSQL: after ``message_moved`` each conversation's history holds only
what its person wrote, and a reply on each goes to the right person.
"""

from __future__ import annotations

from datetime import timedelta

import asyncpg

from integration.history.factories import T0, added, inbound
from omniroute.contract import (
    Channel,
    ConversationEvent,
    ConversationEventKind,
    Direction,
    Envelope,
    MessageRef,
)
from omniroute.gateway.commands import ConversationRef
from omniroute.gateway.queries import reply_route
from omniroute.history.store import write_batch


def slug(event: Envelope) -> str:
    return "conversations" if isinstance(event, ConversationEvent) else "inbound"


def moved(n: int, source: str, *, conversation: str, customer: str) -> ConversationEvent:
    """The worker's split announcing that message ``source`` now lives in ``conversation``."""
    return ConversationEvent(
        event_id=f"u1.moved.{n}", occurred_at=T0 + timedelta(hours=1),
        conversation_id=conversation, customer_id=customer,
        kind=ConversationEventKind.MESSAGE_MOVED, channel=Channel.EMAIL,
        reason="moved from X by unlink",
        message=MessageRef(source_event_id=source, direction=Direction.INBOUND,
                           channel=Channel.EMAIL))


class TestMessageMoves:
    async def test_moved_messages_change_conversation_and_replies_follow(
            self, database_url: str) -> None:
        """Pat (SMS) and Sam (email) shared X; Sam's message moves to Y for customer D."""
        pat = inbound(1, text="pat here", sender="+14155550100")
        sam = inbound(2, text="sam here", sender="sam@example.org", channel=Channel.EMAIL)
        events: list[Envelope] = [pat, added(pat, conversation="X", customer="C"), sam,
                                  added(sam, conversation="X", customer="C")]
        conn = await asyncpg.connect(database_url)
        pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
        try:
            await write_batch(conn, [(slug(e), e) for e in events])
            before = await reply_route(pool, ConversationRef("X", "C", "default"), None)
            assert before is not None and before.recipient == "sam@example.org"
            await write_batch(conn, [("conversations",
                                      moved(2, sam.event_id, conversation="Y", customer="D"))])
            rows = await conn.fetch(
                "SELECT message_id, conversation_id, customer_id FROM messages ORDER BY created_at")
            assert [(r["conversation_id"], r["customer_id"]) for r in rows] == [
                ("X", "C"), ("Y", "D")]
            to_pat = await reply_route(pool, ConversationRef("X", "C", "default"), None)
            to_sam = await reply_route(pool, ConversationRef("Y", "D", "default"), None)
            assert to_pat is not None and to_pat.recipient == "+14155550100"
            assert to_sam is not None and to_sam.recipient == "sam@example.org"
            again = await write_batch(conn, [(slug(e), e) for e in events])
            assert again == 0
            assert (await conn.fetchval(
                "SELECT conversation_id FROM messages WHERE message_id = $1", sam.event_id)) == "Y"
        finally:
            await pool.close()
            await conn.close()
