"""The live feeds of one replica: agent replies to push, agent presence to show.

Each replica reads every partition itself (no consumer group: every replica
must see every reply, because the visitor may be connected to any of them).
Outbound is read from its end, pinned before the service reports started, so
no reply produced after start-up is missed; presence is read from the start,
so availability is rebuilt from Kafka and never lives only in memory.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from aiokafka import AIOKafkaConsumer

from omniroute.contract import AgentEvent, AgentEventKind, Channel, OutboundMessage
from omniroute.errors import DatabaseError
from omniroute.observability.logs import get_logger
from omniroute.settings import Settings
from omniroute_connectors.webchat.history import Transcripts
from omniroute_connectors.webchat.hub import Hub

log = get_logger(__name__)


def agent_frame(message: OutboundMessage) -> dict[str, Any]:
    """How an agent reply appears on the visitor's screen and in the transcript."""
    return {
        "type": "message", "direction": "agent", "event_id": message.event_id,
        "text": message.text or "", "author": message.author.name or "",
        "attachments": [a.url for a in message.attachments if a.url],
        "at": message.occurred_at.isoformat(),
    }


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
    """Service: push agent replies live, track availability, own the transcript pool."""

    def __init__(self, settings: Settings, hub: Hub, transcripts: Transcripts | None) -> None:
        self.settings = settings
        self.hub = hub
        self.transcripts = transcripts
        self._tasks: list[asyncio.Task[None]] = []
        self._consumers: list[AIOKafkaConsumer] = []

    async def start(self) -> None:
        """Open the transcript pool and pin both feeds before returning."""
        if self.transcripts is not None:
            try:
                await self.transcripts.start()
            except DatabaseError as exc:  # chat still works live, without history
                log.warning("webchat_history_unavailable", error=str(exc))
        outbound = await _assigned(self.settings, self.settings.topic("omniroute.outbound.v1"),
                                   from_end=True)
        agents = await _assigned(self.settings, self.settings.topic("omniroute.agent-events.v1"),
                                 from_end=False)
        self._consumers = [outbound, agents]
        self._tasks = [asyncio.create_task(self._replies(outbound)),
                       asyncio.create_task(self._presence(agents))]

    async def stop(self) -> None:
        """Stop both feeds and close the pool."""
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for consumer in self._consumers:
            await consumer.stop()
        if self.transcripts is not None:
            await self.transcripts.stop()

    async def _replies(self, consumer: AIOKafkaConsumer) -> None:
        async for record in consumer:
            try:
                message = OutboundMessage.from_json_bytes(record.value)
            except ValueError:
                continue  # the delivery host dead-letters malformed outbound records
            if message.channel is not Channel.WEBCHAT:
                continue
            frame = agent_frame(message)
            if self.transcripts is not None and self.transcripts.pool is not None:
                await self.transcripts.append(message.workspace, message.recipient.value, frame,
                                              message.occurred_at)
            pushed = await self.hub.push(message.recipient.value, frame)
            log.info("webchat_reply_pushed", event_id=message.event_id, sockets=pushed)

    async def _presence(self, consumer: AIOKafkaConsumer) -> None:
        async for record in consumer:
            try:
                event = AgentEvent.from_json_bytes(record.value)
            except ValueError:
                continue
            if event.kind is AgentEventKind.PRESENCE and event.presence is not None:
                await self.hub.set_presence(event.agent_id, event.presence.value)
