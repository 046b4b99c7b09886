"""SMTP in and out against the real broker: smtplib -> SMTP server -> Kafka -> relay sink."""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import smtplib
from collections import Counter
from collections.abc import Sequence
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from aiosmtpd.smtp import SMTP, Envelope, Session
from prometheus_client import REGISTRY

from harness.kafka import consume, consume_all, produce
from harness.ports import free_port
from omniroute.contract import (
    Address,
    Author,
    AuthorKind,
    Channel,
    DeliveryStatus,
    InboundMessage,
    OutboundMessage,
)
from omniroute.settings import Settings
from omniroute_connectors.base import Event, PublishUnavailable
from omniroute_connectors.email.sender import EmailDelivery, SmtpRelay
from omniroute_connectors.email.smtp_server import SmtpService

MAILBOX = "support@acme.test"


class KafkaPublisher:
    """A real publisher (acks=all, idempotent), standing in for the ingress host's."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.producer = AIOKafkaProducer(
            bootstrap_servers=settings.kafka_bootstrap, acks="all", enable_idempotence=True,
            request_timeout_ms=3000,
        )
        self.started = False

    async def publish(self, events: Sequence[Event]) -> None:
        try:
            if not self.started:
                await self.producer.start()
                self.started = True
            for event in events:
                topic = "inbound" if isinstance(event, InboundMessage) else "delivery"
                await self.producer.send_and_wait(
                    self.settings.topic(f"omniroute.{topic}.v1"), event.to_json_bytes(),
                    key=event.kafka_key.encode(),
                )
        except KafkaError as exc:
            raise PublishUnavailable(f"kafka did not acknowledge: {exc}") from exc

    async def close(self) -> None:
        await self.producer.stop()


class Sink:
    """A local SMTP relay (aiosmtpd) that keeps what it receives."""

    def __init__(self) -> None:
        self.received: asyncio.Queue[tuple[Envelope, bytes]] = asyncio.Queue()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        await self.received.put((envelope, envelope.original_content or envelope.content))
        return "250 OK"

    async def bodies(self) -> list[str]:
        """The plain-text bodies of the mails received so far, in order (taken)."""
        mails = []
        while not self.received.empty():
            mails.append(email.message_from_bytes((await self.received.get())[1],
                                                  policy=email.policy.default))
        return [m.get_body(("plain",)).get_content().strip()  # type: ignore[attr-defined]
                for m in mails]


async def start_relay(settings: Settings) -> tuple[Sink, asyncio.Server, Settings]:
    """A local relay that keeps what it receives, and ``settings`` pointing at it."""
    sink = Sink()
    port = free_port()
    server = await asyncio.get_running_loop().create_server(
        lambda: SMTP(sink), host="127.0.0.1", port=port)
    return sink, server, settings.model_copy(update={"smtp_relay_port": port})


async def reported_per_reply(settings: Settings) -> Counter[str | None]:
    """How many statuses omniroute.delivery.v1 holds per outbound message."""
    return Counter(DeliveryStatus.from_json_bytes(r.value).outbound_event_id
                   for r in await consume_all(settings.kafka_bootstrap,
                                              settings.topic("omniroute.delivery.v1")))


def customer_mail(subject: str = "Order 1042 is late") -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = "Jane Doe <jane@example.com>"
    mail["To"] = MAILBOX
    mail["Subject"] = subject
    mail["Message-ID"] = "<cust-1@example.com>"
    mail["References"] = "<older@example.com>"
    mail.set_content("Hi, my order has not arrived.\n\n-- \nJane")
    return mail


async def send_with_smtplib(port: int, mail: EmailMessage, to: str = MAILBOX) -> object:
    def send() -> object:
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
            return client.send_message(mail, to_addrs=[to])
    return await asyncio.to_thread(send)


@pytest.fixture
async def smtp(topics: Settings):
    settings = topics.model_copy(update={"email_mailboxes": MAILBOX,
                                         "smtp_max_message_bytes": 64 * 1024})
    publisher = KafkaPublisher(settings)
    service = SmtpService(settings, publisher, port=free_port())
    await service.start()
    yield settings, service.port
    await service.stop()
    await publisher.close()


def counted(name: str, **labels: str) -> float:
    """The current value of a metric sample of this process (0 when never recorded)."""
    return REGISTRY.get_sample_value(name, labels) or 0.0


def email_messages(topic: str, direction: str) -> float:
    return counted("omniroute_messages_total", component="email", topic=topic, channel="email",
                   direction=direction)


async def test_mail_in_and_threaded_reply_out(smtp: tuple[Settings, int]) -> None:
    """smtplib mail lands on inbound.v1; the agent's reply reaches the relay threaded under it;
    both directions are counted in the shared omniroute_messages_total."""
    settings, port = smtp
    published = email_messages("omniroute.inbound.v1", "out")
    consumed = email_messages("omniroute.outbound.v1", "in")
    reported = email_messages("omniroute.delivery.v1", "out")
    await send_with_smtplib(port, customer_mail())
    records = await consume(settings.kafka_bootstrap, settings.topic("omniroute.inbound.v1"), 1)
    assert len(records) == 1
    inbound = InboundMessage.from_json_bytes(records[0].value)
    assert inbound.text == "Hi, my order has not arrived."
    assert inbound.sender.value == "jane@example.com" and inbound.provider == "smtp"
    assert records[0].key == b"email:jane@example.com"

    sink, server, relay_settings = await start_relay(settings)
    delivery = EmailDelivery(relay_settings, SmtpRelay(relay_settings, backoff=0.05))
    worker = asyncio.create_task(delivery.run())
    reply = OutboundMessage(
        event_id="out-1", conversation_id="conv-7", channel=Channel.EMAIL,
        channel_account=MAILBOX, recipient=inbound.sender,
        author=Author(kind=AuthorKind.AGENT, id="a1", name="Sam"),
        text="Sorry Jane, it ships today.", thread=inbound.thread,
    )
    await produce(settings.kafka_bootstrap, settings.topic("omniroute.outbound.v1"),
                  [(b"conv-7", reply.to_json_bytes())])
    try:
        envelope, raw = await asyncio.wait_for(sink.received.get(), 60)
        statuses = await consume(settings.kafka_bootstrap,
                                 settings.topic("omniroute.delivery.v1"), 1)
        assert await delivery.health().failures() == {}  # /readyz: consuming, broker answers
    finally:
        delivery.stop()
        await worker
        server.close()
    sent = email.message_from_bytes(raw)
    assert envelope.rcpt_tos == ["jane@example.com"]
    assert sent["In-Reply-To"] == "<cust-1@example.com>"
    assert sent["References"].split() == ["<older@example.com>", "<cust-1@example.com>"]
    assert sent["Reply-To"] == "support+conv-7@acme.test"
    assert sent["Subject"] == "Re: Order 1042 is late"
    assert {p.get_content_type() for p in sent.walk()} >= {"text/plain", "text/html"}
    status = DeliveryStatus.from_json_bytes(statuses[0].value)
    assert status.state.value == "sent" and status.outbound_event_id == "out-1"
    assert f"<{status.provider_message_id}>" == sent["Message-ID"]
    assert email_messages("omniroute.inbound.v1", "out") == published + 1
    assert email_messages("omniroute.outbound.v1", "in") == consumed + 1
    assert email_messages("omniroute.delivery.v1", "out") == reported + 1


async def test_a_reply_folded_into_encoded_words_keeps_its_thread(
        smtp: tuple[Settings, int]) -> None:
    """Python's email package folds an In-Reply-To longer than a line into RFC 2047 encoded
    words (our Message-IDs are that long): the customer's answer still names our mail."""
    settings, port = smtp
    ours = "<omniroute.36d706485378cafd1e3dddd36ac4f8df.cnv_a405496d5f8090e4918f5c91@acme.test>"
    mail = customer_mail("Re: Order 1042 is late")
    mail.replace_header("Message-ID", "<cust-2@example.com>")
    mail.replace_header("References", ours)
    mail["In-Reply-To"] = ours
    assert "=?utf-8?q?" in mail.as_string()  # what the customer's client really sends
    await send_with_smtplib(port, mail)
    records = await consume(settings.kafka_bootstrap, settings.topic("omniroute.inbound.v1"), 1,
                            where=lambda r: b"cust-2@example.com" in r.value)
    thread = InboundMessage.from_json_bytes(records[0].value).thread
    assert thread is not None
    assert thread.in_reply_to == thread.references == [ours.strip("<>")]


