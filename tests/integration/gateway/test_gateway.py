"""The gateway against the real Kafka broker and PostgreSQL: auth, 403s, events out, live offers."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import asyncpg
import pytest
from aiohttp import WSCloseCode, WSMsgType
from prometheus_client import REGISTRY

from harness.dbproxy import DatabaseProxy
from harness.kafka import consume, consume_all, produce
from harness.ports import free_port
from integration.history.factories import T0, added, assignment, inbound, opened
from omniroute.contract import (
    Address,
    AgentEvent,
    AssignmentKind,
    Attachment,
    AttachmentKind,
    Author,
    AuthorKind,
    Channel,
    ConversationEvent,
    ConversationEventKind,
    DeliveryState,
    DeliveryStatus,
    InboundMessage,
    Location,
    OutboundMessage,
    Rating,
    utcnow,
)
from omniroute.gateway.admin import create_token, set_canned_response
from omniroute.gateway.auth import Role
from omniroute.gateway.server import running_gateway
from omniroute.history.store import write_batch
from omniroute.infra.broker import LocalBroker
from omniroute.infra.probe import probe
from omniroute.settings import Settings
from omniroute_connectors.email.compose import compose_reply
from omniroute_connectors.email.normalize import EmailContext, Mailboxes, normalize_email
from omniroute_connectors.webchat.indicators import TYPING_TOPIC, TypingSignal

FIXTURES = Path(__file__).resolve().parents[4] / "shared" / "fixtures"


@dataclass
class Setup:
    url: str
    settings: Settings
    tokens: dict[str, str]
    http: aiohttp.ClientSession

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    async def call(self, method: str, path: str, who: str | None = None,
                   json: object = None) -> tuple[int, dict[str, object]]:
        async with self.http.request(method, f"{self.url}/api/v1{path}", json=json,
                                     headers=self.auth(who) if who else None) as response:
            return response.status, await response.json()


@pytest.fixture
async def gateway(topics: Settings, database_url: str) -> AsyncIterator[Setup]:
    """A gateway over a history with conversation c1 (sms then whatsapp) assigned to a1."""
    sms = inbound(1, text="parcel late")
    wa = inbound(2, text="still waiting", channel=Channel.WHATSAPP, sender="whatsapp:+14155550100")
    conn = await asyncpg.connect(database_url)
    try:
        await write_batch(conn, [
            ("conversations", opened("c1", "cust-1")), ("inbound", sms), ("inbound", wa),
            ("conversations", added(sms, conversation="c1", customer="cust-1")),
            ("conversations", added(wa, conversation="c1", customer="cust-1")),
            ("assignments", assignment("a1", "c1"))])
        tokens = {who: await create_token(conn, who, role) for who, role in
                  (("a1", Role.AGENT), ("a2", Role.AGENT), ("boss", Role.SUPERVISOR))}
        await set_canned_response(conn, "default", "thanks", "Thanks for waiting!")
    finally:
        await conn.close()
    async with running_gateway(topics, database_url, port=free_port()) as running, \
            aiohttp.ClientSession() as http:
        yield Setup(running.url, topics, tokens, http)


class TestAuthorization:
    async def test_missing_or_unknown_tokens_are_401(self, gateway: Setup) -> None:
        """No token, a malformed header and an unknown token are each refused with 401."""
        status, body = await gateway.call("GET", "/me")
        assert status == 401 and "missing bearer token" in body["error"]["message"]  # type: ignore[index]
        async with gateway.http.get(f"{gateway.url}/api/v1/me",
                                    headers={"Authorization": "Basic abc"}) as r:
            assert r.status == 401 and r.headers["WWW-Authenticate"] == "Bearer"
        gateway.tokens["ghost"] = "omr_nope"
        assert (await gateway.call("GET", "/me", "ghost"))[0] == 401

    async def test_an_agent_cannot_read_or_reply_to_another_agents_conversation(
            self, gateway: Setup) -> None:
        """a2 gets 403 on a1's conversation for reads and every write; nothing is published."""
        for method, path, body in (
                ("GET", "/conversations/c1", None),
                ("POST", "/conversations/c1/replies", {"text": "hi"}),
                ("POST", "/conversations/c1/notes", {"text": "x"}),
                ("POST", "/conversations/c1/resolve", {})):
            status, error = await gateway.call(method, path, "a2", body)
            assert status == 403, path
            assert error["error"]["message"] == "conversation 'c1' is not assigned to you"  # type: ignore[index]
        out = await consume(gateway.settings.kafka_bootstrap,
                            gateway.settings.topic("omniroute.outbound.v1"), 1, timeout=1)
        assert out == []

    async def test_an_offered_conversation_is_409_retry_until_the_assignment_arrives(
            self, gateway: Setup, database_url: str) -> None:
        """A reply sent right after accepting an offer (202) met a 403 in a user run: the
        router's assignment reaches history a moment later. While the offer to this agent is
        open the answer is 409 not_yet_assigned with Retry-After; once assigned, 202. Another
        agent, and an offer the router answered otherwise (rescinded), stay 403."""
        message = inbound(9, text="where is my parcel", sender="+14155550109")
        conn = await asyncpg.connect(database_url)
        try:
            await write_batch(conn, [
                ("conversations", opened("c9", "cust-9")), ("inbound", message),
                ("conversations", added(message, conversation="c9", customer="cust-9")),
                ("assignments", assignment("a2", "c9", AssignmentKind.OFFERED, offer="o9")),
                ("conversations", opened("c8", "cust-8")),
                ("assignments", assignment("a2", "c8", AssignmentKind.OFFERED, offer="o8")),
                ("assignments", assignment("a2", "c8", AssignmentKind.RESCINDED, n=1,
                                           offer="o8"))])
            async with gateway.http.post(f"{gateway.url}/api/v1/conversations/c9/replies",
                                         json={"text": "hello"},
                                         headers=gateway.auth("a2")) as early:
                error = (await early.json())["error"]
                assert (early.status, early.headers.get("Retry-After")) == (409, "1")
                assert error["code"] == "not_yet_assigned" and "retry" in error["message"]
            assert (await gateway.call("POST", "/conversations/c9/replies", "a1",
                                       {"text": "hi"}))[0] == 403
            assert (await gateway.call("POST", "/conversations/c8/replies", "a2",
                                       {"text": "hi"}))[0] == 403
            await write_batch(conn, [("assignments", assignment("a2", "c9", n=2, offer="o9"))])
        finally:
            await conn.close()
        assert (await gateway.call("POST", "/conversations/c9/replies", "a2",
                                   {"text": "hello"}))[0] == 202

    async def test_the_customers_survey_answers_are_in_the_conversation(
            self, gateway: Setup, database_url: str) -> None:
        """A user run's customer answered the survey "5" and then a comment: both end no
        conversation (a survey answer does not reopen it), so the agent and the supervisor
        saw nothing of them. The conversation's view now carries them, oldest first."""
        rating = Rating(score=5)
        comment = Rating(score=5, comment="Sam was great")
        conn = await asyncpg.connect(database_url)
        try:
            await write_batch(conn, [("conversations", ConversationEvent(
                event_id=f"rated-{n}", occurred_at=T0 + timedelta(minutes=30 + n),
                conversation_id="c1", customer_id="cust-1", kind=ConversationEventKind.RATED,
                rating=r)) for n, r in enumerate((rating, comment))])
        finally:
            await conn.close()
        for who in ("a1", "boss"):
            status, view = await gateway.call("GET", "/conversations/c1", who)
            assert status == 200
            assert [(r["score"], r["comment"]) for r in view["ratings"]] == [  # type: ignore[index,union-attr]
                (5, None), (5, "Sam was great")]

    async def test_the_conversation_says_who_held_it_and_who_transferred_it(
            self, gateway: Setup, database_url: str) -> None:
        """User run 42: bo was given a conversation jun had transferred to billing and saw
        nothing of jun or the transfer. The view's ``activity`` lists the router's events as
        it writes them (routing/wire.py: a transfer to a pool names no agent, the holder
        before it is the one who transferred, and the pool of the next offer is where it
        went; the events here name the pool it left, as the router wrote them before
        2026-12-07), oldest first, without message_added."""
        def routed(n: int, kind: ConversationEventKind, agent: str | None, pool: str,
                   reason: str) -> ConversationEvent:
            return ConversationEvent(
                event_id=f"conv:{pool}:{n}", occurred_at=T0 + timedelta(minutes=40 + n),
                conversation_id="c1", customer_id="cust-1", kind=kind, channel=Channel.SMS,
                agent_id=agent, pool=pool, reason=reason)
        conn = await asyncpg.connect(database_url)
        try:
            offer = assignment("a2", "c1", AssignmentKind.OFFERED, n=41, offer="o-41")
            await write_batch(conn, [("assignments", offer.model_copy(update={
                "pool": "billing", "occurred_at": T0 + timedelta(minutes=41, seconds=30)}))])
            await write_batch(conn, [("conversations", e) for e in (
                routed(0, ConversationEventKind.ASSIGNED, "a1", "support", "offer accepted"),
                routed(1, ConversationEventKind.TRANSFERRED, None, "support", "transferred"),
                routed(2, ConversationEventKind.ASSIGNED, "a2", "billing", "offer accepted"),
                routed(3, ConversationEventKind.RESOLVED, "a2", "billing", "resolved by agent"),
                routed(4, ConversationEventKind.REOPENED, None, "billing", "reopened"))])
        finally:
            await conn.close()
        status, view = await gateway.call("GET", "/conversations/c1", "boss")
        assert status == 200
        assert [(a["kind"], a["agent_id"], a["pool"], a["from_agent"], a["to_pool"])
                for a in view["activity"]] == [  # type: ignore[index,union-attr]
            ("assigned", "a1", "support", None, None),
            ("transferred", None, "support", "a1", "billing"),  # where it was offered next
            ("assigned", "a2", "billing", None, None),
            ("resolved", "a2", "billing", None, None),
            ("reopened", None, "billing", None, None)]

    async def test_a_reply_that_could_not_be_delivered_says_why(
            self, gateway: Setup, database_url: str) -> None:
        """A failed delivery showed only "failed": the agent could not tell a closed 24-hour
        window (send a template or tag) from a customer who blocked the page. The view
        carries the provider's reason as ``delivery_error``; delivered replies carry none."""
        def reply(n: int) -> OutboundMessage:
            return OutboundMessage(
                event_id=f"out-why-{n}", occurred_at=T0 + timedelta(minutes=40 + n),
                conversation_id="c1", customer_id="cust-1", channel=Channel.WHATSAPP,
                channel_account="1065550001", recipient=Address(value="14155550100"),
                author=Author(kind=AuthorKind.AGENT, id="a1"), text=f"reply {n}")

        def status(n: int, state: DeliveryState, **error: str) -> DeliveryStatus:
            return DeliveryStatus(event_id=f"st-why-{n}-{state}", outbound_event_id=f"out-why-{n}",
                                  conversation_id="c1", channel=Channel.WHATSAPP,
                                  provider="whatsapp_cloud", state=state, **error)

        why = "the customer has not written in 24 hours: a template is required"
        conn = await asyncpg.connect(database_url)
        try:
            await write_batch(conn, [
                ("outbound", reply(1)), ("outbound", reply(2)),
                ("delivery", status(1, DeliveryState.FAILED, error_code="outside_window",
                                    error_message=why)),
                ("delivery", status(2, DeliveryState.ACCEPTED)),
                ("delivery", status(2, DeliveryState.DELIVERED))])
        finally:
            await conn.close()
        status_code, view = await gateway.call("GET", "/conversations/c1", "a1")
        assert status_code == 200
        shown = {m["message_id"]: (m["delivery_state"], m["delivery_error"])
                 for m in view["messages"]}  # type: ignore[union-attr]
        assert shown["out-why-1"] == ("failed", why)
        assert shown["out-why-2"] == ("delivered", None)

    async def test_the_agent_s_list_says_what_was_said_last_and_who_waits(
            self, gateway: Setup, database_url: str) -> None:
        """A user run's agent list named only customers and conversation ids: an agent could
        not tell who waited for an answer. Each conversation carries its latest message,
        ``awaiting_reply`` (automatic replies do not answer, and are not shown as the latest
        message: a user run's list read "You: Thanks for your message!"; a person's reply
        does) and the SLA targets it missed."""
        async def listed() -> dict[str, object]:
            status, body = await gateway.call("GET", "/conversations", "a1")
            assert status == 200
            return {c["conversation_id"]: c for c in body["conversations"]}["c1"]  # type: ignore[index,union-attr,return-value]

        c1 = await listed()
        assert (c1["last_text"], c1["last_direction"], c1["awaiting_reply"],  # type: ignore[index]
                c1["sla_breached"]) == ("still waiting", "inbound", True, [])  # type: ignore[index]

        def sent(n: int, author: Author) -> OutboundMessage:
            return OutboundMessage(
                event_id=f"out-list-{n}", occurred_at=T0 + timedelta(minutes=50 + n),
                conversation_id="c1", customer_id="cust-1", channel=Channel.WHATSAPP,
                channel_account="1065550001", recipient=Address(value="14155550100"),
                author=author, text=f"answer {n}")

        breach = ConversationEvent(
            event_id="sla-list-c1", conversation_id="c1", customer_id="cust-1",
            kind=ConversationEventKind.SLA_BREACHED, occurred_at=T0 + timedelta(minutes=55),
            reason="first_reply target 300s passed: 310s (policy everyone)")
        conn = await asyncpg.connect(database_url)
        try:
            await write_batch(conn, [("outbound", sent(1, Author(kind=AuthorKind.BOT))),
                                     ("conversations", breach)])
            c1 = await listed()  # an acknowledgement answers nothing, and is not listed
            assert (c1["last_text"], c1["last_direction"], c1["awaiting_reply"],  # type: ignore[index]
                    c1["sla_breached"]) == ("still waiting", "inbound", True, ["first_reply"])  # type: ignore[index]
            await write_batch(conn, [("outbound", sent(2, Author(kind=AuthorKind.AGENT,
                                                                  id="a1")))])
        finally:
            await conn.close()
        c1 = await listed()
        assert (c1["last_text"], c1["last_author"], c1["awaiting_reply"]) == (  # type: ignore[index]
            "answer 2", "a1", False)

    async def test_the_holder_and_a_supervisor_read_the_unified_history(
            self, gateway: Setup) -> None:
        """a1 and the supervisor see both channels' messages; unknown ids are 404."""
        for who in ("a1", "boss"):
            status, view = await gateway.call("GET", "/conversations/c1", who)
            assert status == 200
            assert [(m["channel"], m["text"]) for m in view["messages"]] == [  # type: ignore[index,union-attr]
                ("sms", "parcel late"), ("whatsapp", "still waiting")]
        assert (await gateway.call("GET", "/conversations/nope", "a1"))[0] == 404
        status, listing = await gateway.call("GET", "/conversations", "a2")
        assert status == 200 and listing["conversations"] == []


