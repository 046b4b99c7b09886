"""Identity and threading through the real broker, with worker processes.

The module shares one pipeline (two ``omniroute worker`` processes, one topic
namespace); each test uses its own workspace so their customers never meet.
Merges are eventually consistent, so link tests re-send until the addresses
agree (or a minute passes) and then assert on where every message ended up.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
from aiokafka.partitioner import DefaultPartitioner

from harness.kafka import consume
from omniroute.contract import (
    Address,
    AgentEvent,
    Channel,
    ChannelAddress,
    ConversationEvent,
    IdentityLink,
    LinkAction,
    OutboundMessage,
    VerifiedIdentity,
)
from omniroute.contract.topics import AGENT_EVENTS
from omniroute.identity.customers import customer_id_for
from omniroute.routing.statsfeed import STATS_TOPIC

from .conftest import samples

CRM_PHONE = "+14155550123"
CRM_EMAIL = "pat@example.org"


def crm(action: LinkAction, ws: str, event_id: str) -> IdentityLink:
    """A CRM claim that the phone and the email are one person."""
    return IdentityLink(
        event_id=event_id, workspace=ws, action=action, customer_hint="crm-42", source="crm",
        addresses=[ChannelAddress(channel=Channel.SMS, address=Address(value=CRM_PHONE)),
                   ChannelAddress(channel=Channel.EMAIL, address=Address(value=CRM_EMAIL))],
    )


async def until_joined(pipeline: Any, make: Any, ws: str, senders: list[tuple[Channel, str]],
                       joined: bool, attempts: int = 8, **extra: Any) -> Any:
    """Send one message per sender until their customers agree (``joined``) or differ."""
    thread = None
    for _ in range(attempts):
        messages = [make(ws, channel, sender, **extra) for channel, sender in senders]
        await pipeline.send(*messages)
        thread = await pipeline.thread_of(ws, *messages)
        if (len(set(thread.message_customers.values())) == 1) == joined:
            return thread
    return thread


class TestPhones:
    """The same phone on SMS and WhatsApp is one customer with one conversation."""

    async def test_sms_and_whatsapp_wa_id_are_one_customer_and_conversation(
        self, pipeline: Any, make_inbound: Any
    ) -> None:
        """+82 10-1234-5678 on SMS and wa_id 821012345678 on WhatsApp."""
        ws = "phones"
        await pipeline.send(make_inbound(ws, Channel.SMS, "+82 10-1234-5678"))
        await pipeline.send(make_inbound(ws, Channel.WHATSAPP, "821012345678"))
        added = await pipeline.events(ws, 2, kind="message_added", timeout=120)
        assert len(added) == 2
        assert len({e.customer_id for e in added}) == 1
        assert len({e.conversation_id for e in added}) == 1
        assert {e.channel for e in added} == {Channel.SMS, Channel.WHATSAPP}
        opened = await pipeline.events(ws, 1, kind="opened")
        assert len(opened) == 1


class TestDeduplication:
    """A provider retry produces exactly one message downstream."""

    async def test_three_deliveries_of_one_message_give_one_message(
        self, pipeline: Any, make_inbound: Any
    ) -> None:
        """The same event id three times, then a sentinel from the same sender."""
        ws = "dedupe"
        retry = make_inbound(ws, Channel.WHATSAPP, "821099990000", event_id="wamid.RETRY1")
        sentinel = make_inbound(ws, Channel.WHATSAPP, "821099990000", event_id="wamid.AFTER")
        await pipeline.send(retry, retry, retry, sentinel)
        added = await pipeline.events(ws, 2, kind="message_added")
        ids = [e.message.source_event_id for e in added]
        assert sorted(ids) == ["wamid.AFTER", "wamid.RETRY1"]


class TestPoison:
    """Bad input goes to the dead-letter topic and the worker keeps going."""

    async def test_undecodable_and_invalid_records_are_dead_lettered(
        self, pipeline: Any, make_inbound: Any
    ) -> None:
        """Garbage bytes and a schema violation each get a dead letter with the reason."""
        await pipeline.raw("omniroute.inbound.v1", b"sms:x", b"\xff\xfe not json")
        await pipeline.raw("omniroute.inbound.v1", b"sms:y", b'{"event_id": "e", "channel": "fax"}')
        await pipeline.raw("omniroute.identity-links.v1", b"crm-1", b'{"action": "merge"}')
        letters = await pipeline.dead_letters(3)
        assert sorted(letter.processor for letter in letters) == [
            "identity.inbound", "identity.inbound", "identity.links"]
        assert all(letter.error and letter.error_type == "ValidationError" for letter in letters)
        assert {letter.original_b64 for letter in letters} >= {"//4gbm90IGpzb24="}
        texts = await pipeline.metrics()
        assert samples(texts, "omniroute_dead_letters_total", processor="identity.inbound",
                       reason="ValidationError") == 2
        assert samples(texts, "omniroute_messages_total", component="worker",
                       topic="omniroute.dlq.v1", channel="none", direction="out") == 3
        ws = "poison"
        await pipeline.send(make_inbound(ws, Channel.SMS, "+14155550999"))
        assert len(await pipeline.events(ws, 1, kind="message_added")) == 1


class TestVerifiedWebchat:
    """Verified web-chat identities merge; typed claims do not."""

    async def test_verified_identity_email_and_email_message_are_one_customer(
        self, pipeline: Any, make_inbound: Any
    ) -> None:
        """A verified visitor carrying jane@example.com and an email from Jane."""
        ws = "verified"
        identity = VerifiedIdentity(identifier="user-1", email="Jane@Example.com")
        chat = make_inbound(ws, Channel.WEBCHAT, "visitor-1", account="site",
                            verified_identity=identity)
        await pipeline.send(chat)
        thread = await until_joined(pipeline, make_inbound, ws,
                                    [(Channel.EMAIL, "Jane Doe <jane@example.com>")], True)
        chatted = await pipeline.thread_of(ws, chat)
        assert len(thread.conversations | chatted.conversations) == 1
        assert len(thread.customers | chatted.customers) == 1

    async def test_unauthenticated_mail_from_a_verified_email_stays_apart(
        self, pipeline: Any, make_inbound: Any
    ) -> None:
        """A mail from a verified visitor's email that fails SPF/DKIM/DMARC (or carries no
        verdict) opens its own customer and conversation; the authenticated one joins."""
        ws = "forged"
        identity = VerifiedIdentity(identifier="user-9", email="lee@example.com")
        chat = make_inbound(ws, Channel.WEBCHAT, "visitor-9", account="site",
                            verified_identity=identity)
        await pipeline.send(chat)
        for _ in range(8):  # until the verified claim is applied
            authentic = make_inbound(ws, Channel.EMAIL, "Lee <lee@example.com>")
            await pipeline.send(authentic)
            joined = await pipeline.thread_of(ws, chat, authentic)
            if len(joined.customers) == 1 and len(joined.conversations) == 1:
                break  # linked, and the two conversations folded into one
        assert len(joined.customers) == 1 and len(joined.conversations) == 1
        forged = make_inbound(ws, Channel.EMAIL, "Lee <lee@example.com>", metadata={
            "email_auth": "fail", "email_spf": "fail", "email_dkim": "none"})
        unchecked = make_inbound(ws, Channel.EMAIL, "lee@example.com", metadata={})
        await pipeline.send(forged, unchecked)
        thread = await pipeline.thread_of(ws, chat, forged, unchecked)
        assert len(thread.customers) == 2 and len(thread.conversations) == 2
        weak = customer_id_for(ws, "unverified:mailto:lee@example.com")
        assert thread.message_customers[forged.event_id] == weak
        assert thread.message_customers[unchecked.event_id] == weak
        assert thread.message_customers[chat.event_id] != weak

    async def test_unverified_typed_email_does_not_merge(
        self, pipeline: Any, make_inbound: Any
    ) -> None:
        """An email typed into the pre-chat form is recorded, never merged on."""
        ws = "typed"
        chat = make_inbound(ws, Channel.WEBCHAT, "visitor-2", account="site",
                            claimed={"email": "sam@example.com"})
        mail = make_inbound(ws, Channel.EMAIL, "sam@example.com")
        await pipeline.send(chat, mail)
        thread = await pipeline.thread_of(ws, chat, mail)
        assert len(thread.conversations) == 2
        assert len(set(thread.message_customers.values())) == 2


class TestCrmLinks:
    """A CRM link merges two customers; unlink splits them again."""

    async def test_link_merges_and_unlink_splits(self, pipeline: Any, make_inbound: Any) -> None:
        """Phone and email: two customers, linked into one, unlinked into two."""
        ws = "crm"
        senders = [(Channel.SMS, CRM_PHONE), (Channel.EMAIL, CRM_EMAIL)]
        first = [make_inbound(ws, channel, sender) for channel, sender in senders]
        await pipeline.send(*first)
        before = await pipeline.thread_of(ws, *first)
        assert len(set(before.message_customers.values())) == 2
        await pipeline.link(crm(LinkAction.LINK, ws, "crm-link-1"))
        linked = await until_joined(pipeline, make_inbound, ws, senders, True)
        assert len(set(linked.message_customers.values())) == 1
        assert len(linked.conversations) == 1
        merged = await pipeline.thread_of(ws, *first)
        assert len(merged.conversations) == 1, "the two open conversations fold into one"
        folds = await pipeline.events(ws, 1, kind="merged")
        survivor = set(linked.message_customers.values())
        assert folds, "the fold is announced on omniroute.conversations.v1"
        assert {(e.customer_id, e.merged_into) for e in folds} == {
            (*survivor, *merged.conversations)}
        await pipeline.link(crm(LinkAction.UNLINK, ws, "crm-unlink-1"))
        split = await until_joined(pipeline, make_inbound, ws, senders, False)
        assert len(set(split.message_customers.values())) == 2
        assert set(split.message_customers.values()) == set(before.message_customers.values())

    async def test_conflicting_claim_from_the_same_source_is_not_merged(
        self, pipeline: Any, make_inbound: Any
    ) -> None:
        """The CRM says the email is person 1, then person 2: the second claim is refused."""
        ws = "conflict"

        def claim(hint: str, event_id: str, *senders: tuple[Channel, str]) -> IdentityLink:
            return IdentityLink(
                event_id=event_id, workspace=ws, action=LinkAction.LINK, customer_hint=hint,
                source="crm", addresses=[ChannelAddress(channel=c, address=Address(value=v))
                                         for c, v in senders])

        person1 = [(Channel.SMS, "+14155550301"), (Channel.EMAIL, "kim@example.net")]
        await pipeline.link(claim("p1", "c-1", *person1))
        first = await until_joined(pipeline, make_inbound, ws, person1, True)
        assert len(set(first.message_customers.values())) == 1
        await pipeline.link(claim("p2", "c-2", (Channel.SMS, "+14155550302"),
                                  (Channel.EMAIL, "kim@example.net")))
        sentinel = [(Channel.SMS, "+14155550303"), (Channel.SMS, "+14155550304")]
        await pipeline.link(claim("p3", "c-3", *sentinel))
        joined = await until_joined(pipeline, make_inbound, ws, sentinel, True)
        assert len(set(joined.message_customers.values())) == 1, "claims after it still apply"
        both = [make_inbound(ws, Channel.SMS, "+14155550302"),
                make_inbound(ws, Channel.EMAIL, "kim@example.net")]
        await pipeline.send(*both)
        thread = await pipeline.thread_of(ws, *both)
        assert len(set(thread.message_customers.values())) == 2


class TestRouterNews:
    """The router's assigned/resolved events drive reopening and sticky routing."""

    async def test_resolved_conversation_reopens_with_the_last_agent(
        self, pipeline: Any, make_inbound: Any
    ) -> None:
        """assigned + resolved from the router, then a new message: reopened, sticky agent."""
        ws = "reopen"
        await pipeline.send(make_inbound(ws, Channel.LINE, "U42", account="chan"))
        opened = (await pipeline.events(ws, 1, kind="opened"))[0]
        for kind, event_id in (("assigned", "router-a1"), ("resolved", "router-r1")):
            news = ConversationEvent(
                event_id=event_id, workspace=ws, conversation_id=opened.conversation_id,
                customer_id=opened.customer_id, kind=kind, agent_id="agent-7")
            await pipeline.raw("omniroute.conversations.v1", opened.conversation_id.encode(),
                               news.to_json_bytes())
        await consume(pipeline.settings.kafka_bootstrap,
                      pipeline.topic("omniroute.internal.customers"), 1, timeout=60,
                      where=lambda r: b'"router-r1"' in r.value)
        again = make_inbound(ws, Channel.LINE, "U42", account="chan")
        await pipeline.send(again)
        reopened = await pipeline.events(ws, 1, kind="reopened")
        assert [e.conversation_id for e in reopened] == [opened.conversation_id]
        routes = [r for r in await pipeline.requests(ws) if r.kind == "route"]
        assert [r.last_agent_id for r in routes] == [None, "agent-7"]


