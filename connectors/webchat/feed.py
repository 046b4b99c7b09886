"""The live feeds of one replica: agent replies, typing and presence, pushed to sockets.

Each replica reads every partition itself (no consumer group: every replica
must see every reply, because the visitor may be connected to any of them).
Outbound and typing are read from their end, pinned before the service reports
started, so nothing produced after start-up is missed. Availability (chat, or the
offline form) comes from the routers' published staffing (``staffing.available`` of
every pool on the compacted ``omniroute.internal.routing-stats``, latest first): the
agents the routers would offer work to, not lost ones, and one record per pool to read
at start-up. It was every agent's latest presence event, read from the start of
``omniroute.agent-events.v1``: the whole history of presence and heartbeats (20 s per
agent) at every start of a replica, and an agent whose console vanished without
"Offline" counted as available for good.
Completeness of the transcript does not depend on this feed: the
:class:`~omniroute_connectors.webchat.recorder.TranscriptRecorder` stores every
reply through a committed consumer group.

A reply pushed to at least one socket is reported as ``sent`` on
``omniroute.delivery.v1`` (stable event id per reply, so several replicas or a
restart report it once downstream).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import OrderedDict
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from omniroute.contract import DeliveryState, OutboundMessage
from omniroute.errors import DatabaseError, InfrastructureError
from omniroute.ingress.metrics import count_published
from omniroute.observability.logs import get_logger
from omniroute.observability.pipeline import MESSAGES, PROCESSING_SECONDS
from omniroute.routing.stats import published_staffing
from omniroute.routing.statsfeed import follow_stats
from omniroute.settings import Settings
from omniroute_connectors.base import Publisher
from omniroute_connectors.webchat.chat import WebChat
from omniroute_connectors.webchat.indicators import TYPING_TOPIC, TypingSignal
from omniroute_connectors.webchat.protocol import receipt_status
from omniroute_connectors.webchat.recorder import TranscriptRecorder, reply_frame, webchat_reply

log = get_logger(__name__)
ADDRESS_CACHE = 10_000


async def _assigned(settings: Settings, topic: str, from_end: bool) -> AIOKafkaConsumer:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=settings.kafka_bootstrap, group_id=None,
        enable_auto_commit=False, isolation_level="read_committed",
        auto_offset_reset="latest" if from_end else "earliest",
    )
    await consumer.start()
    for _ in range(200):  # without a group, every partition is assigned once metadata arrives
        if consumer.assignment():
            break
        await asyncio.sleep(0.05)
    for partition in consumer.assignment():
        await consumer.position(partition)  # pin the start before reporting ready
    return consumer


class WebChatFeed:
    """Service: push replies and typing live, track availability, record transcripts."""

    def __init__(self, chat: WebChat, publisher: Publisher) -> None:
        self.chat = chat
        self.settings = chat.settings
        self.publisher = publisher
        self.recorder: TranscriptRecorder | None = None
        self._addresses: OrderedDict[str, list[str]] = OrderedDict()
        self._tasks: list[asyncio.Task[None]] = []
        self._consumers: list[AIOKafkaConsumer] = []

    async def start(self) -> None:
        """Open the transcript pool and the typing producer, pin the feeds, then return."""
        transcripts = self.chat.transcripts
        if transcripts is not None:
            try:
                await transcripts.start()
                self.recorder = TranscriptRecorder(self.settings, transcripts)
                await self.recorder.start()
            except DatabaseError as exc:  # chat still works live, without history
                log.warning("webchat_history_unavailable", error=str(exc))
        producer = AIOKafkaProducer(bootstrap_servers=self.settings.kafka_bootstrap, acks="all")
        await producer.start()
        self.chat.typing_producer = producer
        topic = self.settings.topic
        outbound = await _assigned(self.settings, topic("omniroute.outbound.v1"), from_end=True)
        typing = await _assigned(self.settings, topic(TYPING_TOPIC), from_end=True)
        self._consumers = [outbound, typing]
        self._tasks = [asyncio.create_task(self._replies(outbound)),
                       asyncio.create_task(self._typing(typing)),
                       asyncio.create_task(follow_stats(self.settings, self._on_duty))]

    async def stop(self) -> None:
        """Stop the feeds, the recorder, the producer and the pool."""
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for consumer in self._consumers:
            await consumer.stop()
        if self.recorder is not None:
            await self.recorder.stop()
        if self.chat.typing_producer is not None:
            await self.chat.typing_producer.stop()
            self.chat.typing_producer = None
        if self.chat.transcripts is not None:
            await self.chat.transcripts.stop()

    async def _replies(self, consumer: AIOKafkaConsumer) -> None:
        async for record in consumer:
            message = webchat_reply(record.value)
            if message is not None and self.chat.hub.sockets.get(message.recipient.value):
                await self._push(message)

    async def _push(self, message: OutboundMessage) -> None:
        started = time.perf_counter()
        address = message.recipient.value
        frame = reply_frame(message)
        try:
            await self.chat.remember(address, frame, message.occurred_at)  # a reload sees it
        except (DatabaseError, asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
            # Pushed all the same; the transcript recorder stores it once PostgreSQL is back.
            # (This used to end the live feed: no reply was pushed until a restart.)
            log.warning("webchat_reply_unremembered", event_id=message.event_id, error=str(exc))
        self._learn(message.conversation_id, address)
        pushed = await self.chat.hub.push(address, frame)
        log.info("webchat_reply_pushed", event_id=message.event_id, sockets=pushed)
        if pushed:
            MESSAGES.labels("webchat", "omniroute.outbound.v1", "webchat", "in").inc()
            status = receipt_status(message.workspace, message.event_id,
                                    message.conversation_id, address, DeliveryState.SENT)
            try:
                await self.publisher.publish([status])
            except (InfrastructureError, OSError) as exc:
                log.warning("webchat_sent_status_unpublished", event_id=message.event_id,
                            error=str(exc))
            else:
                count_published("webchat", [status])
            PROCESSING_SECONDS.labels("webchat").observe(time.perf_counter() - started)

    def _learn(self, conversation_id: str, address: str) -> None:
        known = self._addresses.setdefault(conversation_id, [])
        if address not in known:
            known.append(address)
        self._addresses.move_to_end(conversation_id)
        while len(self._addresses) > ADDRESS_CACHE:
            self._addresses.popitem(last=False)

    async def addresses_of(self, conversation_id: str) -> list[str]:
        """The visitor addresses of a conversation (memory first, then the transcripts)."""
        known = self._addresses.get(conversation_id)
        if known:
            return known
        transcripts = self.chat.transcripts
        if transcripts is None or transcripts.pool is None:
            return []
        try:
            found = await transcripts.addresses(self.settings.workspace, conversation_id)
        except (asyncpg.PostgresError, OSError) as exc:
            log.warning("webchat_typing_lookup_failed", error=str(exc))
            return []
        for address in found:
            self._learn(conversation_id, address)
        return found

    async def _typing(self, consumer: AIOKafkaConsumer) -> None:
        async for record in consumer:
            try:
                signal = TypingSignal.from_json_bytes(record.value or b"")
            except (ValueError, TypeError):
                continue  # a malformed indicator is worth nothing: skip it
            if signal.actor != "agent" or signal.conversation_id is None:
                continue
            for address in await self.addresses_of(signal.conversation_id):
                await self.chat.hub.push(address, signal.visitor_frame())

    async def _on_duty(self, pool: str, doc: dict[str, Any]) -> None:
        staffing = published_staffing(doc)
        if staffing is not None:  # else an older router's figures, without staffing
            await self.chat.hub.set_on_duty(pool, staffing.available, staffing.published_at,
                                            time.time())