class TestWrites:
    async def test_reply_goes_to_the_last_channel_unless_another_is_picked(
            self, gateway: Setup) -> None:
        """Default: WhatsApp (the latest inbound); channel=sms: the customer's SMS address."""
        assert (await gateway.call("POST", "/conversations/c1/replies", "a1",
                                   {"text": "on it"}))[0] == 202
        assert (await gateway.call("POST", "/conversations/c1/replies", "a1",
                                   {"text": "by sms", "channel": "sms"}))[0] == 202
        records = await consume(gateway.settings.kafka_bootstrap,
                                gateway.settings.topic("omniroute.outbound.v1"), 2)
        sent = [OutboundMessage.from_json_bytes(r.value) for r in records]
        assert [(m.channel, m.recipient.value, m.text) for m in sent] == [
            (Channel.WHATSAPP, "whatsapp:+14155550100", "on it"),
            (Channel.SMS, "+14155550100", "by sms")]
        assert all(m.author.id == "a1" and m.customer_id == "cust-1" for m in sent)

    async def test_a_reply_to_an_email_threads_under_the_customers_mail(
            self, gateway: Setup, database_url: str) -> None:
        """User run 2026-12-04: an agent's reply to a mail reached the customer as "Re: Your
        support request" with no In-Reply-To or References (a new thread in their mail
        client, away from their own mail). The reply now carries the mail's thread: what
        email-delivery composes from it answers the mail (a real Apple Mail reply, normalized
        as the SMTP server does), addressed to the sender by name. A reply on another channel
        of the customer's carries no thread. Fails without the gateway's thread."""
        mail = normalize_email(
            (FIXTURES / "email" / "chatwoot" / "references.eml").read_bytes(),
            EmailContext(envelope_recipients=("support@acme.test",),
                         mailboxes=Mailboxes.of("support@acme.test")))
        assert isinstance(mail, InboundMessage) and mail.thread is not None
        conn = await asyncpg.connect(database_url)
        try:
            await write_batch(conn, [
                ("conversations", opened("c7", "cust-7")), ("inbound", mail),
                ("conversations", added(mail, conversation="c7", customer="cust-7")),
                ("assignments", assignment("a1", "c7"))])
        finally:
            await conn.close()
        assert (await gateway.call("POST", "/conversations/c7/replies", "a1",
                                   {"text": "Here is what we found."}))[0] == 202
        assert (await gateway.call("POST", "/conversations/c1/replies", "a1",
                                   {"text": "by sms", "channel": "sms"}))[0] == 202
        records = await consume(gateway.settings.kafka_bootstrap,
                                gateway.settings.topic("omniroute.outbound.v1"), 2)
        by_conversation = {m.conversation_id: m for m in
                           (OutboundMessage.from_json_bytes(r.value) for r in records)}
        sent = compose_reply(by_conversation["c7"])
        assert sent["Subject"] == "Re: Discussion: Let's debate these attachments"
        assert sent["In-Reply-To"] == "<0CB459E0-0336-41DA-BC88-E6E28C697DDBF@chatwoot.com>"
        assert sent["References"] == ("<4e6e35f5a38b4_479f13bb90078178@small-app-01.mail> "
                                      "<test-in-reply-to> "
                                      "<0CB459E0-0336-41DA-BC88-E6E28C697DDBF@chatwoot.com>")
        assert sent["To"] == "Sony Mathew <sony@chatwoot.com>"
        assert sent["Reply-To"] == "support+c7@acme.test"
        assert by_conversation["c1"].thread is None

    async def test_a_reply_retried_with_its_client_id_reaches_the_customer_once(
            self, gateway: Setup, database_url: str) -> None:
        """The same client_id, sent four times at once and again later, is one OutboundMessage
        (delivery sends every record it reads); the retries are answered 202 with the same
        event id. The key with another text is 409, another agent's key is its own reply, and
        a claim left by a gateway that died before publishing is taken over by the retry."""
        reply = {"text": "on it", "client_id": "app-7"}
        answers = await asyncio.gather(*(
            gateway.http.post(f"{gateway.url}/api/v1/conversations/c1/replies", json=reply,
                              headers=gateway.auth("a1")) for _ in range(4)))
        statuses = sorted(a.status for a in answers)
        bodies = [await a.json() for a in answers]
        # one publishes; the others see it published (202, replayed) or in flight (409)
        assert statuses.count(202) >= 1 and set(statuses) <= {202, 409}, statuses
        ids = {b["event_id"] for a, b in zip(answers, bodies, strict=True) if a.status == 202}
        assert len(ids) == 1
        async with gateway.http.post(f"{gateway.url}/api/v1/conversations/c1/replies",
                                     json=reply, headers=gateway.auth("a1")) as again:
            assert again.status == 202 and again.headers["Idempotent-Replayed"] == "true"
            assert (await again.json())["event_id"] in ids
        status, body = await gateway.call("POST", "/conversations/c1/replies", "a1",
                                          {"text": "something else", "client_id": "app-7"})
        assert status == 409 and "different reply" in body["error"]["message"]  # type: ignore[index]
        assert (await gateway.call("POST", "/conversations/c1/replies", "boss",
                                   reply))[0] == 202  # the supervisor's own key
        conn = await asyncpg.connect(database_url)
        try:  # a gateway claimed "app-8" a minute ago and died before Kafka had the reply
            dead = {"text": "sorry for the wait", "client_id": "app-8"}
            from omniroute.gateway.commands import new_event_id
            from omniroute.gateway.idempotency import digest
            await conn.execute(
                "INSERT INTO gateway_reply_keys (event_id, digest, claimed_at)"
                " VALUES ($1, $2, now() - interval '1 minute')",
                new_event_id("reply", "app-8", "a1"), digest("c1", dead["text"], None))
        finally:
            await conn.close()
        assert (await gateway.call("POST", "/conversations/c1/replies", "a1", dead))[0] == 202
        records = await consume_all(gateway.settings.kafka_bootstrap,
                                    gateway.settings.topic("omniroute.outbound.v1"))
        sent = [OutboundMessage.from_json_bytes(r.value) for r in records]
        assert sorted((m.author.id, m.text) for m in sent) == [
            ("a1", "on it"), ("a1", "sorry for the wait"), ("boss", "on it")]

    async def test_a_note_retried_with_its_client_id_is_written_once(
            self, gateway: Setup) -> None:
        """A note with a client_id, sent twice (an app retrying after a 503 whose note Kafka
        had taken): one ConversationEvent; the retry answers 202 with the same event id; the
        key with another text is 409."""
        note = {"text": "called the courier", "client_id": "n-1"}
        first = await gateway.call("POST", "/conversations/c1/notes", "a1", note)
        again = await gateway.call("POST", "/conversations/c1/notes", "a1", note)
        assert first[0] == again[0] == 202
        assert first[1]["event_id"] == again[1]["event_id"]
        status, body = await gateway.call("POST", "/conversations/c1/notes", "a1",
                                          {"text": "something else", "client_id": "n-1"})
        assert status == 409 and "different note" in body["error"]["message"], body  # type: ignore[index]
        records = await consume_all(gateway.settings.kafka_bootstrap,
                                    gateway.settings.topic("omniroute.conversations.v1"))
        notes = [ConversationEvent.from_json_bytes(r.value) for r in records]
        assert [(n.kind, n.note) for n in notes] == [("note_added", "called the courier")]

    async def test_a_tagging_retried_with_its_client_id_is_written_once(
            self, gateway: Setup) -> None:
        """Tags with a client_id, sent twice (the console retrying after a 503 whose tagging
        Kafka had taken; history showed it twice): one ConversationEvent, the retry 202 with
        the same event id; the key with other tags is 409; the same tags again without a
        client_id are a new tagging."""
        tags = {"tags": ["refund", "vip"], "client_id": "t-1"}
        first = await gateway.call("POST", "/conversations/c1/tags", "a1", tags)
        again = await gateway.call("POST", "/conversations/c1/tags", "a1",
                                   {"tags": ["vip", "refund"], "client_id": "t-1"})
        assert first[0] == again[0] == 202
        assert first[1]["event_id"] == again[1]["event_id"]
        status, body = await gateway.call("POST", "/conversations/c1/tags", "a1",
                                          {"tags": ["other"], "client_id": "t-1"})
        assert status == 409 and "different tagging" in body["error"]["message"], body  # type: ignore[index]
        assert (await gateway.call("POST", "/conversations/c1/tags", "a1",
                                   {"tags": ["refund"]}))[0] == 202
        records = await consume_all(gateway.settings.kafka_bootstrap,
                                    gateway.settings.topic("omniroute.conversations.v1"))
        tagged = [ConversationEvent.from_json_bytes(r.value) for r in records]
        assert [(t.kind, t.tags) for t in tagged] == [
            ("tagged", ["refund", "vip"]), ("tagged", ["refund"])]

    async def test_a_proactive_message_retried_with_its_request_id_is_sent_once(
            self, gateway: Setup) -> None:
        """The same request_id, posted four times at once and again later, is one
        OutboundMessage (delivery sends every record it reads; a user run got the template
        twice): retries are 202 with the same ids, the id reused for another message is 409."""
        path = f"{gateway.url}/api/v1/automation/proactive"
        shipped = {"request_id": "ship-A-1", "channel": "whatsapp", "channel_account": "10655",
                   "recipient": "+821099990000", "template": {
                       "name": "order_shipped", "language": "ko", "parameters": ["A-1"]}}
        answers = await asyncio.gather(*(
            gateway.http.post(path, json=shipped, headers=gateway.auth("boss"))
            for _ in range(4)))
        statuses = sorted(a.status for a in answers)
        assert statuses.count(202) >= 1 and set(statuses) <= {202, 409}, statuses
        ids = {(await a.json())["event_id"] for a in answers if a.status == 202}
        assert len(ids) == 1
        async with gateway.http.post(path, json=shipped, headers=gateway.auth("boss")) as again:
            assert again.status == 202 and again.headers["Idempotent-Replayed"] == "true"
            assert (await again.json())["event_id"] in ids
        other = {**shipped, "template": {**shipped["template"], "parameters": ["B-2"]}}  # type: ignore[dict-item]
        async with gateway.http.post(path, json=other, headers=gateway.auth("boss")) as reused:
            assert reused.status == 409
            error = (await reused.json())["error"]
            assert error["code"] == "conflict" and "different message" in error["message"]
        records = await consume_all(gateway.settings.kafka_bootstrap,
                                    gateway.settings.topic("omniroute.outbound.v1"))
        sent = [OutboundMessage.from_json_bytes(r.value) for r in records]
        assert [(m.event_id, m.proactive, m.template.parameters if m.template else None)
                for m in sent] == [(ids.pop(), True, ["A-1"])]

    async def test_the_answer_to_a_proactive_message_is_read_with_it(
            self, gateway: Setup, database_url: str) -> None:
        """User run 45: a WhatsApp template went to Mia (order_shipped, ORD-9931) and her
        answer, "can I change the delivery day?", opened a conversation whose agent could not
        see what she answered: a proactive message is stored under its own prc_ id, and the
        template had no text in history. The conversation's view now has the proactive
        messages sent to the customer's addresses (the recipient "+1 415 555 0177" kept as
        WhatsApp names her, 14155550177), with the template; another customer's are not."""
        path = f"{gateway.url}/api/v1/automation/proactive"
        for request_id, recipient, name in (("ship-mia", "+1 415 555 0177", "Mia"),
                                            ("ship-ola", "+1 415 555 0999", "Ola")):
            async with gateway.http.post(path, headers=gateway.auth("boss"), json={
                    "request_id": request_id, "channel": "whatsapp", "channel_account": "10655",
                    "recipient": recipient, "template": {"name": "order_shipped",
                                                         "language": "en",
                                                         "parameters": [name, "ORD-9931"]}}) as r:
                assert r.status == 202, await r.text()
        records = await consume(gateway.settings.kafka_bootstrap,
                                gateway.settings.topic("omniroute.outbound.v1"), 2)
        sent = [OutboundMessage.from_json_bytes(r.value) for r in records]
        assert sorted(m.recipient.value for m in sent) == ["14155550177", "14155550999"]
        answer = inbound(7, text="can I change the delivery day?", channel=Channel.WHATSAPP,
                         sender="14155550177", at=utcnow())
        conn = await asyncpg.connect(database_url)
        try:  # as the sink writes them: the proactive messages, then her answer's conversation
            await write_batch(conn, [("outbound", m) for m in sent])
            await write_batch(conn, [
                ("conversations", opened("c9", "cust-9", at=utcnow())), ("inbound", answer),
                ("conversations", added(answer, conversation="c9", customer="cust-9"))])
        finally:
            await conn.close()
        status, view = await gateway.call("GET", "/conversations/c9", "boss")
        assert status == 200, view
        read = [(m["direction"], m["text"], m["content"]) for m in view["messages"]]  # type: ignore[index,union-attr]
        assert read == [
            ("outbound", None, {"author": {"kind": "system"}, "proactive": True, "template": {
                "name": "order_shipped", "language": "en", "parameters": ["Mia", "ORD-9931"]}}),
            ("inbound", "can I change the delivery day?", {})], read

    async def test_free_text_goes_only_within_the_customers_24_hours(
            self, gateway: Setup, database_url: str) -> None:
        """WhatsApp takes free text only within 24 hours of the customer's last message; the
        API reads it from the address history keeps (an index lookup, not a scan of every
        message by sender): an hour ago is sent, 25 hours ago is 422."""
        conn = await asyncpg.connect(database_url)
        try:
            for n, (number, hours) in enumerate((("821099990002", 1), ("821099990003", 25)), 8):
                said = inbound(n, text="hello", channel=Channel.WHATSAPP, sender=number,
                               at=utcnow() - timedelta(hours=hours, minutes=n))
                await write_batch(conn, [
                    ("inbound", said),
                    ("conversations", added(said, conversation=f"c{n}", customer=f"cust-{n}"))])
        finally:
            await conn.close()
        answers = [await gateway.call("POST", "/automation/proactive", "boss", {
            "request_id": f"text-{number}", "channel": "whatsapp", "channel_account": "10655",
            "recipient": number, "text": "your parcel left"})
            for number in ("+82 10-9999-0002", "+82 10-9999-0003")]
        assert [status for status, _ in answers] == [202, 422], answers

    async def test_automation_api_refusals_are_problems_counted_as_rejections(
            self, gateway: Setup) -> None:
        """The automation API answers like the rest of the gateway: a bad rule, a body that is
        not JSON or not {"rules": [...]}, free text outside WhatsApp's window and an agent's
        call each get the error document with its code, and each is counted in
        omniroute_rejections_total (the automation API returned its own responses, which the
        gateway's middleware never saw: none was counted)."""
        def rejected(reason: str) -> float:
            return REGISTRY.get_sample_value("omniroute_rejections_total",
                                             {"provider": "gateway", "reason": reason}) or 0.0

        reasons = ("bad_rule", "bad_request", "outside_window", "forbidden")
        before = {r: rejected(r) for r in reasons}
        answers = [
            await gateway.call("PUT", "/automation/rules/default", "boss",
                               {"rules": [{"name": "x", "when": {"nonsense": 1}}]}),
            await gateway.call("PUT", "/automation/rules/default", "boss", {"rules": "all"}),
            await gateway.call("POST", "/automation/proactive", "boss", {
                "request_id": "late-1", "channel": "whatsapp", "channel_account": "10655",
                "recipient": "+821099990001", "text": "your parcel left"}),
            await gateway.call("GET", "/automation/rules", "a1"),
        ]
        async with gateway.http.post(f"{gateway.url}/api/v1/automation/dry-run",
                                     data=b"{not json", headers=gateway.auth("boss")) as r:
            answers.append((r.status, await r.json()))
        assert [(status, body["error"]["code"]) for status, body in answers] == [  # type: ignore[index]
            (400, "bad_rule"), (400, "bad_request"), (422, "outside_window"),
            (403, "forbidden"), (400, "bad_request")]
        assert {r: rejected(r) - before[r] for r in reasons} == {
            "bad_rule": 1, "bad_request": 2, "outside_window": 1, "forbidden": 1}

    async def test_bad_bodies_are_400_with_the_problem_named(self, gateway: Setup) -> None:
        """Empty text, an unknown field and a bad presence each name the field."""
        status, body = await gateway.call("POST", "/conversations/c1/replies", "a1", {"text": ""})
        assert status == 400 and body["error"]["message"].startswith("text:")  # type: ignore[index]
        status, body = await gateway.call("POST", "/conversations/c1/replies", "a1",
                                          {"text": "x", "cc": "y"})
        assert status == 400 and "cc: Extra inputs" in body["error"]["message"]  # type: ignore[index]
        status, _ = await gateway.call("POST", "/presence", "a1", {"presence": "asleep"})
        assert status == 400

    async def test_notes_and_agent_actions_become_events(self, gateway: Setup) -> None:
        """A note is a ConversationEvent; presence and resolve are AgentEvents."""
        await gateway.call("POST", "/conversations/c1/notes", "a1", {"text": "VIP"})
        await gateway.call("POST", "/presence", "a1", {"presence": "available"})
        await gateway.call("POST", "/conversations/c1/resolve", "a1", {})
        notes = await consume(gateway.settings.kafka_bootstrap,
                              gateway.settings.topic("omniroute.conversations.v1"), 1)
        note = ConversationEvent.from_json_bytes(notes[0].value)
        assert (note.kind, note.note, note.customer_id) == ("note_added", "VIP", "cust-1")
        actions = await consume(gateway.settings.kafka_bootstrap,
                                gateway.settings.topic("omniroute.agent-events.v1"), 2)
        events = [AgentEvent.from_json_bytes(r.value) for r in actions]
        assert [(e.kind, e.agent_id) for e in events] == [("presence", "a1"), ("resolve", "a1")]


    async def test_typing_reaches_the_typing_topic_for_the_holder_only(
            self, gateway: Setup) -> None:
        """a1's typing state is a record on omniroute.internal.typing; a2 gets 403 and writes none."""
        assert (await gateway.call("POST", "/conversations/c1/typing", "a2",
                                   {"typing": True}))[0] == 403
        assert (await gateway.call("POST", "/conversations/c1/typing", "a1", {}))[0] == 400
        for state in (True, False):
            status, body = await gateway.call("POST", "/conversations/c1/typing", "a1",
                                              {"typing": state})
            assert (status, body) == (202, {"topic": TYPING_TOPIC, "typing": state})
        records = await consume_all(gateway.settings.kafka_bootstrap,
                                    gateway.settings.topic(TYPING_TOPIC))
        signals = [TypingSignal.from_json_bytes(r.value) for r in records]
        assert [(t.actor, t.agent_id, t.conversation_id, t.state) for t in signals] == [
            ("agent", "a1", "c1", True), ("agent", "a1", "c1", False)]
        assert records[0].key == b"c1"


    async def test_the_customer_sees_the_name_an_admin_gave_the_agent(
            self, gateway: Setup, database_url: str) -> None:
        """An agent's `name` in the live configuration is the author name of their replies
        and typing (a user run's widget said "Agent is typing…" and showed replies without a
        name); an agent without one is shown without a name."""
        conn = await asyncpg.connect(database_url)
        try:
            gateway.tokens["root"] = await create_token(conn, "root", Role.ADMIN)
        finally:
            await conn.close()
        assert (await gateway.call("PUT", "/admin/agents/a1", "root",
                                   {"pool": "default", "name": "Ada"}))[0] == 200
        assert (await gateway.call("PUT", "/admin/agents/a1", "root",
                                   {"pool": "default", "name": ""}))[0] == 400
        assert (await gateway.call("POST", "/conversations/c1/replies", "a1",
                                   {"text": "on it"}))[0] == 202
        assert (await gateway.call("POST", "/conversations/c1/typing", "a1",
                                   {"typing": True}))[0] == 202
        (sent,) = await consume(gateway.settings.kafka_bootstrap,
                                gateway.settings.topic("omniroute.outbound.v1"), 1)
        assert OutboundMessage.from_json_bytes(sent.value).author.name == "Ada"
        (typing,) = await consume(gateway.settings.kafka_bootstrap,
                                  gateway.settings.topic(TYPING_TOPIC), 1, timeout=5)
        signal = TypingSignal.from_json_bytes(typing.value)
        assert signal.agent_name == "Ada" and signal.visitor_frame()["author"] == "Ada"

    async def test_shared_metrics_count_what_was_published_first_replies_and_rejections(
            self, gateway: Setup) -> None:
        """MESSAGES out per topic/channel, END_TO_END first_reply once per conversation,
        REJECTIONS per 4xx reason; /metrics exports them."""
        def sample(name: str, **labels: str) -> float:
            return REGISTRY.get_sample_value(name, labels) or 0.0

        def snapshot() -> tuple[float, ...]:
            return (
                sample("omniroute_messages_total", component="gateway",
                       topic="omniroute.outbound.v1", channel="sms", direction="out"),
                sample("omniroute_end_to_end_seconds_count", milestone="first_reply",
                       channel="sms"),
                sample("omniroute_rejections_total", provider="gateway", reason="forbidden"),
                sample("omniroute_rejections_total", provider="gateway", reason="unauthorized"),
            )

        before = snapshot()
        assert (await gateway.call("POST", "/conversations/c1/replies", "a2", {"text": "x"}))[0] \
            == 403
        assert (await gateway.call("GET", "/me"))[0] == 401
        for text in ("first", "second"):
            status, _ = await gateway.call("POST", "/conversations/c1/replies", "a1",
                                           {"text": text, "channel": "sms"})
            assert status == 202
        assert [a - b for a, b in zip(snapshot(), before, strict=True)] == [2, 1, 1, 1]
        async with gateway.http.get(f"{gateway.url}/metrics") as r:
            exported = await r.text()
        assert 'omniroute_end_to_end_seconds_count{channel="sms",milestone="first_reply"}' \
            in exported
        assert "omniroute_gateway_events_published_total" not in exported


