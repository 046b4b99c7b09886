"""Incremental analytics on the real PostgreSQL, from a literal history to report figures."""

from __future__ import annotations

from datetime import timedelta

import asyncpg
import pytest

from integration.analytics.scenario import (
    EXPECTED,
    T,
    conv,
    insert_literal,
    reply,
    said,
    write_morning,
)
from integration.history.factories import added, inbound
from omniroute.analytics.compute import refresh
from omniroute.analytics.report import build_report, to_csv
from omniroute.bot.machine import THANKED
from omniroute.contract import Address, AuthorKind, Channel, ConversationEventKind
from omniroute.history.store import write_batch

NOW = T + timedelta(hours=2)


async def report(conn: asyncpg.Connection, by: list[str]) -> dict[str, object]:
    return await build_report(conn, T, T + timedelta(hours=1), by)


class TestRefresh:
    async def test_figures_match_the_hand_computed_morning(self, database_url: str) -> None:
        """Every KPI of the literal morning equals its hand-computed value."""
        conn = await asyncpg.connect(database_url)
        try:
            await write_morning(conn)
            result = await refresh(conn, NOW)
            assert (result.conversations, result.agents) == (3, 1)
            total = (await report(conn, []))["total"]
            assert isinstance(total, dict)
            for name, value in EXPECTED.items():
                assert total[name] == pytest.approx(value), name
        finally:
            await conn.close()

    async def test_grouping_by_channel_and_language(self, database_url: str) -> None:
        conn = await asyncpg.connect(database_url)
        try:
            await write_morning(conn)
            await refresh(conn, NOW)
            rows = (await report(conn, ["channel", "language"]))["rows"]
            assert isinstance(rows, list)
            found = {(r["channel"], r["language"]): r["conversations"] for r in rows}
            assert found[("webchat", "en")] == 2.0 and found[("sms", "ko")] == 1.0
            full = await report(conn, ["pool"])
            assert "conversations" in to_csv(full).splitlines()[0]
            heat = full["heatmap"]
            assert isinstance(heat, list) and heat[4][9] == 3.0  # Friday, 09:00-10:00
            funnel = full["funnel"]
            assert isinstance(funnel, dict)
            assert funnel["paths"] == {"inbound>human>resolved_human": 1.0,
                                       "inbound>abandoned": 1.0, "inbound>bot>resolved_bot": 1.0}
        finally:
            await conn.close()

    async def test_proactive_messages_sent_are_counted_apart_from_web_chat_prompts(
            self, database_url: str) -> None:
        """User run 45 sent four proactive messages (omniroute automation send) and the
        report said "Proactive messages sent: 0": it counted only the web chat's prompts.
        The messages the business started in the period (their prc_ rows, as the sink
        writes them) are counted; those outside it are not."""
        conn = await asyncpg.connect(database_url)
        try:
            await write_morning(conn)
            sent = [reply("x", s, AuthorKind.SYSTEM, channel=Channel.WHATSAPP).model_copy(
                update={"event_id": f"proactive.{n}", "conversation_id": f"prc_{n}",
                        "customer_id": None, "proactive": True})
                for n, s in enumerate((60, 1200, 3000, 3700))]  # the last after the hour
            # one sent into a conversation the caller named (it is in that conversation's
            # history, flagged proactive): counted too (it was not until 2026-12-07)
            sent.append(reply("c1", 1500, AuthorKind.SYSTEM).model_copy(
                update={"event_id": "proactive.into-c1", "proactive": True}))
            sent.append(reply("c1", 1600, AuthorKind.AGENT))  # an agent's reply: not proactive
            await write_batch(conn, [("outbound", m) for m in sent])
            await refresh(conn, NOW)
            funnel = (await report(conn, []))["funnel"]
            assert isinstance(funnel, dict)
            assert (funnel["proactive_messages"], funnel["proactive_prompts"]) == (4.0, 0.0)
        finally:
            await conn.close()

    async def test_a_conversation_answering_a_proactive_message_starts_at_proactive(
            self, database_url: str) -> None:
        """User run 45's answer to a WhatsApp template opened a conversation whose funnel
        path began at ``inbound``: a proactive message belongs to no conversation. One
        opened within a day after a proactive message to the customer's address starts at
        ``proactive``; a customer whose proactive message is older does not."""
        conn = await asyncpg.connect(database_url)
        try:
            await write_morning(conn)
            events: list[tuple[str, object]] = []
            for n, (cid, number, sent_s) in enumerate((("c5", "14155550177", 600),
                                                        ("c6", "14155550188", -25 * 3600)), 5):
                events.append(("outbound", reply("x", sent_s, AuthorKind.SYSTEM,
                                                 channel=Channel.WHATSAPP).model_copy(update={
                    "event_id": f"proactive.{cid}", "conversation_id": f"prc_{cid}",
                    "customer_id": None, "proactive": True,
                    "recipient": Address(value=number)})))
                message = inbound(n, text="Thanks! When will it arrive?", sender=number,
                                  channel=Channel.WHATSAPP, at=T + timedelta(minutes=10))
                events += [("conversations", conv(cid, ConversationEventKind.OPENED, 900,
                                                  channel=Channel.WHATSAPP, pool="support")),
                           ("inbound", message),
                           ("conversations", added(message, conversation=cid,
                                                   customer=f"cust-{cid}"))]
            await write_batch(conn, events)  # type: ignore[arg-type]
            await refresh(conn, NOW)
            paths = await conn.fetch(
                "SELECT subject, detail FROM analytics_samples WHERE metric = 'funnel' "
                "AND subject = ANY($1)", ["c5", "c6"])
            assert {r["subject"]: r["detail"] for r in paths} == {
                "c5": "proactive>open", "c6": "inbound>open"}
        finally:
            await conn.close()

    async def test_a_conversation_that_only_thanked_is_no_bot_resolution(
            self, database_url: str) -> None:
        """A customer opened a conversation only to say thanks and the bot closed it without
        a word (as the answer bot publishes it: ``bot_resolved`` with its reason). A user
        run's report counted it as resolved by the bot; the funnel now ends it in
        ``resolved_other`` and the bot resolution rate is the morning's alone."""
        conn = await asyncpg.connect(database_url)
        try:
            await write_morning(conn)
            await write_batch(conn, [
                ("conversations", conv("c4", ConversationEventKind.OPENED, 1500,
                                       channel=Channel.WEBCHAT)),
                ("conversations", said("c4", 1500)),
                ("conversations", conv("c4", ConversationEventKind.BOT_RESOLVED, 1501,
                                       reason=THANKED)),
                ("conversations", conv("c4", ConversationEventKind.RESOLVED, 1501))])
            await refresh(conn, NOW)
            full = await report(conn, [])
            total, funnel = full["total"], full["funnel"]
            assert isinstance(total, dict) and isinstance(funnel, dict)
            assert total["conversations"] == 4.0
            assert total["bot_resolution_rate"] == pytest.approx(1.0)
            assert funnel["paths"] == {
                "inbound>human>resolved_human": 1.0, "inbound>abandoned": 1.0,
                "inbound>bot>resolved_bot": 1.0, "inbound>resolved_other": 1.0}
        finally:
            await conn.close()

    async def test_an_acknowledged_conversation_is_not_the_bot_s(self, database_url: str) -> None:
        """Automation's acknowledgement is authored ``bot`` without an id. A user run's
        report put every acknowledged conversation through the bot and counted each resolved
        one against the bot resolution rate (0 % with the bot's one resolution)."""
        conn = await asyncpg.connect(database_url)
        try:
            await write_morning(conn)
            await write_batch(conn, [
                ("conversations", conv("c5", ConversationEventKind.OPENED, 1500,
                                       channel=Channel.WEBCHAT)),
                ("conversations", said("c5", 1500)),
                ("outbound", reply("c5", 1501, AuthorKind.BOT)),  # "Thanks for your message!"
                ("outbound", reply("c5", 1560, AuthorKind.AGENT, "a1")),
                ("conversations", conv("c5", ConversationEventKind.RESOLVED, 1600,
                                       agent_id="a1"))])
            await refresh(conn, NOW)
            full = await report(conn, [])
            total, funnel = full["total"], full["funnel"]
            assert isinstance(total, dict) and isinstance(funnel, dict)
            assert total["bot_resolution_rate"] == pytest.approx(1.0)  # c3's alone
            assert funnel["paths"]["inbound>human>resolved_human"] == 2.0
        finally:
            await conn.close()

    async def test_the_series_lists_every_bucket_of_the_period(self, database_url: str) -> None:
        """A week with one busy hour is 168 hourly buckets, not one bar the chart's width (a
        user run's report); an hour is four quarter-hours, empty ones with 0 conversations."""
        conn = await asyncpg.connect(database_url)
        try:
            await write_morning(conn)
            await refresh(conn, NOW)
            hour = (await report(conn, []))["series"]
            assert isinstance(hour, list)
            assert [s["at"] for s in hour] == [
                (T + timedelta(minutes=15 * i)).isoformat() for i in range(4)]
            assert [s["conversations"] for s in hour] == [2.0, 1.0, 0.0, 0.0]
            assert hour[3]["frt_median"] is None
            week = (await build_report(conn, T - timedelta(days=3), T + timedelta(days=4),
                                       []))["series"]
            assert isinstance(week, list) and len(week) == 7 * 24
            assert [s["conversations"] for s in week if s["conversations"]] == [3.0]
        finally:
            await conn.close()

    async def test_recomputes_only_what_changed(self, database_url: str) -> None:
        """A new conversation later: only it is recomputed; a run with no news touches nothing."""
        conn = await asyncpg.connect(database_url)
        try:
            await write_morning(conn)
            await refresh(conn, NOW)
            assert (await refresh(conn, NOW)).conversations == 0
            await write_batch(conn, [("conversations", said("c4", 2400))])
            await insert_literal(conn, [("lit-sla-c4", "c4", "sla_breached", 2410)])
            result = await refresh(conn, NOW)
            assert result.conversations == 1
            total = (await report(conn, []))["total"]
            assert isinstance(total, dict)
            assert total["conversations"] == 4.0
            assert total["sla_breach_rate"] == pytest.approx(2 / 4)
            samples = await conn.fetchval("SELECT count(*) FROM analytics_samples")
            assert samples == await conn.fetchval("SELECT sum(count) FROM analytics_intervals")
        finally:
            await conn.close()

    async def test_a_changed_conversation_replaces_its_samples(self, database_url: str) -> None:
        """c2 answered after all: its missed sample flips from 1 to 0, nothing doubles."""
        conn = await asyncpg.connect(database_url)
        try:
            await write_morning(conn)
            await refresh(conn, NOW)
            from integration.analytics.scenario import reply
            from omniroute.contract import AuthorKind
            await write_batch(conn, [("outbound", reply("c2", 500, AuthorKind.AGENT, "a1"))])
            await refresh(conn, NOW)
            total = (await report(conn, []))["total"]
            assert isinstance(total, dict)
            assert total["missed"] == 0.0 and total["conversations"] == 3.0
            assert total["frt_median"] == pytest.approx((65 + 200) / 2)
        finally:
            await conn.close()

    async def test_a_late_commit_with_a_lower_sequence_is_not_skipped(
            self, database_url: str) -> None:
        """Dirty rows numbered below the watermark (committed late) are still taken."""
        conn = await asyncpg.connect(database_url)
        try:
            await write_morning(conn)
            await refresh(conn, NOW)
            await write_batch(conn, [("conversations", said("c4", 2400))])
            await conn.execute("UPDATE analytics_dirty SET seq = -seq")
            assert (await refresh(conn, NOW)).conversations == 1
            total = (await report(conn, []))["total"]
            assert isinstance(total, dict) and total["conversations"] == 4.0
            assert await conn.fetchval("SELECT count(*) FROM analytics_dirty") == 0
        finally:
            await conn.close()

    async def test_erasing_a_customer_keeps_the_figures(self, database_url: str) -> None:
        """Erase deletes c1's messages; its FRT, CSAT and FCR stay in the report."""
        from omniroute.history.privacy import erase_customer

        conn = await asyncpg.connect(database_url)
        try:
            await write_morning(conn)
            await refresh(conn, NOW)
            await erase_customer(conn, "cust-c1", actor="test")
            assert await conn.fetchval("SELECT count(*) FROM messages "
                                       "WHERE conversation_id = 'c1'") == 0
            await refresh(conn, NOW)
            total = (await report(conn, []))["total"]
            assert isinstance(total, dict)
            for name in ("frt_median", "csat", "fcr_rate", "next_reply_mean"):
                assert total[name] == pytest.approx(EXPECTED[name]), name
        finally:
            await conn.close()
