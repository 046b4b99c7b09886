"""The history repository against the real PostgreSQL: idempotent, order-independent."""

from __future__ import annotations

import uuid
from datetime import timedelta

import asyncpg

from integration.history.factories import T0, added, assignment, inbound, opened
from omniroute.contract import (
    Address,
    AssignmentKind,
    Author,
    AuthorKind,
    Channel,
    DeliveryState,
    DeliveryStatus,
    Envelope,
    OutboundMessage,
)
from omniroute.history.store import write_batch

TABLES = ("messages", "customers", "customer_addresses", "conversations", "conversation_events",
          "assignments", "conversation_assignments", "delivery_statuses", "attachments")


def slug(event: Envelope) -> str:
    return {"InboundMessage": "inbound", "ConversationEvent": "conversations",
            "AssignmentEvent": "assignments", "DeliveryStatus": "delivery",
            "OutboundMessage": "outbound"}[type(event).__name__]


async def snapshot(conn: asyncpg.Connection) -> dict[str, list[tuple[object, ...]]]:
    return {t: sorted(tuple(r.values()) for r in await conn.fetch(f"SELECT * FROM {t}"))
            for t in TABLES}


def conversation_events() -> list[Envelope]:
    first = inbound(1, text="my parcel is late")
    second = inbound(2, text="order 4711", channel=Channel.WHATSAPP, sender="whatsapp:+14155550100")
    reply = OutboundMessage(
        event_id="out-1", occurred_at=T0 + timedelta(minutes=3), conversation_id="c1",
        customer_id="cust-1", channel=Channel.SMS, channel_account="+14155559999",
        recipient=Address(value="+14155550100"), author=Author(kind=AuthorKind.AGENT, id="a1"),
        text="looking into it")
    return [opened("c1", "cust-1"), first, added(first, conversation="c1", customer="cust-1"),
            added(second, conversation="c1", customer="cust-1"), second, reply,
            assignment("a1", "c1")]


class TestWriteBatch:
    async def test_the_same_events_twice_leave_the_same_rows(self, database_url: str) -> None:
        """Idempotency on event_id: a replay (in one batch or in the next) adds nothing."""
        events = [(slug(e), e) for e in conversation_events()]
        conn = await asyncpg.connect(database_url)
        try:
            assert await write_batch(conn, events) == len(events)
            once = await snapshot(conn)
            assert await write_batch(conn, events + events) == 0
            assert await snapshot(conn) == once
            assert len(once["messages"]) == 3
        finally:
            await conn.close()

    async def test_views_of_one_message_merge_whichever_arrives_first(
            self, database_url: str) -> None:
        """Inbound before or after its message_added: one row with conversation and sender."""
        conn = await asyncpg.connect(database_url)
        try:
            for event in conversation_events():
                await write_batch(conn, [(slug(event), event)])
            rows = await conn.fetch(
                "SELECT message_id, conversation_id, customer_id, sender, channel, text "
                "FROM messages ORDER BY created_at")
            assert [(r["conversation_id"], r["customer_id"]) for r in rows] == [("c1", "cust-1")] * 3
            assert {r["sender"] for r in rows if r["message_id"].startswith("twilio:")} == {
                "+14155550100", "whatsapp:+14155550100"}
            addresses = await conn.fetch("SELECT channel, address FROM customer_addresses")
            assert sorted(tuple(a.values()) for a in addresses) == [
                ("sms", "+14155550100"), ("whatsapp", "whatsapp:+14155550100")]
            holder = await conn.fetchrow("SELECT agent_id, state FROM conversation_assignments")
            assert tuple(holder.values()) == ("a1", "assigned")
        finally:
            await conn.close()

    async def test_a_late_release_of_an_old_holder_does_not_unassign_the_new_one(
            self, database_url: str) -> None:
        """Assignments are keyed by agent: a hand-over arriving out of order still ends right."""
        to_b = assignment("b", "c1", n=2)
        a_revoked = assignment("a", "c1", AssignmentKind.REVOKED, n=1)
        conn = await asyncpg.connect(database_url)
        try:
            await write_batch(conn, [("assignments", assignment("a", "c1"))])
            await write_batch(conn, [("assignments", to_b)])
            await write_batch(conn, [("assignments", a_revoked)])
            holder = await conn.fetchrow("SELECT agent_id, state FROM conversation_assignments")
            assert tuple(holder.values()) == ("b", "assigned")
        finally:
            await conn.close()

    async def test_delivery_statuses_apply_in_any_order(self, database_url: str) -> None:
        """A late 'delivered' never hides 'read': the highest rank is the message's state."""
        def status(state: DeliveryState, n: int) -> DeliveryStatus:
            return DeliveryStatus(event_id=f"st-{n}", outbound_event_id="out-1",
                                  channel=Channel.SMS, provider="twilio", state=state)
        conn = await asyncpg.connect(database_url)
        try:
            await write_batch(conn, [("delivery", status(DeliveryState.READ, 1)),
                                     ("delivery", status(DeliveryState.DELIVERED, 2))])
            state = await conn.fetchval(
                "SELECT state FROM delivery_statuses WHERE outbound_event_id = 'out-1' "
                "ORDER BY rank DESC LIMIT 1")
            assert state == "read"
        finally:
            await conn.close()

    async def test_a_conversation_patched_across_batches_merges_field_by_field(
            self, database_url: str) -> None:
        """A later batch keeps what it does not mention: status, agent, tags add up, pool stays."""
        from omniroute.contract import ConversationEvent, ConversationEventKind

        def event(n: int, kind: ConversationEventKind, **fields: object) -> ConversationEvent:
            return ConversationEvent(event_id=f"ev-{n}", occurred_at=T0 + timedelta(minutes=n),
                                     conversation_id="c9", customer_id="cust-9", kind=kind,
                                     **fields)  # type: ignore[arg-type]

        batches = [
            [opened("c9", "cust-9"), event(1, ConversationEventKind.TAGGED, tags=["vip"])],
            [event(2, ConversationEventKind.ASSIGNED, agent_id="a1", pool="support")],
            [event(3, ConversationEventKind.TAGGED, tags=["late", "vip"])],
            [event(4, ConversationEventKind.RESOLVED)],
        ]
        conn = await asyncpg.connect(database_url)
        try:
            for batch in batches:
                await write_batch(conn, [("conversations", e) for e in batch])
                row = await conn.fetchrow("SELECT * FROM conversations WHERE conversation_id='c9'")
                if batch is batches[2]:
                    assert (row["status"], row["agent_id"], row["pool"], sorted(row["tags"])) \
                        == ("open", "a1", "support", ["late", "vip"])
            assert (row["status"], row["agent_id"], row["resolved_at"], row["opened_at"]) == (
                "resolved", "a1", T0 + timedelta(minutes=4), T0)
            customer = await conn.fetchrow("SELECT * FROM customers WHERE customer_id='cust-9'")
            assert (customer["first_seen_at"], customer["last_seen_at"]) == (
                T0 + timedelta(minutes=1), T0 + timedelta(minutes=4))
        finally:
            await conn.close()

    async def test_the_customers_latest_channel_labels_the_conversation_across_batches(
            self, database_url: str) -> None:
        """User run 22: the router's `assigned` (naming the channel the work began on) came
        after the customer's WhatsApp message and relabelled the conversation "sms". Only the
        customer's messages set the channel; other events' only while a conversation has none."""
        from omniroute.contract import ConversationEvent, ConversationEventKind

        def routed(conversation: str, n: int) -> ConversationEvent:
            return ConversationEvent(
                event_id=f"assigned-{conversation}", occurred_at=T0 + timedelta(minutes=n),
                conversation_id=conversation, customer_id="cust-1", agent_id="a1",
                kind=ConversationEventKind.ASSIGNED, channel=Channel.SMS)

        wa = inbound(2, text="order 4711", channel=Channel.WHATSAPP,
                     sender="whatsapp:+14155550100")
        conn = await asyncpg.connect(database_url)
        try:
            await write_batch(conn, [("conversations", opened("c1", "cust-1")), ("inbound", wa),
                                     ("conversations", added(wa, conversation="c1",
                                                             customer="cust-1"))])
            await write_batch(conn, [("conversations", routed("c1", 3)),
                                     ("conversations", routed("c2", 3))])
            channels = dict(await conn.fetch(
                "SELECT conversation_id, channel FROM conversations ORDER BY 1"))
            # c2: history heard of it first from the router: its channel until a message
            assert channels == {"c1": "whatsapp", "c2": "sms"}
        finally:
            await conn.close()