def partition(key: str, partitions: int = 3) -> int:
    """The partition the default (murmur2) partitioner picks for ``key``."""
    return DefaultPartitioner()(key.encode(), list(range(partitions)), list(range(partitions)))


def spread_phones(ws: str) -> list[str]:
    """Three phones whose customers (and so address records) sit on different partitions."""
    chosen: list[str] = []
    customer_parts: set[int] = set()
    for n in range(1000, 9999):
        phone = f"+1415555{n:04d}"
        c = partition(customer_id_for(ws, f"tel:{phone}"))
        if c not in customer_parts:
            chosen.append(phone)
            customer_parts.add(c)
        if len(chosen) == 3:
            return chosen
    raise AssertionError("no spread found")


class TestAcrossPartitions:
    """Merges stay correct when the addresses live on partitions of different workers."""

    async def test_link_across_three_partitions_gives_one_customer_and_conversation(
        self, pipeline: Any, make_inbound: Any
    ) -> None:
        """Three phones on three partitions (two workers own them), linked by a CRM."""
        ws = "spread"
        phones = spread_phones(ws)
        first = [make_inbound(ws, Channel.SMS, phone) for phone in phones]
        await pipeline.send(*first)
        assert len((await pipeline.thread_of(ws, *first)).conversations) == 3
        await pipeline.link(IdentityLink(
            event_id="crm-spread", workspace=ws, action=LinkAction.LINK, customer_hint="crm-7",
            source="crm", addresses=[ChannelAddress(channel=Channel.SMS, address=Address(value=p))
                                     for p in phones]))
        joined = await until_joined(pipeline, make_inbound, ws,
                                    [(Channel.SMS, p) for p in phones], True)
        assert len(set(joined.message_customers.values())) == 1
        everything = await pipeline.thread_of(ws, *first)
        assert everything.conversations == joined.conversations
        assert len(everything.conversations) == 1
        assert everything.customers == set(joined.message_customers.values())


