"""Outbound email: consume ``omniroute.outbound.v1`` and send ``channel=email`` over SMTP.

The sender relays through ``OMNIROUTE_SMTP_RELAY_HOST:PORT`` (optionally
STARTTLS and login) with aiosmtplib and reports each message on
``omniroute.delivery.v1``:

- ``sent`` with ``provider_message_id`` = the Message-ID once the relay said 250;
- ``failed`` with the SMTP code as ``error_code`` when the relay refuses the
  recipient or the message (5xx);
- nothing yet when temporary failures (4xx, relay unreachable) outlast
  :data:`MAX_ATTEMPTS` with exponential backoff: the mail waits for a later round on
  ``omniroute.internal.email-retry`` (:mod:`omniroute.delivery.rounds`, one attempt
  a round), and fails with the last code (``relay_unavailable`` when the relay never
  answered) after the last round;
- ``failed`` with ``attachment_unavailable`` when an attachment's URL cannot be
  fetched (rules in :mod:`.attachments`): nothing is sent then.

Offsets are committed only after the status is acknowledged by Kafka, so a
crash re-sends (with the same Message-ID) rather than losing a reply. A second
record of a mail sent or found reported lately (same event id: a producer's
retry) is not sent again (:class:`~omniroute.delivery.reported.RecentIds`).

Before sending, the Message-ID is recorded with the conversation and outbound
event in PostgreSQL (``email_sent_messages``, when ``OMNIROUTE_DATABASE_URL``
is set), so a later bounce quoting it is attributed by the inbound side. When
PostgreSQL is down the reply is sent anyway (the reply matters more than the
bounce's attribution) and the miss is logged. Records
that are not OutboundMessage JSON go to ``omniroute.dlq.v1``.
"""

from __future__ import annotations

import asyncio
import hashlib
import signal
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

import aiohttp
import aiosmtplib
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from omniroute.contract import (
    Channel,
    DeadLetter,
    DeliveryState,
    DeliveryStatus,
    OutboundMessage,
    utcnow,
)
from omniroute.delivery.rebalance import CountingRebalances
from omniroute.delivery.reported import RecentIds, ReportedStatuses
from omniroute.delivery.rounds import Rounds
from omniroute.errors import DatabaseError
from omniroute.infra.membership import leave_and_stop
from omniroute.infra.reach import PublicResolver, Reach
from omniroute.observability.health import Health, serve_operations
from omniroute.observability.logs import get_logger
from omniroute.observability.metrics import record_build_info
from omniroute.observability.pipeline import (
    DEAD_LETTERS,
    MESSAGES,
    PROCESSING_SECONDS,
    RETRIES,
)
from omniroute.settings import Settings
from omniroute_connectors.email.attachments import AttachmentUnavailable, fetch_files
from omniroute_connectors.email.compose import FileAttachment, compose_reply, message_id_for
from omniroute_connectors.email.store import EmailStore

log = get_logger(__name__)
MAX_ATTEMPTS = 5
PROCESSOR = "email-delivery"
COMPONENT = "email"
OUTBOUND_TOPIC = "omniroute.outbound.v1"
RETRY = "omniroute.internal.email-retry"
RELAY = "smtp"
"""The provider name of the relay (statuses, metrics, later rounds)."""


@dataclass(frozen=True)
class SendOutcome:
    """What the relay said about one message."""

    state: DeliveryState
    error_code: str | None = None
    error_message: str | None = None
    temporary: bool = False
    """A failure that may pass: the relay was unreachable or answered 4xx every time."""


def status_for(message: OutboundMessage, outcome: SendOutcome) -> DeliveryStatus:
    """The DeliveryStatus reporting ``outcome`` (stable id per message and state)."""
    digest = hashlib.sha256(f"{message.event_id}|{outcome.state.value}".encode()).hexdigest()
    return DeliveryStatus(
        event_id=f"email-status:{digest[:40]}",
        workspace=message.workspace,
        conversation_id=message.conversation_id,
        outbound_event_id=message.event_id,
        channel=Channel.EMAIL,
        provider=RELAY,
        provider_message_id=message_id_for(message),
        recipient=message.recipient,
        state=outcome.state,
        error_code=outcome.error_code,
        error_message=outcome.error_message,
    )


def by_email_delivery(status: DeliveryStatus) -> bool:
    """``omniroute email-delivery``'s ``sent`` or ``failed`` status of the message (a
    bounce's ``failed`` comes later and is published by the SMTP server, also ``smtp``:
    either way the mail went out)."""
    return (status.outbound_event_id is not None and status.provider == RELAY
            and status.state in (DeliveryState.SENT, DeliveryState.FAILED))


