"""The history sink: every public topic into PostgreSQL, batched, idempotent, lossless.

One loop: read a batch (aiokafka, no auto-commit) → decode (bad records go to
the dead-letter topic) → write it in one transaction (:func:`write_batch`) →
commit the offsets. While PostgreSQL is down the loop keeps retrying the same
batch with exponential backoff and never commits past it, so nothing is lost
and the sink resumes by itself. A record PostgreSQL refuses for its content is
written alone and, failing again, dead-lettered.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
from aiokafka import (
    AIOKafkaConsumer,
    AIOKafkaProducer,
    ConsumerRebalanceListener,
    ConsumerRecord,
    TopicPartition,
)
from aiokafka.errors import CommitFailedError, KafkaError
from prometheus_client import Gauge
from pydantic import ValidationError

from omniroute.contract import PUBLIC_TOPICS, DeadLetter, Envelope, PublicTopic
from omniroute.history.retention import DEFAULT_DAYS, Horizon, Policy, load_policies
from omniroute.history.store import write_batch
from omniroute.infra.membership import leave_and_stop
from omniroute.infra.postgres import UNAVAILABLE, connect
from omniroute.infra.taking import Taking
from omniroute.observability.logs import get_logger
from omniroute.observability.pipeline import (
    DEAD_LETTERS,
    MESSAGES,
    PROCESSING_SECONDS,
    REBALANCES,
    RETRIES,
)
from omniroute.settings import Settings

PROCESSOR = "history-sink"
GROUP = "omniroute.history-sink"
COMPONENT = "sink"
STAGE = "history"

POLICIES_TTL = 60.0
"""Seconds the sink keeps retention policies before reading them again."""

DB_UP = Gauge("omniroute_sink_database_up", "1 while the sink's last database write succeeded.")

TRANSIENT = (*UNAVAILABLE, asyncpg.TransactionRollbackError)
"""Errors that mean "the database is not there right now": retry the same batch."""

log = get_logger(__name__)


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff between attempts: ``initial * 2**attempt``, at most ``cap``."""

    initial: float = 0.2
    cap: float = 10.0

    def delay(self, attempt: int) -> float:
        """Seconds to wait before attempt number ``attempt + 1``."""
        return float(min(self.cap, self.initial * 2 ** min(attempt, 30)))


class Rejected(Exception):
    """A record that is not a valid event of its topic."""


class _CountRebalances(ConsumerRebalanceListener):  # type: ignore[misc]
    """REBALANCES on every partition assignment of the sink's consumer group; records
    taken ahead for partitions that move are dropped (their new owner reads them)."""

    def __init__(self, taking: Taking) -> None:
        self.taking = taking

    async def on_partitions_revoked(self, revoked: Any) -> None:
        """Nothing to flush: offsets are committed only after each batch is durable."""
        self.taking.drop(revoked)

    async def on_partitions_assigned(self, assigned: Any) -> None:
        """Count the rebalance."""
        self.taking.drop(assigned)
        REBALANCES.labels(COMPONENT).inc()


def channel_of(event: Envelope | None) -> str:
    """The ``channel`` label of an event: its channel, else "none"."""
    channel = getattr(event, "channel", None)
    return str(channel.value) if channel is not None else "none"


def decode(topic: PublicTopic, value: bytes | None) -> Envelope:
    """The event a record carries, or :class:`Rejected` saying why not."""
    if not value:
        raise Rejected("empty record value")
    try:
        return topic.model.from_json_bytes(value)
    except ValidationError as exc:
        raise Rejected(f"not a valid {topic.model.__name__}: {exc.errors()[0]['msg']}") from exc