class TestCrash:
    """SIGKILL mid-stream and a restart lose nothing and open no second conversation."""

    async def test_sigkill_and_restart_lose_no_message_and_open_no_second_conversation(
        self, pipeline: Any, make_inbound: Any
    ) -> None:
        """48 messages from 8 customers, worker 1 killed after the first half."""
        if pipeline.engine == "faust":  # it lost 3 of 48 in a run on 2026-12-06
            pytest.skip("the legacy faust engine loses records under SIGKILL and at "
                        "rebalances (docs/operations.md); the batch engine is the default")
        ws = "crash"
        phones = [f"+1650555{n:04d}" for n in range(8)]
        batches = [[make_inbound(ws, Channel.SMS, p, text=f"{i}") for i in range(3)
                    for p in phones] for _ in range(2)]
        await pipeline.send(*batches[0])
        pipeline.kill(1)
        await pipeline.send(*batches[1])
        pipeline.start(1)
        sent = {m.event_id for batch in batches for m in batch}
        added = await pipeline.added(ws, sent)
        assert {e.message.source_event_id for e in added} == sent
        conversations_by_customer: dict[str, set[str]] = {}
        for event in added:
            conversations_by_customer.setdefault(event.customer_id, set()).add(
                event.conversation_id)
        assert len(conversations_by_customer) == len(phones)
        assert all(len(c) == 1 for c in conversations_by_customer.values())
        opened = await pipeline.events(ws, len(phones), kind="opened")
        assert len({e.conversation_id for e in opened}) == len(phones)
        await pipeline.settled()  # the module's next test starts on a settled group