class TestMergedCustomers:
    async def test_agents_see_the_name_and_address_a_merged_visitor_gave(
            self, gateway: Setup, database_url: str) -> None:
        """A user run: a signed-in web chat visitor (name "Jo Kim" in the site's token,
        phone verified) wrote first, then texted from that phone. The first message
        opened the conversation under the visitor's own id, the link made the phone's
        customer its owner, and the visitor's name and address stayed on the merged-away
        id: the list, the offer, the board and the conversation showed a bare customer
        id, and the board filed the never-offered conversation under "(no pool)"."""
        visitor = InboundMessage(
            event_id="webchat:jo-1", occurred_at=T0, channel=Channel.WEBCHAT,
            provider="webchat", channel_account="acme.test",
            sender=Address(value="id:site-user-77", name="Jo Kim"),
            recipient=Address(value="acme.test"), provider_message_id="v:jo-1",
            text="my order 12345 has not arrived")
        sms = InboundMessage(
            event_id="twilio:SMjo2", occurred_at=T0 + timedelta(minutes=1), channel=Channel.SMS,
            provider="twilio", channel_account="+14155559999",
            sender=Address(value="+14155550177"), recipient=Address(value="+14155559999"),
            provider_message_id="SMjo2", text="any news on 12345?")
        conn = await asyncpg.connect(database_url)
        try:
            await write_batch(conn, [
                ("conversations", opened("c77", "cust-visitor")), ("inbound", visitor),
                ("conversations", added(visitor, conversation="c77", customer="cust-visitor")),
                ("inbound", sms),
                ("conversations", added(sms, conversation="c77", customer="cust-77"))])
        finally:
            await conn.close()
        status, body = await gateway.call("GET", "/conversations", "boss")
        [listed] = [c for c in body["conversations"]  # type: ignore[union-attr]
                    if c["conversation_id"] == "c77"]
        assert status == 200 and (listed["customer_id"], listed["customer_name"]) == (
            "cust-77", "Jo Kim")
        status, view = await gateway.call("GET", "/conversations/c77", "boss")
        assert view["customer"]["display_name"] == "Jo Kim"  # type: ignore[index]
        assert {(a["channel"], a["address"]) for a in view["addresses"]} == {  # type: ignore[union-attr]
            ("webchat", "id:site-user-77"), ("sms", "+14155550177")}
        status, board = await gateway.call("GET", "/board", "boss")
        [waiting] = [w for w in board["waiting"]  # type: ignore[union-attr]
                     if w["conversation_id"] == "c77"]
        assert (waiting["customer_name"], waiting["pool"]) == ("Jo Kim", "default")
        conn = await asyncpg.connect(database_url)
        try:
            await write_batch(conn, [
                ("assignments", assignment("a2", "c77", AssignmentKind.OFFERED, offer="o77"))])
        finally:
            await conn.close()
        status, body = await gateway.call("GET", "/offers", "a2")
        [offer] = [o for o in body["offers"] if o["offer_id"] == "o77"]  # type: ignore[union-attr]
        assert offer["customer_name"] == "Jo Kim"


    async def test_a_folded_conversations_messages_are_read_and_answered_in_the_kept_one(
            self, gateway: Setup, database_url: str) -> None:
        """A user run: Mia wrote on WhatsApp, then as a signed-in web chat visitor (phone
        verified). Identity folded the web chat conversation into the WhatsApp one, but the
        agent holding it saw only the WhatsApp message, the offer showed it too, and the
        reply went to WhatsApp while Mia waited in the web chat widget."""
        whatsapp = InboundMessage(
            event_id="whatsapp:mia-1", occurred_at=T0, channel=Channel.WHATSAPP,
            provider="meta", channel_account="1122334455667",
            sender=Address(value="14155550123"), recipient=Address(value="1122334455667"),
            provider_message_id="wamid.mia1", text="my delivery address changed")
        webchat = InboundMessage(
            event_id="webchat:mia-2", occurred_at=T0 + timedelta(minutes=1),
            channel=Channel.WEBCHAT, provider="webchat", channel_account="acme.test",
            sender=Address(value="id:cust-mia"), recipient=Address(value="acme.test"),
            provider_message_id="v:mia-2", text="order 7781 has not arrived")
        merged = ConversationEvent(
            event_id="merge-mia", occurred_at=T0 + timedelta(minutes=1, seconds=2),
            conversation_id="c61", customer_id="cust-60", kind=ConversationEventKind.MERGED,
            merged_into="c60", reason="customers merged")
        conn = await asyncpg.connect(database_url)
        try:
            await write_batch(conn, [
                ("conversations", opened("c60", "cust-60")), ("inbound", whatsapp),
                ("conversations", added(whatsapp, conversation="c60", customer="cust-60")),
                ("conversations", opened("c61", "cust-61", at=T0 + timedelta(minutes=1))),
                ("inbound", webchat),
                ("conversations", added(webchat, conversation="c61", customer="cust-61")),
                ("conversations", merged),
                ("assignments", assignment("a2", "c60", AssignmentKind.OFFERED, offer="o60"))])
        finally:
            await conn.close()
        status, body = await gateway.call("GET", "/offers", "a2")
        [offer] = [o for o in body["offers"] if o["offer_id"] == "o60"]  # type: ignore[union-attr]
        assert (offer["preview"], offer["customer_name"]) == (
            "order 7781 has not arrived", "+14155550123")
        conn = await asyncpg.connect(database_url)
        try:
            await write_batch(conn, [("assignments", assignment("a2", "c60", n=1))])
        finally:
            await conn.close()
        status, view = await gateway.call("GET", "/conversations/c60", "a2")
        assert status == 200
        assert [m["text"] for m in view["messages"]] == [  # type: ignore[union-attr]
            "my delivery address changed", "order 7781 has not arrived"]
        assert {a["channel"] for a in view["addresses"]} == {"whatsapp", "webchat"}  # type: ignore[union-attr]
        status, _ = await gateway.call("POST", "/conversations/c60/replies", "a2",
                                       {"text": "It arrives tomorrow."})
        assert status == 202
        [record] = await consume(gateway.settings.kafka_bootstrap,
                                 gateway.settings.topic("omniroute.outbound.v1"), 1)
        reply = OutboundMessage.from_json_bytes(record.value)
        assert (reply.channel, reply.recipient.value, reply.conversation_id) == (
            Channel.WEBCHAT, "id:cust-mia", "c60")


