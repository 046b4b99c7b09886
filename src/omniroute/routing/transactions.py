"""The router's transactional loop: one aiokafka consumer and one transactional producer
whose outputs and consumed offsets commit together or not at all.

The transactional id is ``omniroute-router-{loop}-{instance}`` in the namespace: a
restart with the same instance fences (and aborts) its previous incarnation.
"""

from __future__ import annotations

import time
from collections import Counter as Tally
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.producer import sender as aiokafka_sender

from omniroute.observability.pipeline import MESSAGES, PROCESSING_SECONDS, REBALANCES
from omniroute.routing import metrics, snapshot
from omniroute.routing.wire import Record
from omniroute.settings import Settings

Placed = tuple[str, int, bytes, bytes]
"""(topic before namespacing, partition, key, value): a record sent to a set partition."""


RETRY_BACKOFF_MS = 5


def fast_transaction_retries() -> None:
    """Retry a transaction that starts before the previous one's markers are written
    after ``RETRY_BACKOFF_MS`` instead of aiokafka's fixed 20 ms (KAFKA-5477).

    A busy loop begins its next transaction right after a commit; the coordinator
    answers CONCURRENT_TRANSACTIONS until the commit markers are written (about a
    millisecond locally), and aiokafka then sleeps ``BACKOFF_OVERRIDE``. Measured in
    ``bench/routing/bench_e2e.py``, that sleep was the largest fixed cost per hop.
    """
    aiokafka_sender.BACKOFF_OVERRIDE = RETRY_BACKOFF_MS / 1000


class Loop:
    """One consume-transform-produce loop with a transactional producer."""

    def __init__(self, settings: Settings, name: str, topics: list[str], instance: str) -> None:
        fast_transaction_retries()
        self.settings = settings
        self.group = settings.topic(f"omniroute-router-{name}")
        self.topics = [settings.topic(t) for t in topics]
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=settings.kafka_bootstrap, group_id=self.group,
            enable_auto_commit=False, isolation_level="read_committed",
            auto_offset_reset="earliest", max_poll_records=500,
            # read_committed fetches otherwise wait up to 500 ms for the last stable offset
            fetch_max_wait_ms=10)
        self.producer = AIOKafkaProducer(
            bootstrap_servers=settings.kafka_bootstrap, acks="all", enable_idempotence=True,
            transactional_id=settings.topic(f"omniroute-router-{name}-{instance}"), linger_ms=2,
            # a transaction begun right after a commit meets CONCURRENT_TRANSACTIONS: retry fast
            retry_backoff_ms=RETRY_BACKOFF_MS, max_request_size=snapshot.MAX_BYTES + 65536)

    async def start(self, listener: ConsumerRebalanceListener | None = None) -> None:
        """Connect; the transactional id fences (and aborts) any previous incarnation."""
        await self.producer.start()
        self.consumer.subscribe(self.topics, listener=listener)
        await self.consumer.start()

    async def stop(self) -> None:
        """Disconnect (an open transaction is aborted by the broker)."""
        await self.consumer.stop()
        await self.producer.stop()

    async def commit(self, records: list[Record], offsets: dict[TopicPartition, int],
                     placed: list[Placed] | None = None,
                     channels: list[str] | None = None) -> None:
        """Publish ``records`` (and ``placed`` ones) and the consumed offsets atomically;
        then count what went out (``channels``: one per record, else "none")."""
        async with self.producer.transaction():
            for topic, key, value in records:
                await self.producer.send(self.settings.topic(topic), value, key=key)
            for topic, partition, key, value in placed or ():
                await self.producer.send(self.settings.topic(topic), value, key=key,
                                         partition=partition)
            if offsets:
                await self.producer.send_offsets_to_transaction(offsets, self.group)
        sent = Tally(zip((r[0] for r in records), channels or ["none"] * len(records),
                         strict=True))
        for (topic, channel), n in sent.items():
            MESSAGES.labels(metrics.COMPONENT, topic, channel, "out").inc(n)


class Rebalances(ConsumerRebalanceListener):  # type: ignore[misc]
    """Counts partition assignments of a consumer group (REBALANCES)."""

    async def on_partitions_revoked(self, revoked: Any) -> None:
        """Nothing to hand over."""

    async def on_partitions_assigned(self, assigned: Any) -> None:
        """Count the assignment."""
        REBALANCES.labels(metrics.COMPONENT).inc()


def observe_processing(batch: dict[TopicPartition, list[ConsumerRecord]],
                       received: float) -> None:
    """PROCESSING_SECONDS per record: from the batch's receipt to its commit."""
    elapsed = time.perf_counter() - received
    for records in batch.values():
        for _ in records:
            PROCESSING_SECONDS.labels(metrics.COMPONENT).observe(elapsed)
