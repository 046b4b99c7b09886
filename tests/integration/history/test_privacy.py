"""Export and erase against the real PostgreSQL, and the retention job."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg

from integration.history.factories import T0, added, inbound, opened
from omniroute.contract import (
    Address,
    Author,
    AuthorKind,
    Channel,
    ChannelAddress,
    ConversationEvent,
    ConversationEventKind,
    CustomerEvent,
    CustomerEventKind,
    DeliveryState,
    DeliveryStatus,
    IdentityLink,
    LinkAction,
    OutboundMessage,
    Rating,
)
from omniroute.gateway.queries import conversation_view
from omniroute.history.partitions import existing_partitions
from omniroute.history.privacy import (
    anonymize_again,
    erase_customer,
    export_customer,
    known_as,
)
from omniroute.history.retention import Policy, run_retention, set_policy
from omniroute.history.store import write_batch

SECRETS = ("my parcel is late", "order 4711 please", "we are on it", "vip customer, angry",
           "+14155550100", "whatsapp:+14155550100", "terrible service")


def customer_history() -> list[tuple[str, object]]:
    sms = inbound(1, text=SECRETS[0])
    wa = inbound(2, text=SECRETS[1], channel=Channel.WHATSAPP, sender=SECRETS[5])
    reply = OutboundMessage(
        event_id="out-1", occurred_at=T0 + timedelta(minutes=9), conversation_id="c1",
        customer_id="cust-1", channel=Channel.WHATSAPP, channel_account="+14155559999",
        recipient=Address(value=SECRETS[5]), author=Author(kind=AuthorKind.AGENT, id="a1"),
        text=SECRETS[2])
    note = ConversationEvent(event_id="note-1", conversation_id="c1", customer_id="cust-1",
                             kind=ConversationEventKind.NOTE_ADDED, note=SECRETS[3],
                             agent_id="a1", occurred_at=T0 + timedelta(minutes=10))
    rated = ConversationEvent(event_id="rate-1", conversation_id="c1", customer_id="cust-1",
                              kind=ConversationEventKind.RATED,
                              rating=Rating(score=2, comment=SECRETS[6]),
                              occurred_at=T0 + timedelta(minutes=11))
    link = IdentityLink(event_id="link-1", action=LinkAction.LINK, customer_hint="crm-9",
                        source="crm", addresses=[ChannelAddress(
                            channel=Channel.SMS, address=Address(value=SECRETS[4]))])
    status = DeliveryStatus(event_id="st-1", outbound_event_id="out-1", conversation_id="c1",
                            channel=Channel.WHATSAPP, provider="meta",
                            state=DeliveryState.DELIVERED, recipient=Address(value=SECRETS[5]))
    other = inbound(3, text="someone else entirely", sender="+14155550199")
    return [("conversations", opened("c1", "cust-1")), ("inbound", sms), ("inbound", wa),
            ("conversations", added(sms, conversation="c1", customer="cust-1")),
            ("conversations", added(wa, conversation="c1", customer="cust-1")),
            ("outbound", reply), ("conversations", note), ("conversations", rated),
            ("identity-links", link), ("delivery", status), ("inbound", other),
            ("conversations", added(other, conversation="c2", customer="cust-2"))]


async def occurrences(conn: asyncpg.Connection, needle: str) -> list[str]:
    """Every table.column whose text holds ``needle``."""
    columns = await conn.fetch(
        """SELECT c.table_name, c.column_name FROM information_schema.columns c
           JOIN information_schema.tables t USING (table_schema, table_name)
           WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE'
             AND c.data_type IN ('text', 'jsonb', 'ARRAY', 'character varying')""")
    found = []
    for col in columns:
        hit = await conn.fetchval(
            f'SELECT count(*) FROM "{col["table_name"]}" '
            f'WHERE "{col["column_name"]}"::text LIKE $1', f"%{needle}%")
        if hit:
            found.append(f"{col['table_name']}.{col['column_name']}")
    return found


class TestErase:
    async def test_erase_leaves_no_text_or_address_of_the_customer(
            self, database_url: str) -> None:
        """After erase no table holds the customer's texts or addresses; metrics remain."""
        conn = await asyncpg.connect(database_url)
        try:
            await write_batch(conn, customer_history())  # type: ignore[arg-type]
            assert await occurrences(conn, SECRETS[0])  # the scan does find what is there
            detail = await erase_customer(conn, "cust-1", actor="test")
            assert detail is not None
            for secret in SECRETS:
                assert await occurrences(conn, secret) == [], secret
            anonymous = detail["anonymous_id"]
            assert await conn.fetchval(
                "SELECT score FROM csat_ratings WHERE customer_id = $1", anonymous) == 2
            assert await conn.fetchval(
                "SELECT count(*) FROM conversations WHERE customer_id = $1", anonymous) == 1
            audit = await conn.fetchrow("SELECT actor, action, subject FROM audit_log")
            # the audit names the anonymous id, never the erased one (a keyed digest proves it)
            assert tuple(audit.values()) == ("test", "customer.erase", anonymous)
            assert await occurrences(conn, "cust-1") == []
            assert await occurrences(conn, "someone else entirely")  # others untouched
        finally:
            await conn.close()

    async def test_an_event_after_the_erase_does_not_name_the_customer_again(
            self, database_url: str) -> None:
        """The router lets go of an erased customer's conversation after the erase: its
        ``unassigned`` names the customer id the conversation had. The conversation keeps
        its anonymous id (the sink put the old one back until 2026-12-07), and so do the
        event's row and rating, and the customer row it filed goes, as the sink writes
        them: in user run 58 the worker's own end of the conversation reached the sink
        after the command's last sweep, and left the erased id on both rows."""
        conn = await asyncpg.connect(database_url)
        try:
            await write_batch(conn, customer_history())  # type: ignore[arg-type]
            detail = await erase_customer(conn, "cust-1", actor="test")
            assert detail is not None and detail["customer_ids"] == ["cust-1"]
            late = ConversationEvent(
                event_id="conv:support:77", conversation_id="c1", customer_id="cust-1",
                kind=ConversationEventKind.UNASSIGNED, agent_id="a1", pool="support",
                reason="customer erased", occurred_at=T0 + timedelta(minutes=30))
            rated = ConversationEvent(  # a survey answer in flight, another late event
                event_id="late-rate", conversation_id="c1", customer_id="cust-1",
                kind=ConversationEventKind.RATED, rating=Rating(score=4),
                occurred_at=T0 + timedelta(minutes=31))
            await write_batch(conn, [("conversations", late),  # type: ignore[list-item]
                                     ("conversations", rated)])
            anonymous = detail["anonymous_id"]
            assert await conn.fetchval(
                "SELECT customer_id FROM conversations WHERE conversation_id = 'c1'") \
                == anonymous
            assert await occurrences(conn, "cust-1") == []
            assert await conn.fetchval("SELECT count(*) FROM conversation_events "
                                       "WHERE customer_id = $1", anonymous) >= 2
            assert await anonymize_again(conn, detail["customer_ids"], anonymous) == 0
            assert await occurrences(conn, "someone else entirely")  # others untouched
        finally:
            await conn.close()

    async def test_erase_takes_the_ids_merged_into_the_customer(self, database_url: str) -> None:
        """A verified web chat visitor's first message opened a conversation under the
        visitor's own id; the link then merged it into cust-1, whose SMS came next. History
        keeps the visitor's id on that message, its events and its customer and address
        rows. Erasing cust-1 (the id agents and the DPO see) erases those too; a customer
        who wrote in the conversation but owns one of their own is left alone."""
        visitor = inbound(4, text="VISITOR-SECRET my order", channel=Channel.WEBCHAT,
                          sender="id:site-user-77")
        sms = inbound(5, text="SMS-SECRET any news?")
        theirs = inbound(6, text="NEIGHBOUR-TEXT hello", sender="+14155550177")
        conn = await asyncpg.connect(database_url)
        try:
            await write_batch(conn, [  # type: ignore[arg-type]
                ("conversations", opened("c9", "cust-visitor")), ("inbound", visitor),
                ("conversations", added(visitor, conversation="c9", customer="cust-visitor")),
                ("inbound", theirs),  # (an unlink would split cust-3 off this way)
                ("conversations", added(theirs, conversation="c9", customer="cust-3")),
                ("conversations", opened("c10", "cust-3")),
                ("inbound", sms),
                ("conversations", added(sms, conversation="c9", customer="cust-1")),
            ])
            assert await conn.fetchval(
                "SELECT customer_id FROM conversations WHERE conversation_id = 'c9'") == "cust-1"
            exported = await export_customer(conn, "cust-1")
            assert exported is not None and exported["merged_ids"] == ["cust-visitor"]
            assert "id:site-user-77" in {a["address"] for a in exported["addresses"]}
            detail = await erase_customer(conn, "cust-1", actor="test")
            assert detail is not None and detail["merged_ids"] == 1
            for needle in ("VISITOR-SECRET", "SMS-SECRET", "id:site-user-77", "cust-visitor",
                           "cust-1"):
                assert await occurrences(conn, needle) == [], needle
            assert await conn.fetchval(  # cust-3 has a conversation of their own: kept
                "SELECT count(*) FROM customer_addresses WHERE customer_id = 'cust-3'") == 1
        finally:
            await conn.close()

    async def test_erase_takes_every_conversation_of_an_id_merged_into_the_customer(
            self, database_url: str) -> None:
        """cust-b wrote twice, a day apart (two conversations of its own); a CRM link then
        merged cust-b into cust-a, and its open conversation went over to cust-a. Before
        identity announced merges (omniroute.customers.v1), history found cust-b only
        through that conversation, and owning another, cust-b was not cust-a's: erasing
        cust-a left cust-b's first conversation, its messages and address, and the agent
        of cust-a did not see it among the past conversations."""
        later = T0 + timedelta(days=1)
        first = inbound(21, text="FIRST-SECRET where is my parcel", sender="+14155550122")
        second = inbound(22, text="SECOND-SECRET still nothing", sender="+14155550122",
                         at=later)
        mine = inbound(23, text="A-SECRET my other account", sender="+14155550133", at=later)
        merge = CustomerEvent(event_id="link-7.customer-merged.cust-b", customer_id="cust-b",
                              kind=CustomerEventKind.MERGED, merged_into="cust-a",
                              occurred_at=later + timedelta(hours=1))
        conn = await asyncpg.connect(database_url)
        pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
        try:
            await write_batch(conn, [  # type: ignore[arg-type]
                ("conversations", opened("cb1", "cust-b")), ("inbound", first),
                ("conversations", added(first, conversation="cb1", customer="cust-b")),
                ("conversations", opened("cb2", "cust-b", at=later)), ("inbound", second),
                ("conversations", added(second, conversation="cb2", customer="cust-b")),
                ("conversations", opened("ca1", "cust-a", at=later)), ("inbound", mine),
                ("conversations", added(mine, conversation="ca1", customer="cust-a")),
            ])
            folded = ConversationEvent(  # cb2 was open: the merge folded it into ca1
                event_id="link-7.merged.cb2", conversation_id="cb2", customer_id="cust-a",
                kind=ConversationEventKind.MERGED, merged_into="ca1",
                occurred_at=later + timedelta(hours=1))
            await write_batch(conn, [("customers", merge),  # type: ignore[list-item]
                                     ("conversations", folded)])
            view = await conversation_view(pool, "ca1")  # cb2 is part of this one now
            assert {c["conversation_id"] for c in view["past_conversations"]} == {"cb1"}
            assert {a["address"] for a in view["addresses"]} == {
                "+14155550122", "+14155550133"}
            exported = await export_customer(conn, "cust-a")
            assert exported is not None and exported["merged_ids"] == ["cust-b"]
            assert {c["conversation_id"] for c in exported["conversations"]} == {
                "ca1", "cb1", "cb2"}
            detail = await erase_customer(conn, "cust-a", actor="test")
            assert detail is not None and detail["customer_ids"] == ["cust-a", "cust-b"]
            for needle in ("FIRST-SECRET", "SECOND-SECRET", "A-SECRET", "+14155550122",
                           "cust-b", "cust-a"):
                assert await occurrences(conn, needle) == [], needle
        finally:
            await pool.close()
            await conn.close()

    async def test_an_unlink_announced_keeps_the_other_person_out_of_the_erase(
            self, database_url: str) -> None:
        """The link was wrong: the unlink made cust-b its own customer again. cust-b wrote
        into cust-a's conversation while they were one (its message stayed there), and owns
        no conversation of its own: history used to count such an id as merged into
        cust-a. Erasing cust-a now leaves cust-b's customer and address rows."""
        theirs = inbound(31, text="B-TEXT hello", sender="+14155550144")
        at = T0 + timedelta(hours=2)
        conn = await asyncpg.connect(database_url)
        try:
            await write_batch(conn, [  # type: ignore[arg-type]
                ("conversations", opened("ca2", "cust-a")), ("inbound", theirs),
                ("conversations", added(theirs, conversation="ca2", customer="cust-b")),
                ("customers", CustomerEvent(
                    event_id="link-8.customer-merged.cust-b", customer_id="cust-b",
                    kind=CustomerEventKind.MERGED, merged_into="cust-a", occurred_at=at)),
            ])
            assert await known_as(conn, "cust-a") == ["cust-a", "cust-b"]
            await write_batch(conn, [("customers", CustomerEvent(  # type: ignore[list-item]
                event_id="unlink-8.customer-unmerged.cust-b", customer_id="cust-b",
                kind=CustomerEventKind.UNMERGED, occurred_at=at + timedelta(minutes=1)))])
            assert await known_as(conn, "cust-a") == ["cust-a"]
            await erase_customer(conn, "cust-a", actor="test")
            assert await conn.fetchval(
                "SELECT count(*) FROM customer_addresses WHERE customer_id = 'cust-b'") == 1
        finally:
            await conn.close()

    async def test_the_latest_announcement_wins_in_any_batch(self, database_url: str) -> None:
        """Merged, unmerged and merged again into another customer, in one batch and then
        one at a time with an older one replayed last: the row says the latest."""
        at = T0 + timedelta(hours=3)
        events = [CustomerEvent(event_id=f"e{n}", customer_id="cust-b", kind=kind,
                                merged_into=into, occurred_at=at + timedelta(minutes=n))
                  for n, (kind, into) in enumerate([
                      (CustomerEventKind.MERGED, "cust-a"), (CustomerEventKind.UNMERGED, None),
                      (CustomerEventKind.MERGED, "cust-c")])]
        conn = await asyncpg.connect(database_url)
        try:
            await write_batch(conn, [("customers", e) for e in events])  # type: ignore[misc]
            assert await conn.fetchval(
                "SELECT merged_into FROM customer_merges WHERE customer_id = 'cust-b'") \
                == "cust-c"
            await conn.execute("DELETE FROM customer_merges")
            for event in (events[0], events[2], events[1]):
                await write_batch(conn, [("customers", event.model_copy(  # type: ignore[list-item]
                    update={"event_id": f"again-{event.event_id}"}))])
            assert await conn.fetchval(
                "SELECT merged_into FROM customer_merges WHERE customer_id = 'cust-b'") \
                == "cust-c"
        finally:
            await conn.close()

    async def test_export_holds_messages_from_every_channel(self, database_url: str) -> None:
        """The export is everything held: both channels' messages, the reply, the note."""
        conn = await asyncpg.connect(database_url)
        try:
            await write_batch(conn, customer_history())  # type: ignore[arg-type]
            data = await export_customer(conn, "cust-1")
            assert data is not None
            assert [m["text"] for m in data["messages"]] == [SECRETS[0], SECRETS[1], SECRETS[2]]
            assert {a["channel"] for a in data["addresses"]} == {"sms", "whatsapp"}
            assert [n["note"] for n in data["notes"]] == [SECRETS[3]]
            assert len(data["identity_links"]) == 1
            assert await export_customer(conn, "nobody") is None
        finally:
            await conn.close()


class TestRetention:
    async def test_old_partitions_drop_and_shorter_policies_delete_rows(
            self, database_url: str) -> None:
        """Whole days past 31 days go; an sms policy of 5 days removes older sms only."""
        now = datetime(2026, 11, 22, 12, tzinfo=UTC)
        old = inbound(1, text="old", at=now - timedelta(days=40))
        week_sms = inbound(2, text="sms week", at=now - timedelta(days=7))
        week_wa = inbound(3, text="wa week", channel=Channel.WHATSAPP, sender="wa:1",
                          at=now - timedelta(days=7))
        conn = await asyncpg.connect(database_url)
        try:
            await write_batch(conn, [("inbound", old), ("inbound", week_sms),
                                     ("inbound", week_wa)])
            await set_policy(conn, Policy("default", "sms", 5))
            report = await run_retention(conn, now=now)
            assert report.dropped == ["messages_p20261013"]
            texts = {r["text"] for r in await conn.fetch("SELECT text FROM messages")}
            assert texts == {"wa week"}
            assert "messages_p20261125" in await existing_partitions(conn)  # created ahead
        finally:
            await conn.close()