class TestMetrics:
    """The workers record into the pipeline's shared metrics, and only those."""

    async def test_shared_metrics_after_traffic(self, pipeline: Any, make_inbound: Any) -> None:
        """Messages in/out per topic and channel, stage timings, rebalances, open conversations."""
        message = make_inbound("metrics", Channel.SMS, "+12025550142")
        await pipeline.send(message)
        assert (await pipeline.thread_of("metrics", message)).conversations
        texts: list[str] = []
        for _ in range(30):  # the open-conversations gauge is recounted every few seconds
            texts = await pipeline.metrics()
            if samples(texts, "omniroute_active_conversations", component="conversations"):
                break
            await asyncio.sleep(1)
        worker = {"component": "worker"}
        assert samples(texts, "omniroute_messages_total", **worker, topic="omniroute.inbound.v1",
                       channel="sms", direction="in") >= 1
        assert samples(texts, "omniroute_messages_total", **worker,
                       topic="omniroute.internal.customers", channel="sms", direction="out") >= 1
        assert samples(texts, "omniroute_messages_total", **worker,
                       topic="omniroute.conversations.v1", channel="sms", direction="out") >= 1
        # nothing published, no file: the built-in configuration is live and the request
        # goes straight into its pool's stream (one hop)
        assert samples(texts, "omniroute_messages_total", **worker,
                       topic="omniroute.internal.routing-pool-events", direction="out") >= 1
        assert samples(texts, "omniroute_messages_total", **worker,
                       topic="omniroute.internal.routing-requests", direction="out") == 0
        assert samples(texts, "omniroute_processing_seconds_count", stage="identity") >= 1
        assert samples(texts, "omniroute_processing_seconds_count", stage="conversations") >= 1
        assert samples(texts, "omniroute_rebalances_total", **worker) >= 1
        assert samples(texts, "omniroute_active_conversations", component="conversations") >= 1
        exported = "\n".join(texts)
        assert "omniroute_worker_" not in exported and "faust" not in exported.lower()