class TestLiveOffers:
    async def test_an_offer_names_the_customer_and_shows_their_latest_message(
            self, gateway: Setup, database_url: str) -> None:
        """A user run's agent accepted offers blind: an offer named only its conversation
        id. GET /offers (and the socket's snapshot) carries the customer's name and the
        start of their latest message; an offer in a conversation history has no message
        of yet shows neither, rather than failing."""
        first = inbound(41, text="my parcel is late", sender="+14155550141")
        latest = inbound(42, text="Order A-7781 still not here. " + "x" * 300,
                         sender="whatsapp:+14155550141", channel=Channel.WHATSAPP)
        conn = await asyncpg.connect(database_url)
        try:
            await write_batch(conn, [
                ("conversations", opened("c41", "cust-41")), ("inbound", first),
                ("inbound", latest),
                ("conversations", added(first, conversation="c41", customer="cust-41")),
                ("conversations", added(latest, conversation="c41", customer="cust-41")),
                ("assignments", assignment("a2", "c41", AssignmentKind.OFFERED, offer="o41")),
                ("assignments", assignment("a2", "c42", AssignmentKind.OFFERED, offer="o42"))])
        finally:
            await conn.close()
        status, body = await gateway.call("GET", "/offers", "a2")
        offers = {o["offer_id"]: o for o in body["offers"]}  # type: ignore[union-attr]
        assert status == 200
        assert (offers["o41"]["customer_name"], offers["o41"]["preview"]) == (
            "Ada Lovelace", latest.text[:200])
        # the customer's id too: a customer without a name (LINE, Kakao) is shown by it, as in
        # the agent's list and on the board (a user run's offer card showed the conversation id)
        assert offers["o41"]["customer_id"] == "cust-41"
        assert (offers["o42"]["customer_name"], offers["o42"]["preview"]) == (None, None)
        # and what they came with, when they said more since (user run 46: an offer after the
        # answer bot's hand-off showed only the visitor's "no"); nothing when it is the latest
        assert (offers["o41"]["opening"], offers["o42"]["opening"]) == ("my parcel is late", None)
        # the channel is the latest message's, where the reply goes: user run 23's card read
        # "WHATSAPP" (the channel the router routed the work on) over the customer's SMS
        assert [(offers[o]["channel"], offers[o]["routed_channel"]) for o in ("o41", "o42")] \
            == [("whatsapp", "sms"), ("sms", "sms")]
        ws_url = f"{gateway.url}/api/v1/stream?token={gateway.tokens['a2']}"
        async with gateway.http.ws_connect(ws_url) as ws:
            snapshot = await ws.receive_json(timeout=10)
        [shown] = [o for o in snapshot["offers"] if o["offer_id"] == "o41"]
        assert shown["preview"].startswith("Order A-7781 still not here.")
        assert shown["channel"] == "whatsapp"

    async def test_an_offer_whose_latest_message_is_a_photo_says_so(
            self, gateway: Setup, database_url: str) -> None:
        """A photo sent alone has no text: the offer lists what the latest message carried
        (``preview_attachments``) instead of an older text or nothing (a user run's MMS of a
        broken lamp offered with no words)."""
        words = inbound(44, text="the lamp arrived broken", sender="+14155550144")
        photo = inbound(45, text="-", sender="+14155550144").model_copy(update={
            "text": None, "attachments": [
                Attachment(kind=AttachmentKind.IMAGE, url="https://api.twilio.com/m/ME1"),
                Attachment(kind=AttachmentKind.FILE, media_id="m2")]})
        conn = await asyncpg.connect(database_url)
        try:
            await write_batch(conn, [
                ("conversations", opened("c44", "cust-44")), ("inbound", words),
                ("inbound", photo),
                ("conversations", added(words, conversation="c44", customer="cust-44")),
                ("conversations", added(photo, conversation="c44", customer="cust-44")),
                ("assignments", assignment("a2", "c44", AssignmentKind.OFFERED, offer="o44"))])
        finally:
            await conn.close()
        _, body = await gateway.call("GET", "/offers", "a2")
        [offer] = [o for o in body["offers"] if o["offer_id"] == "o44"]  # type: ignore[union-attr]
        assert (offer["preview"], offer["preview_attachments"], offer["preview_content"]) == (
            None, ["image", "file"], {})
        # a location sent alone: what it carried (a user run's offer of one had no words)
        place = inbound(46, text="-", sender="+14155550144").model_copy(update={
            "text": None, "location": Location(latitude=37.5665, longitude=126.978,
                                               name="Lotte Mart")})
        conn = await asyncpg.connect(database_url)
        try:
            await write_batch(conn, [
                ("inbound", place),
                ("conversations", added(place, conversation="c44", customer="cust-44"))])
        finally:
            await conn.close()
        _, body = await gateway.call("GET", "/offers", "a2")
        [offer] = [o for o in body["offers"] if o["offer_id"] == "o44"]  # type: ignore[union-attr]
        assert (offer["preview"], offer["preview_attachments"], offer["preview_content"]) == (
            None, [], {"location": {"latitude": 37.5665, "longitude": 126.978,
                                    "name": "Lotte Mart"}})

    async def test_an_offer_announced_again_after_a_router_stop_is_listed_with_its_new_deadline(
            self, gateway: Setup, database_url: str) -> None:
        """A user run's router came back from a 72 s stop and kept an offer open, but the
        deadline it had announced was past, so the agent's console never listed it. The
        router now announces it again (same offer id, the new deadline): GET /offers lists
        it once, with that deadline, and not at all once the router answers it."""
        now = datetime.now(UTC)
        announced = assignment("a2", "c91", AssignmentKind.OFFERED, offer="o91",
                               at=now - timedelta(minutes=7), expires=now - timedelta(seconds=30))
        again = assignment("a2", "c91", AssignmentKind.OFFERED, offer="o91", n=1,
                           at=now - timedelta(minutes=5, seconds=10),
                           expires=now + timedelta(seconds=40))
        twice = assignment("a2", "c92", AssignmentKind.OFFERED, offer="o92",
                           at=now - timedelta(minutes=6), expires=now + timedelta(seconds=20))
        twice_again = assignment("a2", "c92", AssignmentKind.OFFERED, offer="o92", n=1,
                                 at=now - timedelta(minutes=6),
                                 expires=now + timedelta(seconds=50))
        conn = await asyncpg.connect(database_url)
        try:
            await write_batch(conn, [("assignments", e)
                                     for e in (announced, again, twice, twice_again)])
        finally:
            await conn.close()
        status, body = await gateway.call("GET", "/offers", "a2")
        listed = [(o["offer_id"], o["expires_at"]) for o in body["offers"]  # type: ignore[union-attr]
                  if o["offer_id"] in ("o91", "o92")]
        assert status == 200 and sorted(listed) == [
            ("o91", again.expires_at.isoformat()),  # type: ignore[union-attr]
            ("o92", twice_again.expires_at.isoformat())]  # type: ignore[union-attr]
        conn = await asyncpg.connect(database_url)
        try:
            await write_batch(conn, [("assignments", assignment("a2", "c91", offer="o91", n=2,
                                                                at=now - timedelta(minutes=5)))])
        finally:
            await conn.close()
        status, body = await gateway.call("GET", "/offers", "a2")
        assert [o["offer_id"] for o in body["offers"]  # type: ignore[union-attr]
                if o["offer_id"] in ("o91", "o92")] == ["o92"]

    async def test_an_offer_arrives_on_the_agents_websocket_and_accept_is_published(
            self, gateway: Setup) -> None:
        """The router's offer reaches a1's socket; accepting it publishes an accept event."""
        ws_url = f"{gateway.url}/api/v1/stream?token={gateway.tokens['a1']}"
        async with gateway.http.ws_connect(ws_url) as ws:
            snapshot = await ws.receive_json(timeout=10)
            assert snapshot["type"] == "snapshot"
            assert [c["conversation_id"] for c in snapshot["conversations"]] == ["c1"]
            offer = assignment("a1", "c9", AssignmentKind.OFFERED, offer="o-9",
                               expires=utcnow() + timedelta(minutes=1), at=T0)
            await produce(gateway.settings.kafka_bootstrap,
                          gateway.settings.topic("omniroute.assignments.v1"),
                          [(b"a1", offer.to_json_bytes())])
            live = await ws.receive_json(timeout=20)
            assert live["event"]["offer_id"] == "o-9" and live["event"]["kind"] == "offered"
        status, _ = await gateway.call("POST", "/offers/o-9/accept", "a1",
                                       {"conversation_id": "c9"})
        assert status == 202
        records = await consume(gateway.settings.kafka_bootstrap,
                                gateway.settings.topic("omniroute.agent-events.v1"), 1)
        accept = AgentEvent.from_json_bytes(records[0].value)
        assert (accept.kind, accept.offer_id, accept.conversation_id) == ("accept", "o-9", "c9")

    async def test_a_stopping_gateway_closes_consoles_at_once(
            self, topics: Settings, database_url: str, gateway: Setup) -> None:
        """A stopping gateway closes agents' and supervisors' sockets with 1001 (going away)
        and exits: consoles reconnect at once. It used to wait for every console to leave
        (aiohttp's 60 s shutdown timeout), refusing every call meanwhile: 45 s with five
        consoles in user run 55."""
        ready, stop, stopped = asyncio.Event(), asyncio.Event(), asyncio.Event()

        async def serve(port: int) -> None:
            async with running_gateway(topics, database_url, port=port):
                ready.set()
                await stop.wait()
            stopped.set()

        port = free_port()
        server = asyncio.create_task(serve(port))
        try:
            url = f"http://127.0.0.1:{port}/api/v1/stream?token="
            await asyncio.wait_for(ready.wait(), 60)
            async with gateway.http.ws_connect(url + gateway.tokens["a1"]) as agent, \
                    gateway.http.ws_connect(url + gateway.tokens["boss"]) as boss:
                for ws in (agent, boss):
                    assert (await ws.receive_json(timeout=10))["type"] == "snapshot"
                stop.set()
                for ws in (agent, boss):
                    closing = await ws.receive(timeout=10)
                    assert closing.type is WSMsgType.CLOSE
                    assert closing.data == WSCloseCode.GOING_AWAY
                await asyncio.wait_for(stopped.wait(), 10)
        finally:
            stop.set()
            await server

    async def test_openapi_describes_every_api_route(self, gateway: Setup) -> None:
        """/openapi.json lists each /api/v1 route the application serves, and canned works."""
        async with gateway.http.get(f"{gateway.url}/openapi.json") as r:
            doc = await r.json()
        assert "/api/v1/conversations/{conversation_id}/replies" in doc["paths"]
        _, canned = await gateway.call("GET", "/canned-responses", "a2")
        assert canned == {"canned_responses": [{"shortcut": "thanks",
                                                "text": "Thanks for waiting!"}]}


