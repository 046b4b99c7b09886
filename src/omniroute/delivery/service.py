"""The ``omniroute delivery`` process: Kafka in, provider HTTP out, DeliveryStatus back.

- ``omniroute.outbound.v1`` is consumed in the group ``omniroute.delivery`` (namespaced).
  Records of one partition are handled in order; the offset is committed only
  after the message's DeliveryStatus events are acknowledged by Kafka (acks=all).
  A message that may have been handled before (the first of a partition since
  it was assigned here, or one read again after a failed commit) is sent only
  if its statuses are not on ``omniroute.delivery.v1`` yet
  (:class:`ReportedStatuses`), so a crash after the statuses does not send it
  twice. A crash between the provider's answer and the statuses does (at least
  once there; LINE de-duplicates with its retry key).
- A record whose event id was delivered, or found reported, lately (:class:`RecentIds`)
  is a second record of the same message, and is not sent again: consumers
  de-duplicate on ``event_id``, and a producer that lost the broker's
  acknowledgement writes the message twice when its caller retries.
- ``omniroute.inbound.v1`` is read by every replica in full (no group), from 24
  hours ago at start-up, into :class:`CustomerActivity`. A message that looks
  outside the window is re-checked after the view caught up with the topic's end,
  so a reply racing its customer's message is not refused.
- A message whose provider could not be reached (its retries ran out on network errors,
  429 or 5xx, nothing accepted) is not failed at once: it waits for a later round on
  ``omniroute.internal.delivery-retry`` (:mod:`omniroute.delivery.rounds`; each round
  sends once, the provider's own retries were spent on the first), then fails
  (``retries_exhausted:<code>``). Provider accounts are told apart (a 429 is one
  account's limit). Retry records are looked up before they are sent like outbound ones.
- Undecodable outbound records go to ``omniroute.dlq.v1`` with the reason, and so
  does a message whose delivery raised an error nobody foresaw (with a ``failed``
  status, ``internal_error``); the next message is delivered.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Sequence

import aiohttp
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError
from pydantic import ValidationError

from omniroute.contract import (
    Channel,
    DeadLetter,
    DeliveryState,
    DeliveryStatus,
    InboundMessage,
    OutboundMessage,
)
from omniroute.contract.topics import DELIVERY, DLQ, INBOUND, OUTBOUND
from omniroute.delivery.activity import LOOKBACK, CustomerActivity
from omniroute.delivery.http import aiohttp_caller
from omniroute.delivery.ratelimit import RateLimits
from omniroute.delivery.rebalance import CountingRebalances
from omniroute.delivery.reported import RecentIds, ReportedStatuses
from omniroute.delivery.rounds import Rounds
from omniroute.delivery.sending import deliver, failed, now_utc, unreachable
from omniroute.infra.membership import leave_and_stop
from omniroute.infra.topics import consumer_partitions
from omniroute.observability.health import Health, serve_operations
from omniroute.observability.logs import get_logger
from omniroute.observability.metrics import record_build_info
from omniroute.observability.pipeline import DEAD_LETTERS, MESSAGES, PROCESSING_SECONDS
from omniroute.settings import Settings
from omniroute_connectors.outbound import OutboundSender, ProviderRequest, ProviderResponse
from omniroute_connectors.registry import load_connectors

log = get_logger(__name__)
PROCESSOR = "delivery"
DELIVERED_ELSEWHERE = frozenset({Channel.EMAIL, Channel.WEBCHAT})
"""Channels other processes deliver (``omniroute email-delivery``, the web chat feed):
this process publishes no status for them unless a connector sender claims them."""
RETRY = "omniroute.internal.delivery-retry"


def load_senders(settings: Settings) -> list[OutboundSender]:
    """The outbound sender of every registered connector that has one."""
    return [s for c in load_connectors(settings) if (s := c.sender()) is not None]


class InboundView:
    """Follows omniroute.inbound.v1 into a CustomerActivity."""

    def __init__(self, settings: Settings) -> None:
        self.topic = settings.topic(INBOUND.name)
        self.activity = CustomerActivity()
        self.consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap,
                                         enable_auto_commit=False, group_id=None,
                                         isolation_level="read_committed")
        self.partitions: list[TopicPartition] = []
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        """Assign every partition and seek to 24 hours ago.

        Where nothing is that recent, the view starts at the end offset read
        *before* the search. ``seek_to_end`` instead resolves "the end" when the
        fetcher gets to it, which on a fresh stack came after the first
        customer's message: the view never saw it, and every reply to that
        customer was refused as outside WhatsApp's window.
        """
        await self.consumer.start()
        self.partitions = await consumer_partitions(self.consumer, self.topic)
        self.consumer.assign(self.partitions)
        ends = await self.consumer.end_offsets(self.partitions)
        since = int((now_utc() - LOOKBACK).timestamp() * 1000)
        offsets = await self.consumer.offsets_for_times({tp: since for tp in self.partitions})
        for tp, found in offsets.items():
            self.consumer.seek(tp, ends[tp] if found is None else found.offset)

    async def poll(self) -> None:
        """Read what arrived into the activity view."""
        async with self._lock:
            batch = await self.consumer.getmany(timeout_ms=200)
        for records in batch.values():
            for record in records:
                try:
                    message = InboundMessage.from_json_bytes(record.value)
                except (ValidationError, ValueError):
                    continue  # identity dead-letters bad inbound records; we only skip them
                received = message.occurred_at
                self.activity.observe(message, received)

    async def catch_up(self, max_rounds: int = 50) -> None:
        """Read until every partition reached the end offsets as of now."""
        ends = await self.consumer.end_offsets(self.partitions)
        for _ in range(max_rounds):
            positions = {tp: await self._position(tp) for tp in ends}
            if all(positions[tp] >= end for tp, end in ends.items()):
                return
            await self.poll()

    async def _position(self, tp: TopicPartition) -> int:
        return int(await self.consumer.position(tp))

    async def stop(self) -> None:
        """Close the consumer."""
        await self.consumer.stop()


class DeliveryService:
    """Consumes outbound messages and delivers them."""

    def __init__(self, settings: Settings, senders: Sequence[OutboundSender] | None = None
                 ) -> None:
        self.settings = settings
        self.senders = list(load_senders(settings) if senders is None else senders)
        self.view = InboundView(settings)
        self.reported = ReportedStatuses(settings)
        self.recent = RecentIds()
        self._committed: dict[TopicPartition, int] = {}
        """Per partition held without interruption since its first commit here, the offset
        committed last. A record of a partition not in it may have been handled before.
        (Offsets are not consecutive: transaction markers take offsets too.)"""
        self.limits = RateLimits()
        self.outbound_topic = settings.topic(OUTBOUND.name)
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=settings.kafka_bootstrap,
            group_id=settings.topic("omniroute.delivery"), enable_auto_commit=False,
            auto_offset_reset="earliest", isolation_level="read_committed",
            group_instance_id=settings.instance_id)
        self.producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap,
                                         acks="all", enable_idempotence=True)
        self.rounds = Rounds(settings, RETRY, self.consumer, self.producer, PROCESSOR)
        self.http: aiohttp.ClientSession | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = asyncio.Event()

    async def _http(self, base_url: str, request: ProviderRequest) -> ProviderResponse:
        assert self.http is not None
        return await aiohttp_caller(self.http)(base_url, request)

    def sender_for(self, message: OutboundMessage) -> OutboundSender | None:
        """The first sender that handles ``message``."""
        return next((s for s in self.senders if s.handles(message)), None)

    def delivers(self, message: OutboundMessage) -> bool:
        """Whether this process delivers ``message``: email and web chat replies without a
        sender here are left alone, another process delivers and reports them."""
        return self.sender_for(message) is not None or message.channel not in DELIVERED_ELSEWHERE

    async def handle(self, message: OutboundMessage, resends: int = 0) -> None:
        """Deliver one message and publish its statuses (acknowledged before returning), or,
        when its provider could not be reached, write it to the retry topic (``resends``: how
        often it was sent again before)."""
        if not self.delivers(message):
            return
        sender = self.sender_for(message)
        started = time.perf_counter()
        channel = message.channel.value
        MESSAGES.labels(PROCESSOR, OUTBOUND.name, channel, "in").inc()
        statuses: Sequence[DeliveryStatus]
        if sender is None:
            statuses = [failed(message, "none", "no_provider",
                               f"no connector delivers {message.channel.value} for "
                               f"{message.channel_account}")]
        else:
            account = (sender.provider, message.channel_account)
            if await self.rounds.wait_turn(message, resends, account, sender.provider):
                return
            context = self.view.activity.context(message, now_utc())
            if not context.in_window() or not context.reply_hint:
                await self.view.catch_up()
                context = self.view.activity.context(message, now_utc())
            statuses = await deliver(
                message, sender, context, self._http, self.limits,
                rate=min(sender.rate_limit_per_second(), self.settings.delivery_rate_per_second),
                attempts=1 if resends else self.settings.delivery_max_attempts,
                base_delay=self.settings.delivery_backoff_seconds)
            accepted = any(s.state is DeliveryState.ACCEPTED for s in statuses)
            if accepted:
                self.view.activity.spend_hints(message)
            gone = unreachable(statuses)
            if await self.rounds.tried(message, resends, account, sender.provider,
                                       reached=accepted, unreachable=gone,
                                       code=statuses[0].error_code,
                                       why=statuses[0].error_message):
                return
            if gone:  # and no round left
                statuses = [statuses[0].model_copy(update={"error_message": self.rounds.reason(
                    statuses[0].error_message, resends)})]
        topic = self.settings.topic(DELIVERY.name)
        futures = [await self.producer.send(topic, s.to_json_bytes(), key=s.kafka_key.encode())
                   for s in statuses]
        await asyncio.gather(*futures)
        self.recent.add(message.event_id)
        self.rounds.settled(message)
        MESSAGES.labels(PROCESSOR, DELIVERY.name, channel, "out").inc(len(statuses))
        PROCESSING_SECONDS.labels(PROCESSOR).observe(time.perf_counter() - started)

    async def _dead_letter(self, record: object, error: Exception) -> None:
        letter = DeadLetter.for_record(
            processor=PROCESSOR, topic=record.topic, partition=record.partition,  # type: ignore[attr-defined]
            offset=record.offset, key=record.key, value=record.value, error=error)  # type: ignore[attr-defined]
        await self.producer.send_and_wait(self.settings.topic(DLQ.name), letter.to_json_bytes(),
                                          key=record.key)  # type: ignore[attr-defined]
        DEAD_LETTERS.labels(PROCESSOR, type(error).__name__).inc()

    async def _partition(self, tp: TopicPartition, records: list[object]) -> None:
        for record in records:
            offset: int = record.offset  # type: ignore[attr-defined]
            resends = self.rounds.resends(tp, record)
            if resends is None:  # not due: the partition waits, nothing after it is either
                return
            try:
                message = OutboundMessage.from_json_bytes(record.value)  # type: ignore[attr-defined]
            except (ValidationError, ValueError) as exc:
                await self._dead_letter(record, exc)
            else:
                if await self._unsent(tp, record, message):
                    await self._deliver(record, message, resends)
                else:  # sent before: nothing waits behind it
                    self.rounds.settled(message)
            await self.consumer.commit({tp: offset + 1})
            self._committed[tp] = offset + 1

    async def _unsent(self, tp: TopicPartition, record: object,
                      message: OutboundMessage) -> bool:
        """Whether ``message`` is this process's to send and not sent yet: not a second record
        of one delivered or reported lately, and, when its partition may have been handled
        before, not reported on omniroute.delivery.v1."""
        if not self.delivers(message) or self.recent.repeated(message.event_id, PROCESSOR):
            return False
        return tp in self._committed or not await self.reported.reported(
            message.event_id, record.timestamp, self.recent)  # type: ignore[attr-defined]

    async def _deliver(self, record: object, message: OutboundMessage, resends: int) -> None:
        """:meth:`handle`; an error nobody foresaw (a connector's bug, a provider answer no
        sender expects) fails this one message with its reason, a ``failed`` status
        (``internal_error``) and a dead letter, instead of ending delivery for everyone.
        Kafka errors still propagate: the batch is read again."""
        try:
            await self.handle(message, resends)
        except KafkaError:
            raise
        except Exception as exc:
            log.exception("delivery_failed_unexpectedly", outbound_event_id=message.event_id)
            try:
                provider = getattr(self.sender_for(message), "provider", "none")
            except Exception:
                provider = "none"
            reason = failed(message, provider, "internal_error", f"{type(exc).__name__}: {exc}")
            await self.producer.send_and_wait(self.settings.topic(DELIVERY.name),
                                              reason.to_json_bytes(),
                                              key=reason.kafka_key.encode())
            self.recent.add(message.event_id)
            self.rounds.settled(message)
            await self._dead_letter(record, exc)

    def forget(self, revoked: set[TopicPartition]) -> None:
        """Partitions leave: whoever holds one meanwhile may send its next message."""
        for tp in revoked:
            self._committed.pop(tp, None)
        if revoked:
            self.rounds.forget()

    async def _follow_inbound(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.view.poll()
            except KafkaError as exc:
                log.warning("inbound_view_poll_failed", error=repr(exc))
                await asyncio.sleep(1)

    async def _consume(self) -> None:
        while not self._stopping.is_set():
            try:
                batch = await self.consumer.getmany(timeout_ms=500)
            except KafkaError as exc:
                log.warning("outbound_consume_failed", error=repr(exc))
                await asyncio.sleep(1)
                continue
            done = await asyncio.gather(*(self._partition(tp, recs) for tp, recs in batch.items()),
                                        return_exceptions=True)
            failed = {tp: (recs, error)
                      for (tp, recs), error in zip(batch.items(), done, strict=True)
                      if isinstance(error, BaseException)}
            for tp, (_recs, error) in failed.items():
                if not isinstance(error, KafkaError):
                    log.error("outbound_consume_crashed", partition=tp.partition,
                              error=repr(error))
                    raise error
                log.warning("outbound_consume_failed", partition=tp.partition, error=repr(error))
            if failed:
                await asyncio.sleep(1)
                self._rewind({tp: recs for tp, (recs, _error) in failed.items()})

    def _rewind(self, failed: dict[TopicPartition, list[object]]) -> None:
        """Read the uncommitted records of partitions whose handling failed again (the
        consumer's position is past them), from the offset committed last or the first
        record fetched; the first of them is looked up before it is sent."""
        held = self.consumer.assignment()
        for tp, records in failed.items():
            committed = self._committed.pop(tp, None)
            if tp in held and records:
                first: int = records[0].offset  # type: ignore[attr-defined]
                self.consumer.seek(tp, first if committed is None else max(committed, first))

    async def check(self) -> None:
        """Readiness: started, and the broker answers a metadata request."""
        if not self._tasks:
            raise RuntimeError("the delivery service is not started")
        await self.producer.client.fetch_all_metadata()

    def health(self) -> Health:
        """The readiness checks of this process."""
        health = Health()
        health.add("kafka", self.check)
        return health

    async def start(self) -> None:
        """Connect everything and start consuming."""
        record_build_info("delivery")
        self.http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        await self.rounds.create()
        await self.producer.start()
        await self.view.start()
        await self.reported.start()
        self.consumer.subscribe([self.outbound_topic, self.rounds.topic],
                                listener=CountingRebalances(PROCESSOR, revoked=self.forget,
                                                           assigned=self.rounds.recall))
        await self.consumer.start()
        self._tasks = [asyncio.create_task(self._follow_inbound()),
                       asyncio.create_task(self._consume())]

    async def run_until(self, stop: asyncio.Event) -> None:
        """Run until ``stop`` is set; if a loop of this service ends on an error, raise it
        (the process exits non-zero and is restarted, rather than staying up and ready
        while it delivers nothing)."""
        stopping = asyncio.create_task(stop.wait())
        try:
            done, _pending = await asyncio.wait([stopping, *self._tasks],
                                                return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
        for task in done:
            if task is not stopping and not task.cancelled() and task.exception() is not None:
                raise RuntimeError("a delivery loop ended") from task.exception()

    async def stop(self) -> None:
        """Stop consuming (a message in flight is finished or re-delivered later)."""
        self._stopping.set()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await leave_and_stop(self.consumer)
        await self.view.stop()
        await self.reported.stop()
        await self.producer.stop()
        if self.http is not None:
            await self.http.close()


async def run_delivery(settings: Settings) -> None:
    """Run until SIGINT/SIGTERM, serving /metrics, /healthz and /readyz on
    OMNIROUTE_METRICS_PORT."""
    service = DeliveryService(settings)
    runner = await serve_operations(settings.metrics_port, service.health(), settings.bind_host)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await service.start()
    log.info("delivery_started", senders=[s.provider for s in service.senders])
    try:
        await service.run_until(stop)
    finally:
        await service.stop()
        await runner.cleanup()