class TestAcknowledgementLanguage:
    """The acknowledgement speaks the customer's language, and guesses none from a word that
    fits several: a user run's English "Hello" was acknowledged in Spanish. A greeting alone
    is told by a list, not by lingua."""

    async def test_a_greeting_gets_the_default_language_and_a_sentence_its_own(
        self, pipeline: Any, make_inbound: Any
    ) -> None:
        ws = "greetings"
        said = {"+14155557001": "Hello", "+14155557002": "Hola, mi pedido no ha llegado",
                "+14155557003": "Cancel", "+14155557004": "¡Hola!"}
        for phone, text in said.items():
            await pipeline.send(make_inbound(ws, Channel.SMS, phone, text=text))

        def wanted(record: Any) -> bool:
            out = OutboundMessage.from_json_bytes(record.value)
            return out.recipient.value in said and out.automation == "acknowledgement"

        records = await consume(pipeline.settings.kafka_bootstrap,
                                pipeline.topic("omniroute.outbound.v1"), 4, timeout=60,
                                where=wanted)
        told = {out.recipient.value: out.text or "" for out in
                map(OutboundMessage.from_json_bytes, (r.value for r in records))}
        assert told["+14155557001"].startswith("Thanks for your message!"), told
        assert told["+14155557002"].startswith("¡Gracias por tu mensaje!"), told
        assert told["+14155557003"].startswith("Thanks for your message!"), told
        assert told["+14155557004"].startswith("¡Gracias por tu mensaje!"), told