@dataclass
class BehindProxy:
    """A gateway whose database connections go through a proxy the test can cut."""

    url: str
    proxy: DatabaseProxy
    http: aiohttp.ClientSession
    headers: dict[str, str]
    """An agent's (a1) authorization."""


@asynccontextmanager
async def gateway_behind_proxy(topics: Settings, database_url: str
                               ) -> AsyncIterator[BehindProxy]:
    conn = await asyncpg.connect(database_url)
    try:
        token = await create_token(conn, "a1", Role.AGENT)
    finally:
        await conn.close()
    proxy = DatabaseProxy(database_url)
    await proxy.start()
    try:
        async with running_gateway(topics, proxy.url, port=free_port()) as running, \
                aiohttp.ClientSession() as http:
            yield BehindProxy(running.url, proxy, http, {"Authorization": f"Bearer {token}"})
    finally:
        await proxy.stop()


async def test_calls_in_flight_when_the_database_dies_are_503_not_500(
        topics: Settings, database_url: str) -> None:
    """PostgreSQL goes away and comes back four times while eight agents' calls are in
    flight: each call answers 200, or 503 with ``Retry-After``, never a bare 500."""
    async with gateway_behind_proxy(topics, database_url) as gw:

        async def agent(n: int) -> list[tuple[int, str | None]]:
            answers = []
            for _ in range(40):
                async with gw.http.get(f"{gw.url}/api/v1/conversations",
                                       headers=gw.headers) as r:
                    answers.append((r.status, r.headers.get("Retry-After")))
                await asyncio.sleep(0.005 * n)
            return answers

        calls = [asyncio.create_task(agent(n)) for n in range(8)]
        for _ in range(4):
            await asyncio.sleep(0.15)
            await gw.proxy.cut()
            await asyncio.sleep(0.05)
            await gw.proxy.start()
        answers = [a for done in await asyncio.gather(*calls) for a in done]
        assert set(answers) <= {(200, None), (503, "5")}, sorted(set(answers))
        assert (503, "5") in answers, "the outage was seen"