async def test_automatic_mail_is_marked_so_responders_leave_it_alone(topics: Settings) -> None:
    """RFC 3834: automation's acknowledgement is ``Auto-Submitted: auto-replied``, a
    proactive message ``auto-generated``, both with ``X-Auto-Response-Suppress: All``; an
    agent's reply is ``no``. A user run's acknowledgement went out as ``no``."""
    sink, server, relay_settings = await start_relay(
        topics.model_copy(update={"email_mailboxes": MAILBOX}))
    delivery = EmailDelivery(relay_settings, SmtpRelay(relay_settings, backoff=0.05))
    worker = asyncio.create_task(delivery.run())
    customer = Address(value="jane@example.com", name="Jane Doe")
    system = Author(kind=AuthorKind.SYSTEM, id="automation", name="omniroute")
    messages = [
        OutboundMessage(event_id="ack-1", conversation_id="conv-a", channel=Channel.EMAIL,
                        channel_account=MAILBOX, recipient=customer, author=system,
                        text="Thanks for your message!", automation="acknowledgement"),
        OutboundMessage(event_id="pro-1", conversation_id="conv-b", channel=Channel.EMAIL,
                        channel_account=MAILBOX, recipient=customer, author=system,
                        text="Your order ships today.", automation="proactive",
                        proactive=True),
        OutboundMessage(event_id="agent-1", conversation_id="conv-a", channel=Channel.EMAIL,
                        channel_account=MAILBOX, recipient=customer,
                        author=Author(kind=AuthorKind.AGENT, id="a1", name="Sam"),
                        text="Sorry Jane, it ships today."),
    ]
    await produce(topics.kafka_bootstrap, topics.topic("omniroute.outbound.v1"),
                  [(m.conversation_id.encode(), m.to_json_bytes()) for m in messages])
    try:
        received = [await asyncio.wait_for(sink.received.get(), 60) for _ in messages]
    finally:
        delivery.stop()
        await worker
        server.close()
    headers = {}
    for _, raw in received:
        mail = email.message_from_bytes(raw, policy=email.policy.default)
        text = mail.get_body(("plain",)).get_content().strip()  # type: ignore[attr-defined]
        headers[text] = (mail["Auto-Submitted"], mail["X-Auto-Response-Suppress"])
    assert headers == {
        "Thanks for your message!": ("auto-replied", "All"),
        "Your order ships today.": ("auto-generated", "All"),
        "Sorry Jane, it ships today.": ("no", None),
    }