class SmtpRelay:
    """Sends composed mail to the configured relay, classifying failures."""

    def __init__(self, settings: Settings, backoff: float = 0.5) -> None:
        self.settings = settings
        self.backoff = backoff

    async def _send_once(self, message: OutboundMessage,
                         files: Sequence[FileAttachment]) -> None:
        password = self.settings.smtp_relay_password
        await aiosmtplib.send(
            compose_reply(message, files, self.settings.email_from_name),
            hostname=self.settings.smtp_relay_host,
            port=self.settings.smtp_relay_port,
            username=self.settings.smtp_relay_username,
            password=password.get_secret_value() if password else None,
            start_tls=self.settings.smtp_relay_starttls,
            timeout=30,
        )

    async def send(self, message: OutboundMessage, files: Sequence[FileAttachment] = (),
                   attempts: int = MAX_ATTEMPTS) -> SendOutcome:
        """Send with retries on temporary failures; never raises for SMTP trouble."""
        last = SendOutcome(DeliveryState.FAILED, "relay_unavailable", "not attempted")
        for attempt in range(attempts):
            try:
                await self._send_once(message, files)
                return SendOutcome(DeliveryState.SENT)
            except aiosmtplib.SMTPRecipientsRefused as exc:
                refusal = next(iter(exc.recipients), None)
                code = str(refusal.code) if refusal else "550"
                return SendOutcome(DeliveryState.FAILED, code, str(exc)[:2048])
            except aiosmtplib.SMTPResponseException as exc:
                last = SendOutcome(DeliveryState.FAILED, str(exc.code), exc.message[:2048],
                                   temporary=400 <= exc.code < 500)
                if not last.temporary:
                    return last
            except (aiosmtplib.SMTPException, OSError) as exc:
                last = SendOutcome(DeliveryState.FAILED, "relay_unavailable", str(exc)[:2048],
                                   temporary=True)
            if attempt + 1 < attempts:
                RETRIES.labels(COMPONENT, "smtp_send").inc()
                log.warning("email_send_retry", attempt=attempt + 1, error=last.error_message)
                await asyncio.sleep(self.backoff * 2**attempt)
        return last