async def test_an_upgrade_labels_stored_conversations_with_their_latest_inbound_channel(
        postgres_server_url: str) -> None:
    """Migration 0021 on a store written before it: a conversation labelled by the router's
    event takes its customer's latest channel, and analytics is told to count it again."""
    from omniroute.history.partitions import ensure_partitions
    from omniroute.infra.migrations import load_migrations, migrate

    name = f"t_upgrade_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(postgres_server_url)
    await admin.execute(f"CREATE DATABASE {name}")
    try:
        base, sep, query = postgres_server_url.partition("?")
        conn = await asyncpg.connect(f"{base.rsplit('/', 1)[0]}/{name}{sep}{query}")
        try:
            older = [m for m in load_migrations() if m.version < 21]
            await migrate(conn, older)
            await ensure_partitions(conn, [T0])
            await conn.execute(
                """INSERT INTO conversations (conversation_id, workspace, customer_id, channel,
                                              opened_at, updated_at)
                   VALUES ('c1', 'default', 'k1', 'sms', $1, $1),
                          ('c2', 'default', 'k2', 'email', $1, $1)""", T0)
            await conn.executemany(
                """INSERT INTO messages (message_id, created_at, workspace, conversation_id,
                                         direction, channel)
                   VALUES ($1, $2, 'default', 'c1', $3, $4)""",
                [("m1", T0, "inbound", "sms"), ("m2", T0 + timedelta(minutes=1), "inbound",
                                                 "whatsapp"),
                 ("m3", T0 + timedelta(minutes=2), "outbound", "email")])
            await conn.execute("DELETE FROM analytics_dirty")
            # a sink of the previous version, still running during the upgrade, keeps its
            # connection's codec of the patch type: it must still fit after the migration
            old_sink = "SELECT count(*) FROM unnest($1::conversation_patch[])"
            patch = ("c3", "default", "k3", None, "sms", None, None, T0, None, None, None,
                     None, None, T0, False)
            assert await conn.fetchval(old_sink, [patch]) == 1
            upto = [m for m in load_migrations() if m.version <= 21]
            assert await migrate(conn, upto) == ["0021_conversation_channel"]
            assert await conn.fetchval(old_sink, [patch]) == 1
            assert dict(await conn.fetch(
                "SELECT conversation_id, channel FROM conversations ORDER BY 1")) == {
                "c1": "whatsapp", "c2": "email"}  # c2 has no message to go by
            assert [r["id"] for r in await conn.fetch(
                "SELECT id FROM analytics_dirty WHERE subject = 'conversation'")] == ["c1"]
        finally:
            await conn.close()
    finally:
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await admin.close()