async def test_a_database_outage_is_503_with_retry_after_and_then_passes(
        topics: Settings, database_url: str) -> None:
    """PostgreSQL goes away under a running gateway: every API call answers 503 with a JSON
    error and ``Retry-After`` (it was aiohttp's bare 500), and once the database is back the
    same calls succeed without a restart."""
    async with gateway_behind_proxy(topics, database_url) as gw:

        async def get(path: str) -> tuple[int, str | None, dict[str, object]]:
            async with gw.http.get(f"{gw.url}/api/v1{path}", headers=gw.headers) as r:
                return r.status, r.headers.get("Retry-After"), await r.json()

        assert (await get("/me"))[0] == 200
        await gw.proxy.cut()
        for path in ("/me", "/conversations", "/offers"):
            status, retry_after, body = await get(path)
            assert (status, retry_after) == (503, "5"), (path, body)
            assert body["error"]["code"] == "unavailable"  # type: ignore[index]
            assert "PostgreSQL" in body["error"]["message"]  # type: ignore[index]
        await gw.proxy.start()
        answers = []
        for _ in range(20):
            answers.append((await get("/me"))[0])
            if answers[-1] == 200:
                break
            await asyncio.sleep(0.5)
        assert answers[-1] == 200 and set(answers) <= {200, 503}, answers