class HistorySink:
    """Consumes every public topic of a deployment and writes history."""

    def __init__(self, settings: Settings, database_url: str, *, batch_size: int = 1000,
                 backoff: Backoff | None = None, retention_days: int = DEFAULT_DAYS) -> None:
        self.settings = settings
        self.database_url = database_url
        self.batch_size = batch_size
        self.backoff = backoff or Backoff()
        self.topics = {settings.topic(t.name): t for t in PUBLIC_TOPICS}
        self._conn: asyncpg.Connection | None = None
        self.written = 0
        self.retention_days = retention_days
        self._policies: tuple[float, list[Policy]] | None = None

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until ``stop`` is set; offsets are committed only after each DB commit."""
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.settings.kafka_bootstrap,
            group_id=self.settings.topic(GROUP), enable_auto_commit=False,
            auto_offset_reset="earliest", isolation_level="read_committed",
            max_poll_interval_ms=3_600_000, group_instance_id=self.settings.instance_id,
        )
        producer = AIOKafkaProducer(bootstrap_servers=self.settings.kafka_bootstrap,
                                    acks="all", enable_idempotence=True)
        taking = Taking(consumer)  # records arriving during a write: infra/taking.py
        consumer.subscribe(list(self.topics), listener=_CountRebalances(taking))
        await consumer.start()
        await producer.start()
        log.info("sink started", topics=len(self.topics))
        try:
            while not stop.is_set():
                batch = await taking.poll(200, self.batch_size)
                if batch:  # only partitions with records
                    await taking.during(self._handle_and_commit(consumer, producer, batch,
                                                                stop))
        finally:
            await leave_and_stop(consumer)
            await producer.stop()
            if self._conn is not None:
                await self._conn.close()

    async def _handle_and_commit(self, consumer: AIOKafkaConsumer, producer: AIOKafkaProducer,
                                 batch: dict[TopicPartition, list[ConsumerRecord]],
                                 stop: asyncio.Event) -> None:
        await self.handle([r for part in batch.values() for r in part], producer, stop)
        await self._commit(consumer, batch)

    async def handle(self, records: list[ConsumerRecord], producer: AIOKafkaProducer,
                     stop: asyncio.Event) -> None:
        """Decode, dead-letter what is bad, and write the rest durably."""
        received = time.perf_counter()
        events: list[tuple[ConsumerRecord, str, Envelope]] = []
        counts: Counter[tuple[str, str]] = Counter()
        for record in records:
            topic = self.topics[record.topic]
            try:
                event = decode(topic, record.value)
            except Rejected as exc:
                counts[topic.name, "none"] += 1
                await self._dead_letter(producer, record, str(exc), "Rejected")
                continue
            counts[topic.name, channel_of(event)] += 1
            events.append((record, topic.slug, event))
        if events:
            await self._write_durably(events, producer, stop)
        for (topic_name, channel), count in counts.items():
            MESSAGES.labels(COMPONENT, topic_name, channel, "in").inc(count)
        elapsed = time.perf_counter() - received
        for _ in records:  # each record waited for the whole batch to be durable
            PROCESSING_SECONDS.labels(STAGE).observe(elapsed)

    async def _write_durably(self, events: list[tuple[ConsumerRecord, str, Envelope]],
                             producer: AIOKafkaProducer, stop: asyncio.Event) -> None:
        attempt = 0
        while True:
            try:
                conn = await self._connection()
                new = await write_batch(conn, [(s, e) for _, s, e in events],
                                        horizon=await self._horizon(conn))
                DB_UP.set(1)
                self.written += new
                return
            except TRANSIENT as exc:
                await self._drop_connection()
                DB_UP.set(0)
                RETRIES.labels(COMPONENT, "database_write").inc()
                delay = self.backoff.delay(attempt)
                attempt += 1
                log.warning("database unavailable; retrying the batch", error=str(exc),
                            attempt=attempt, delay_seconds=delay)
                await asyncio.sleep(delay)
            except asyncpg.PostgresError as exc:
                if len(events) == 1:
                    await self._dead_letter(producer, events[0][0], f"database refused it: {exc}",
                                            type(exc).__name__)
                    return
                log.warning("database refused a batch; writing its records one by one",
                            error=str(exc))
                for one in events:
                    await self._write_durably([one], producer, stop)
                return

    async def _horizon(self, conn: asyncpg.Connection) -> Horizon:
        """Retention as the job applies it (policies re-read every minute): the sink never
        stores a message the job has expired, or would at its next run."""
        now = time.monotonic()
        if self._policies is None or now - self._policies[0] > POLICIES_TTL:
            self._policies = (now, await load_policies(conn))
        return Horizon.of(self._policies[1], self.retention_days, datetime.now(UTC))

    async def _connection(self) -> asyncpg.Connection:
        if self._conn is None or self._conn.is_closed():
            self._conn = await connect(self.database_url,
                                       timeout=self.settings.database_connect_timeout)
        return self._conn

    async def _drop_connection(self) -> None:
        if self._conn is not None:
            self._conn.terminate()
            self._conn = None

    async def _dead_letter(self, producer: AIOKafkaProducer, record: ConsumerRecord,
                           reason: str, error_type: str) -> None:
        slug = self.topics[record.topic].slug
        if slug == "dlq":  # never dead-letter the dead-letter topic into itself
            log.warning("unreadable dead letter skipped", offset=record.offset, reason=reason)
            return
        letter = DeadLetter.for_record(
            processor=PROCESSOR, topic=record.topic, partition=record.partition,
            offset=record.offset, key=record.key, value=record.value, error=reason,
            error_type=error_type,
        )
        await producer.send_and_wait(self.settings.topic("omniroute.dlq.v1"),
                                     letter.to_json_bytes(), key=record.key)
        DEAD_LETTERS.labels(PROCESSOR, error_type).inc()
        MESSAGES.labels(COMPONENT, "omniroute.dlq.v1", channel_of(None), "out").inc()
        log.warning("record dead-lettered", topic=record.topic, offset=record.offset,
                    reason=reason)

    async def _commit(self, consumer: AIOKafkaConsumer,
                      batch: dict[TopicPartition, list[ConsumerRecord]]) -> None:
        offsets = {tp: records[-1].offset + 1 for tp, records in batch.items() if records}
        try:
            await consumer.commit(offsets)
        except (CommitFailedError, KafkaError) as exc:
            # The rows are durable and idempotent: a redelivery after a rebalance is harmless.
            log.warning("offset commit failed; the batch may be redelivered", error=str(exc))