class TestSurveyAnswer:
    """A score and a comment in one answer to the survey are a rating, not a new question;
    a question after the survey is a new question, not a rating."""

    @staticmethod
    async def surveyed(pipeline: Any, make_inbound: Any, ws: str, phone: str,
                       channel: Channel = Channel.SMS) -> Any:
        """A conversation an agent took and resolved, whose survey went out; its opened event."""
        await pipeline.send(make_inbound(ws, channel, phone, text="My parcel is late"))
        (opened,) = await pipeline.events(ws, 1, kind="opened")
        for kind in ("assigned", "resolved"):  # the router's news: an agent took it, then done
            news = ConversationEvent(
                event_id=f"{ws}-{kind}", workspace=ws, conversation_id=opened.conversation_id,
                customer_id=opened.customer_id, kind=kind, agent_id="ada", pool="default")
            await pipeline.raw("omniroute.conversations.v1", opened.conversation_id.encode(),
                               news.to_json_bytes())
        assert await consume(pipeline.settings.kafka_bootstrap,
                             pipeline.topic("omniroute.outbound.v1"), 1, timeout=60,
                             where=automatic(phone, "survey"))
        return opened

    async def test_a_score_with_words_is_rated_and_does_not_reopen(
        self, pipeline: Any, make_inbound: Any
    ) -> None:
        """A user run's visitor answered "5, very quick, thank you!": the conversation
        reopened and the score was lost."""
        ws, phone = "survey", "+14155557101"
        await self.surveyed(pipeline, make_inbound, ws, phone)
        await pipeline.send(make_inbound(ws, Channel.SMS, phone,
                                         text="5, very quick, thank you!"))
        (rated,) = await pipeline.events(ws, 1, kind="rated")
        assert rated.rating is not None
        assert (rated.rating.score, rated.rating.comment) == (5, "very quick, thank you!")
        # the answer's other effects are in the transaction that wrote `rated`
        assert await pipeline.events_so_far(ws, "reopened") == []
        assert await consume(pipeline.settings.kafka_bootstrap,
                             pipeline.topic("omniroute.outbound.v1"), 1, timeout=30,
                             where=automatic(phone, "survey_thanks"))

    async def test_a_numbered_question_reopens_and_is_no_rating(
        self, pipeline: Any, make_inbound: Any
    ) -> None:
        """"1. Where is my refund?" after the survey was a score of 1 with a comment: the
        conversation stayed resolved, and no agent saw the question."""
        ws, phone = "survey-question", "+14155557102"
        opened = await self.surveyed(pipeline, make_inbound, ws, phone)
        await pipeline.send(make_inbound(ws, Channel.SMS, phone, text="1. Where is my refund?"))
        (reopened,) = await pipeline.events(ws, 1, kind="reopened")
        assert reopened.conversation_id == opened.conversation_id
        added = await pipeline.events(ws, 2, kind="message_added")
        assert [(e.conversation_id, e.message and e.message.text) for e in added] == [
            (opened.conversation_id, "My parcel is late"),
            (opened.conversation_id, "1. Where is my refund?")]
        assert await pipeline.events_so_far(ws, "rated") == []

    async def test_a_request_after_the_rating_reopens_and_is_no_comment(
        self, pipeline: Any, make_inbound: Any
    ) -> None:
        """User run 57: Bea rated 5, and a minute later wrote "Parcel still not here. Order
        ORD-5555". It was filed as her rating's comment: no acknowledgement, and no agent
        saw it. Praise sent after the rating is still its comment."""
        ws, phone = "survey-request", "+14155557104"
        opened = await self.surveyed(pipeline, make_inbound, ws, phone)
        await pipeline.send(make_inbound(ws, Channel.SMS, phone, text="5"))
        await pipeline.events(ws, 1, kind="rated")
        await pipeline.send(make_inbound(ws, Channel.SMS, phone,
                                         text="Parcel still not here. Order ORD-5555"))
        (reopened,) = await pipeline.events(ws, 1, kind="reopened")
        assert reopened.conversation_id == opened.conversation_id
        assert [e.rating and e.rating.comment for e in await pipeline.events_so_far(
            ws, "rated")] == [None]
        praised = await self.surveyed(pipeline, make_inbound, "survey-praise", "+14155557106")
        await pipeline.send(make_inbound("survey-praise", Channel.SMS, "+14155557106", text="5"))
        await pipeline.send(make_inbound("survey-praise", Channel.SMS, "+14155557106",
                                         text="The delivery was quick, thanks!"))
        comments = await pipeline.events("survey-praise", 2, kind="rated")
        assert [e.rating and e.rating.comment for e in comments] == [
            None, "The delivery was quick, thanks!"]
        assert await pipeline.events_so_far("survey-praise", "reopened") == []
        assert praised.conversation_id != opened.conversation_id

    async def test_the_thanks_go_where_the_rating_came_from(
        self, pipeline: Any, make_inbound: Any
    ) -> None:
        """User run 37: Kim wrote on WhatsApp, got the survey there and answered it by SMS
        from the same phone; the thanks went to WhatsApp (the route of her last message
        before the rating)."""
        ws = "survey-channels"
        await self.surveyed(pipeline, make_inbound, ws, "14155557103", Channel.WHATSAPP)
        await pipeline.send(make_inbound(ws, Channel.SMS, "+14155557103", text="5"))
        (rated,) = await pipeline.events(ws, 1, kind="rated")
        assert rated.rating is not None and rated.rating.score == 5
        (thanks,) = await consume(pipeline.settings.kafka_bootstrap,
                                  pipeline.topic("omniroute.outbound.v1"), 1, timeout=30,
                                  where=automatic("+14155557103", "survey_thanks"))
        assert OutboundMessage.from_json_bytes(thanks.value).channel is Channel.SMS