async def test_unknown_recipient_is_550_and_nothing_published(smtp: tuple[Settings, int]
                                                              ) -> None:
    """RCPT for an address that is not a mailbox is refused with 550."""
    _, port = smtp
    before = counted("omniroute_rejections_total", provider="smtp", reason="unknown_recipient")
    with pytest.raises(smtplib.SMTPRecipientsRefused) as caught:
        await send_with_smtplib(port, customer_mail(), to="nobody@acme.test")
    assert caught.value.recipients["nobody@acme.test"][0] == 550
    assert counted("omniroute_rejections_total", provider="smtp",
                   reason="unknown_recipient") == before + 1


async def test_oversized_mail_is_552(smtp: tuple[Settings, int]) -> None:
    """Mail beyond the size limit is refused with 552 and not published."""
    settings, port = smtp
    mail = customer_mail()
    mail.set_content("x" * 100_000)
    before = counted("omniroute_rejections_total", provider="smtp", reason="too_large")
    with pytest.raises((smtplib.SMTPDataError, smtplib.SMTPSenderRefused)) as caught:
        await send_with_smtplib(port, mail)
    assert caught.value.smtp_code == 552
    assert counted("omniroute_rejections_total", provider="smtp", reason="too_large") > before
    records = await consume(settings.kafka_bootstrap, settings.topic("omniroute.inbound.v1"), 1,
                            timeout=2)
    assert records == []