async def test_a_hung_broker_is_503_within_the_publish_bound_and_then_passes(
        gateway: Setup, broker: LocalBroker | None) -> None:
    """The broker stops answering (SIGSTOP: a hung broker, a long GC pause, a partition)
    under a running gateway while an agent's app keeps calling: each call that publishes
    answers 202 or 503 while the broker is still hung, within
    ``OMNIROUTE_GATEWAY_PUBLISH_TIMEOUT`` (5 s; it used to wait for aiokafka's 40 s request
    timeout, longer than the 30 s after which a reply's idempotency claim may be taken over),
    with ``Retry-After`` like a database outage's (it had none). Once the broker answers again
    the same calls pass without a restart, and every call answered 202 is on its topic. (A
    killed broker: tests/integration/connectors/test_ingress_kafka.py, same producer.)"""
    pid = broker.pid() if broker is not None else None
    if pid is None:
        pytest.skip("an external broker cannot be stopped by the tests")

    async def presence(n: int) -> tuple[int, dict[str, object]]:  # every 100 ms, across the hang
        await asyncio.sleep(n * 0.1)
        return await gateway.call("POST", "/presence", "a1", {"presence": "available"})

    calls = [asyncio.create_task(presence(n)) for n in range(30)]
    await asyncio.sleep(0.5)
    os.kill(pid, signal.SIGSTOP)
    try:
        answers = await asyncio.wait_for(asyncio.gather(*calls), timeout=25)
        reply = {"text": "are you still there?", "client_id": "outage-1"}
        async with gateway.http.post(f"{gateway.url}/api/v1/conversations/c1/replies",
                                     json=reply, headers=gateway.auth("a1")) as r:
            body = await r.json()
            assert (r.status, r.headers.get("Retry-After")) == (503, "5"), body
            assert "Kafka" in body["error"]["message"], body
        # reads still answer: /me's presence needs the pools' policies from the live
        # configuration (a Kafka topic), and takes the last one read (or the built-in one)
        await asyncio.sleep(3.5)  # past the gateway's configuration cache
        started = asyncio.get_running_loop().time()
        status, me = await gateway.call("GET", "/me", "a1")
        assert (status, me["presence"]) == (200, "offline"), me  # no sink here: none stored
        assert asyncio.get_running_loop().time() - started < 10
    finally:
        os.kill(pid, signal.SIGCONT)
        await _until_registered(gateway.settings.kafka_bootstrap)
    assert {status for status, _ in answers} == {202, 503}, answers
    statuses, taken_reply = [], {}
    for _ in range(20):  # the app retries the reply with its client_id until it is taken
        status, taken_reply = await gateway.call("POST", "/conversations/c1/replies", "a1", reply)
        statuses.append(status)
        if status == 202:
            break
        await asyncio.sleep(1)
    assert statuses[-1] == 202, statuses
    taken = {str(body["event_id"]) for status, body in answers if status == 202}
    records = await consume(gateway.settings.kafka_bootstrap,
                            gateway.settings.topic("omniroute.agent-events.v1"), len(taken),
                            timeout=15, where=lambda r: b'"presence"' in r.value)
    assert taken <= {AgentEvent.from_json_bytes(r.value).event_id for r in records}
    sent = await consume(gateway.settings.kafka_bootstrap,
                         gateway.settings.topic("omniroute.outbound.v1"), 1, timeout=15)
    # The request the 503 gave up on may already have been in the hung broker's socket: the
    # broker writes it when it resumes, and the retry writes a second record. Both carry the
    # one event id the client_id gives, which history and delivery keep once.
    assert {(OutboundMessage.from_json_bytes(r.value).event_id,
             OutboundMessage.from_json_bytes(r.value).text) for r in sent} == {
        (taken_reply["event_id"], reply["text"])}


