"""The durable half of agent replies: every web chat reply lands in the transcript.

Live pushes (:mod:`.feed`) read ``omniroute.outbound.v1`` without a consumer
group from the end, so a reply published while no replica runs would never be
pushed nor stored. The recorder closes that gap: every replica joins one
consumer group (``omniroute.webchat-transcripts``, independent of the
replica), reads from the committed offsets (the beginning for a new group),
writes each ``channel=webchat`` reply to ``webchat_messages`` and commits only
after the rows are written. A reply published while every replica is down is
recorded when the first replica starts, and appears in the history the next
time the visitor loads the widget. Appends are idempotent, so a replay after a
crash (or the live path writing the same reply) changes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib

import asyncpg
from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaError

from omniroute.contract import Channel, OutboundMessage
from omniroute.errors import DatabaseError
from omniroute.infra.membership import leave_and_stop
from omniroute.observability.logs import get_logger
from omniroute.settings import Settings
from omniroute_connectors.webchat.history import Transcripts

log = get_logger(__name__)
GROUP = "omniroute.webchat-transcripts"
RETRY_SECONDS = 1.0


def reply_frame(message: OutboundMessage) -> dict[str, object]:
    """How an agent reply is stored (``conversation_id`` is stripped before visitors see it)."""
    return {
        "type": "message", "direction": "agent", "event_id": message.event_id,
        "text": message.text or "", "author": message.author.name or "",
        "author_kind": message.author.kind.value,  # the widget names a bot in its own words
        "attachments": [a.url for a in message.attachments if a.url],
        "at": message.occurred_at.isoformat(), "conversation_id": message.conversation_id,
        "choices": [{"payload": c.payload, "title": c.title} for c in message.choices],
    }


def webchat_reply(value: bytes | None) -> OutboundMessage | None:
    """The web chat reply in a record value, or None (other channels, malformed records:
    the delivery host dead-letters those)."""
    try:
        message = OutboundMessage.from_json_bytes(value or b"")
    except ValueError:
        return None
    return message if message.channel is Channel.WEBCHAT else None


class TranscriptRecorder:
    """Service: consume outbound replies in a shared group, store them, then commit."""

    def __init__(self, settings: Settings, transcripts: Transcripts) -> None:
        self.settings = settings
        self.transcripts = transcripts
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Join the group; records are stored in the background."""
        self._consumer = AIOKafkaConsumer(
            self.settings.topic("omniroute.outbound.v1"),
            bootstrap_servers=self.settings.kafka_bootstrap,
            group_id=self.settings.topic(GROUP), enable_auto_commit=False,
            auto_offset_reset="earliest", isolation_level="read_committed",
            group_instance_id=self.settings.instance_id,
        )
        await self._consumer.start()
        self._task = asyncio.create_task(self._run(self._consumer))

    async def stop(self) -> None:
        """Leave the group (uncommitted records are re-read by the next member)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._consumer is not None:
            await leave_and_stop(self._consumer)

    async def _run(self, consumer: AIOKafkaConsumer) -> None:
        while True:
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                for record in records:
                    message = webchat_reply(record.value)
                    if message is not None:
                        await self._store(message)
            if batches:
                await self._commit(consumer)

    async def _commit(self, consumer: AIOKafkaConsumer) -> None:
        """Commit what was stored. A refused commit (a rebalance, the coordinator moving)
        is logged and left to the next one: the rows are written, and a replay after a
        rebalance appends nothing twice. (It used to end the recorder silently.)"""
        try:
            await consumer.commit()
        except KafkaError as exc:
            log.warning("webchat_transcript_commit_failed", error=repr(exc))

    async def _store(self, message: OutboundMessage) -> None:
        """Write one reply, retrying while PostgreSQL is unavailable (never skipping it)."""
        while True:
            try:
                await self.transcripts.append(message.workspace, message.recipient.value,
                                              reply_frame(message), message.occurred_at)
                return
            except (DatabaseError, asyncpg.PostgresError, OSError) as exc:
                log.warning("webchat_transcript_write_failed", event_id=message.event_id,
                            error=str(exc))
                await asyncio.sleep(RETRY_SECONDS)