async def test_kafka_down_answers_451(topics: Settings) -> None:
    """When Kafka does not acknowledge, the server answers 451 so the sender retries."""
    dead = topics.model_copy(update={"kafka_bootstrap": f"127.0.0.1:{free_port()}",
                                     "email_mailboxes": MAILBOX})
    publisher = KafkaPublisher(dead)
    service = SmtpService(dead, publisher, port=free_port())
    await service.start()
    try:
        with pytest.raises(smtplib.SMTPDataError) as caught:
            await send_with_smtplib(service.port, customer_mail())
        assert caught.value.smtp_code == 451
    finally:
        await service.stop()


def gmail_bounce() -> bytes:
    """A real Gmail RFC 3464 bounce (flanker fixture)."""
    return (Path(__file__).resolve().parents[4] / "shared" / "fixtures" / "email" /
            "flanker" / "bounce" / "gmail-invalid-address.eml").read_bytes().replace(
                b"\r\n", b"\n").replace(b"\n", b"\r\n")  # SMTP lines end in CRLF


async def test_bounce_of_our_reply_names_its_conversation(topics: Settings, database_url: str
                                                          ) -> None:
    """The delivery process records the Message-ID it sent; a real-shaped bounce quoting it
    becomes a failed status with the conversation and outbound event."""
    settings = topics.model_copy(update={"email_mailboxes": MAILBOX,
                                         "database_url": database_url})
    sink, server, relay_settings = await start_relay(settings)
    delivery = EmailDelivery(relay_settings, SmtpRelay(relay_settings, backoff=0.05))
    worker = asyncio.create_task(delivery.run())
    reply = OutboundMessage(
        event_id="out-bounce", conversation_id="conv-b", channel=Channel.EMAIL,
        channel_account=MAILBOX, recipient=Address(value="awfawfawfawfawfaw@someserverhere.com"),
        author=Author(kind=AuthorKind.AGENT, id="a1", name="Sam"), text="Hello",
    )
    await produce(settings.kafka_bootstrap, settings.topic("omniroute.outbound.v1"),
                  [(b"conv-b", reply.to_json_bytes())])
    try:
        _, raw = await asyncio.wait_for(sink.received.get(), 60)
        health = delivery.health()
        assert sorted(health.checks) == ["database", "kafka"]
        assert await health.failures() == {}
    finally:
        delivery.stop()
        await worker
        server.close()
    message_id = email.message_from_bytes(raw)["Message-ID"]
    bounce = gmail_bounce().replace(
        b"<CAKsfaBUUGqVZiaMrmH3TRPfq1odQPtM7Ey5YW1SgyJJRHtAjgw@mail.gmail.com>",
        message_id.encode())
    publisher = KafkaPublisher(settings)
    service = SmtpService(settings, publisher, port=free_port())
    await service.start()
    try:
        def send() -> None:
            with smtplib.SMTP("127.0.0.1", service.port, timeout=30) as client:
                client.sendmail("", [MAILBOX], bounce)
        await asyncio.to_thread(send)
    finally:
        await service.stop()
        await publisher.close()
    # the SMTP service answered 250 after Kafka had the status: everything so far is everything
    records = await consume_all(settings.kafka_bootstrap, settings.topic("omniroute.delivery.v1"),
                                where=lambda r: b"failed" in r.value)
    (status,) = [DeliveryStatus.from_json_bytes(r.value) for r in records]
    assert status.state.value == "failed" and status.conversation_id == "conv-b"
    assert status.outbound_event_id == "out-bounce" and records[0].key == b"conv-b"
    assert f"<{status.provider_message_id}>" == message_id