def automatic(phone: str, kind: str) -> Any:
    """Whether an outbound record is the automatic reply ``kind`` to ``phone``."""
    def wanted(record: Any) -> bool:
        out = OutboundMessage.from_json_bytes(record.value)
        return out.recipient.value == phone and out.automation == kind
    return wanted


class TestExpectedWait:
    """The acknowledgement's expected wait, from the routers' figures and the worker's own
    view of the agents (last in the module: it publishes figures for the default pool)."""

    async def test_an_agent_on_duty_since_the_routers_figures_counts_at_once(
        self, pipeline: Any, make_inbound: Any
    ) -> None:
        """Routers publish staffing every 2 s; a customer who wrote a second after the first
        agent went available was told "later today" (user run 25)."""
        ws = "expected-wait"
        home = partition("ada")  # her presence and both customers: the same worker
        phones = [p for p in (f"+1415556{n:04d}" for n in range(1000, 9999))
                  if partition(customer_id_for(ws, f"tel:{p}")) == home][:2]

        async def nobody_on_duty(published_at: float) -> None:
            figures = {"pool": "default", "waiting": 0, "published_at": published_at,
                       "agents": {}, "staffing": {"available": 0, "free_slots": 0,
                                                  "concurrency": 1}}
            await pipeline.raw(STATS_TOPIC, b"default", json.dumps(figures).encode())

        async def acknowledgement(phone: str) -> str:
            def wanted(record: Any) -> bool:
                out = OutboundMessage.from_json_bytes(record.value)
                return out.recipient.value == phone and out.automation == "acknowledgement"

            [record] = await consume(pipeline.settings.kafka_bootstrap,
                                     pipeline.topic("omniroute.outbound.v1"), 1, timeout=60,
                                     where=wanted)
            return OutboundMessage.from_json_bytes(record.value).text or ""

        try:
            await nobody_on_duty(time.time())
            await pipeline.send(make_inbound(ws, Channel.SMS, phones[0]))
            assert "later today" in await acknowledgement(phones[0])  # nobody: the control
            await nobody_on_duty(time.time())  # fresh figures (trusted for 15 s)
            await asyncio.sleep(1.0)
            presence = AgentEvent(event_id="ada-on-duty", agent_id="ada", kind="presence",
                                  presence="available", pool="default")
            await pipeline.raw(AGENT_EVENTS.name, b"ada", presence.to_json_bytes())
            await asyncio.sleep(2.0)  # the worker reads it; the figures still say nobody
            await pipeline.send(make_inbound(ws, Channel.SMS, phones[1]))
            # a wait estimated from ada's free slot (its length depends on who else waits
            # in the pool: earlier tests of the module leave customers waiting)
            told = await acknowledgement(phones[1])
            assert "later today" not in told and "with you in " in told, told
        finally:
            await nobody_on_duty(0.0)  # stale: no later reader trusts them