async def _until_registered(bootstrap: str, timeout: float = 30.0) -> None:
    """Wait until the resumed broker is in its own metadata again: a broker paused past its
    session is fenced for a moment, and the tests after this one share it."""
    deadline = asyncio.get_running_loop().time() + timeout
    while (await probe(bootstrap, timeout=10))[0] == 0:
        assert asyncio.get_running_loop().time() < deadline, "the resumed broker never registered"
        await asyncio.sleep(0.5)


class TestConsoleFiles:
    async def test_the_console_is_revalidated_on_every_load(self, gateway: Setup) -> None:
        """A user run's console ran the previous console.js after an upgrade: with no
        Cache-Control the browser reused it from its cache. The page and its scripts say
        no-cache, and an unchanged file costs a 304."""
        for path in ("/", "/console/console.js", "/console/i18n.js"):
            async with gateway.http.get(gateway.url + path) as response:
                assert response.status == 200, path
                assert response.headers["Cache-Control"] == "no-cache", path
                etag = response.headers.get("ETag")
            if etag:
                async with gateway.http.get(gateway.url + path,
                                            headers={"If-None-Match": etag}) as again:
                    assert again.status == 304, path
        async with gateway.http.get(f"{gateway.url}/console/console.js") as response:
            assert "system-note" in await response.text()