class EmailDelivery:
    """The consumer loop: outbound.v1 (channel email) -> SMTP relay -> delivery.v1."""

    def __init__(self, settings: Settings, relay: SmtpRelay | None = None,
                 store: EmailStore | None = None) -> None:
        self.settings = settings
        self.relay = relay or SmtpRelay(settings)
        self.store = store or (EmailStore(settings.database_url) if settings.database_url
                               else None)
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=settings.kafka_bootstrap,
            group_id=settings.topic("omniroute.email-delivery"),
            enable_auto_commit=False, auto_offset_reset="earliest",
            isolation_level="read_committed", group_instance_id=settings.instance_id,
        )
        self.producer = AIOKafkaProducer(
            bootstrap_servers=settings.kafka_bootstrap, acks="all", enable_idempotence=True
        )
        self.reported = ReportedStatuses(settings, reported_by=by_email_delivery)
        self.rounds = Rounds(settings, RETRY, self.consumer, self.producer, PROCESSOR)
        self.recent = RecentIds()
        self._committed: set[TopicPartition] = set()
        """Partitions held without interruption since a commit here: their next record
        was not handled before. A mail of another one is looked up before it is sent."""
        self._started = False
        self._stopping = asyncio.Event()
        self.reach = Reach(settings)
        """Where outbound files may be fetched from (the provider bases' and allowed
        origins' addresses resolved once for the process)."""
        self._files: aiohttp.ClientSession | None = None
        """The session outbound files are fetched through (made on first use, closed when
        the sender stops; no cookies kept), resolving through :attr:`reach`."""

    def stop(self) -> None:
        """Ask the loop to finish after the current batch."""
        self._stopping.set()

    async def check_kafka(self) -> None:
        """Readiness: consuming, and the broker answers a metadata request."""
        if not self._started:
            raise RuntimeError("email delivery is not started")
        await self.producer.client.fetch_all_metadata()

    def health(self) -> Health:
        """The readiness checks: Kafka, and PostgreSQL when Message-IDs are recorded."""
        health = Health()
        health.add("kafka", self.check_kafka)
        if self.store is not None:
            health.add("database", self.store.ping)
        return health

    async def run(self) -> None:
        """Consume until :meth:`stop`; commit only after statuses are acknowledged."""
        await self.rounds.create()
        await self.producer.start()
        await self.reported.start()
        self.consumer.subscribe([self.settings.topic(OUTBOUND_TOPIC), self.rounds.topic],
                                listener=CountingRebalances(PROCESSOR, revoked=self.forget,
                                                           assigned=self.rounds.recall))
        await self.consumer.start()
        self._started = True
        try:
            while not self._stopping.is_set():
                batches = await self.consumer.getmany(timeout_ms=500)
                done: dict[TopicPartition, int] = {}
                for tp, records in batches.items():
                    for record in records:
                        resends = self.rounds.resends(tp, record)
                        if resends is None:  # not due: nothing after it is either
                            break
                        if await self._process(record, self.producer,
                                               maybe_sent=tp not in self._committed,
                                               resends=resends):
                            await self.consumer.commit({tp: record.offset + 1})  # mail by mail
                            self._committed.add(tp)
                        done[tp] = record.offset + 1
                if done:  # the other channels' records in between
                    await self.consumer.commit(done)
                    self._committed |= set(done)
        finally:
            self._started = False
            await leave_and_stop(self.consumer)
            await self.reported.stop()
            await self.producer.stop()
            if self.store is not None:
                await self.store.stop()
            if self._files is not None:
                await self._files.close()
                self._files = None

    def forget(self, revoked: set[TopicPartition]) -> None:
        """Partitions leave: whoever holds one meanwhile may send its next mail."""
        self._committed -= revoked
        if revoked:
            self.rounds.forget()

    async def _process(self, record: object, producer: AIOKafkaProducer,
                       maybe_sent: bool = False, resends: int = 0) -> bool:
        """Send one outbound email and publish its status, or write it for a later round;
        whether the record was an email or a dead letter (commit it before the next one).
        ``maybe_sent``: it may have been handled before its offset was committed (no commit
        since the partition was assigned): sent only if its status is not on
        omniroute.delivery.v1 yet. ``resends``: how often it was tried again before."""
        started = time.perf_counter()
        value: bytes = record.value  # type: ignore[attr-defined]
        try:
            message = OutboundMessage.from_json_bytes(value)
        except ValueError as exc:
            letter = DeadLetter.for_record(
                processor=PROCESSOR, topic=record.topic,  # type: ignore[attr-defined]
                partition=record.partition, offset=record.offset,  # type: ignore[attr-defined]
                key=record.key, value=value, error=exc,  # type: ignore[attr-defined]
            )
            await producer.send_and_wait(
                self.settings.topic("omniroute.dlq.v1"), letter.to_json_bytes(),
                key=record.key,  # type: ignore[attr-defined]
            )
            DEAD_LETTERS.labels(PROCESSOR, type(exc).__name__).inc()
            return True
        if message.channel is not Channel.EMAIL:
            return False
        if self.recent.repeated(message.event_id, COMPONENT) or (
                maybe_sent and await self.reported.reported(
                    message.event_id, record.timestamp, self.recent)):  # type: ignore[attr-defined]
            self.rounds.settled(message)  # sent before: nothing waits behind it
            return True
        if await self.rounds.wait_turn(message, resends, RELAY, RELAY):
            return True
        MESSAGES.labels(COMPONENT, OUTBOUND_TOPIC, Channel.EMAIL.value, "in").inc()
        await self._remember(message)
        outcome = await self._send(message, attempts=1 if resends else MAX_ATTEMPTS)
        if await self.rounds.tried(message, resends, RELAY, RELAY,
                                   reached=outcome.state is DeliveryState.SENT,
                                   unreachable=outcome.temporary,
                                   code=outcome.error_code, why=outcome.error_message):
            return True
        if outcome.temporary:  # and no round left
            outcome = replace(outcome, error_message=self.rounds.reason(
                outcome.error_message, resends))
        status = status_for(message, outcome)
        await producer.send_and_wait(
            self.settings.topic("omniroute.delivery.v1"), status.to_json_bytes(),
            key=status.kafka_key.encode(),
        )
        self.recent.add(message.event_id)
        self.rounds.settled(message)
        MESSAGES.labels(COMPONENT, "omniroute.delivery.v1", Channel.EMAIL.value, "out").inc()
        PROCESSING_SECONDS.labels("email").observe(time.perf_counter() - started)
        log.info("email_sent", event_id=message.event_id, state=outcome.state.value,
                 error_code=outcome.error_code)
        return True


    async def _send(self, message: OutboundMessage, attempts: int) -> SendOutcome:
        """Fetch the attachments, then relay; a missing file fails the message (see
        :mod:`.attachments`)."""
        files: list[FileAttachment] = []
        if any(a.url for a in message.attachments):
            if self._files is None:
                self._files = aiohttp.ClientSession(
                    connector=aiohttp.TCPConnector(resolver=PublicResolver(self.reach)),
                    cookie_jar=aiohttp.DummyCookieJar())
            try:
                files = await fetch_files(self._files, self.reach, message.attachments)
            except AttachmentUnavailable as exc:
                return SendOutcome(DeliveryState.FAILED, "attachment_unavailable",
                                   exc.message[:2048])
        return await self.relay.send(message, files, attempts)

    async def _remember(self, message: OutboundMessage) -> None:
        """Record Message-ID -> conversation for bounce attribution (best effort)."""
        if self.store is None:
            return
        try:
            await self.store.record_sent(message_id_for(message), message.workspace,
                                         message.conversation_id, message.event_id,
                                         message.recipient.value, utcnow())
        except DatabaseError as exc:
            log.warning("email_message_id_unrecorded", event_id=message.event_id,
                        error=exc.message)


async def run_email_delivery(settings: Settings) -> None:
    """Run the email sender until SIGINT/SIGTERM, serving /metrics, /healthz
    and /readyz on OMNIROUTE_METRICS_PORT."""
    record_build_info("email-delivery")
    delivery = EmailDelivery(settings)
    runner = await serve_operations(settings.metrics_port, delivery.health(), settings.bind_host)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, delivery.stop)
    relay = f"{settings.smtp_relay_host}:{settings.smtp_relay_port}"
    log.info("email_delivery_started", relay=relay)
    try:
        await delivery.run()
    finally:
        await runner.cleanup()