async def test_a_mail_reported_but_not_committed_is_not_sent_again(topics: Settings) -> None:
    """The email process dies after a reply's status is on omniroute.delivery.v1 but before
    its offset is committed: the next one finds the status and does not mail the customer a
    second time; the next reply (behind a reply on another channel) goes out once."""
    settings = topics.model_copy(update={"email_mailboxes": MAILBOX})
    sink, server, relay_settings = await start_relay(settings)

    def reply(n: int, channel: Channel = Channel.EMAIL) -> OutboundMessage:
        return OutboundMessage(
            event_id=f"out-mail-{n}", conversation_id="conv-m", channel=channel,
            channel_account=MAILBOX if channel is Channel.EMAIL else "+14155550100",
            recipient=Address(value="jane@example.com" if channel is Channel.EMAIL
                              else "+14155550123"),
            author=Author(kind=AuthorKind.AGENT, id="a1", name="Sam"), text=f"Reply {n}")

    await produce(settings.kafka_bootstrap, settings.topic("omniroute.outbound.v1"),
                  [(b"conv-m", m.to_json_bytes())
                   for m in (reply(1), reply(2, Channel.SMS), reply(3))])
    statuses = settings.topic("omniroute.delivery.v1")
    dying = EmailDelivery(relay_settings, SmtpRelay(relay_settings, backoff=0.05))
    never = asyncio.Event()

    async def dies_before_committing(*_args: object, **_kwargs: object) -> None:
        await never.wait()  # the process is gone before the commit reaches the broker

    dying.consumer.commit = dies_before_committing  # type: ignore[method-assign]
    first_run = asyncio.create_task(dying.run())
    try:
        assert await consume(settings.kafka_bootstrap, statuses, 1, timeout=60)
    finally:
        first_run.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await first_run
    delivery = EmailDelivery(relay_settings, SmtpRelay(relay_settings, backoff=0.05))
    second_run = asyncio.create_task(delivery.run())
    try:
        assert await consume(settings.kafka_bootstrap, statuses, 1, timeout=60,
                             where=lambda r: b"out-mail-3" in r.value)
    finally:
        delivery.stop()
        await second_run
        server.close()
    assert await sink.bodies() == ["Reply 1", "Reply 3"]
    assert await reported_per_reply(settings) == {"out-mail-1": 1, "out-mail-3": 1}


async def test_a_reply_written_twice_is_mailed_once(topics: Settings) -> None:
    """Two records of one reply (same event id: a producer's retry after a lost
    acknowledgement): the customer gets one mail, and the reply after them goes out."""
    settings = topics.model_copy(update={"email_mailboxes": MAILBOX})
    sink, server, relay_settings = await start_relay(settings)

    def reply(n: int) -> OutboundMessage:
        return OutboundMessage(
            event_id=f"out-twice-{n}", conversation_id="conv-twice", channel=Channel.EMAIL,
            channel_account=MAILBOX, recipient=Address(value="jane@example.com"),
            author=Author(kind=AuthorKind.AGENT, id="a1", name="Sam"), text=f"Reply {n}")

    await produce(settings.kafka_bootstrap, settings.topic("omniroute.outbound.v1"),
                  [(b"conv-twice", m.to_json_bytes()) for m in (reply(1), reply(1), reply(2))])
    statuses = settings.topic("omniroute.delivery.v1")
    delivery = EmailDelivery(relay_settings, SmtpRelay(relay_settings, backoff=0.05))
    run = asyncio.create_task(delivery.run())
    try:
        assert await consume(settings.kafka_bootstrap, statuses, 1, timeout=60,
                             where=lambda r: b"out-twice-2" in r.value)
    finally:
        delivery.stop()
        await run
        server.close()
    assert await sink.bodies() == ["Reply 1", "Reply 2"]
    assert await reported_per_reply(settings) == {"out-twice-1": 1, "out-twice-2": 1}
