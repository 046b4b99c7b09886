"""Producing to and reading from the real test broker."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition

from omniroute.routing.entry import ENTRY_TOPICS, request_of
from omniroute.routing.requests import RoutingRequest


async def produce(bootstrap: str, topic: str, records: list[tuple[bytes | None, bytes]]) -> None:
    """Write ``(key, value)`` records with acks=all and wait for every acknowledgement."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for key, value in records:
            await producer.send_and_wait(topic, value, key=key)
    finally:
        await producer.stop()


async def consume(
    bootstrap: str,
    topic: str | tuple[str, ...],
    count: int,
    timeout: float = 30.0,
    where: Callable[[ConsumerRecord], bool] = lambda _record: True,
) -> list[ConsumerRecord]:
    """Read ``topic`` (or several) from the beginning until ``count`` matching records arrived.

    Returns what arrived when ``timeout`` passes, so a test can assert on a
    shortfall (and on "nothing more arrived").
    """
    consumer = AIOKafkaConsumer(
        *((topic,) if isinstance(topic, str) else topic),
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
        isolation_level="read_committed",
    )
    await consumer.start()
    found: list[ConsumerRecord] = []
    deadline = time.monotonic() + timeout
    try:
        while len(found) < count and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            for records in batch.values():
                found.extend(r for r in records if where(r))
            await asyncio.sleep(0)
    finally:
        await consumer.stop()
    return found


async def consume_all(
    bootstrap: str,
    topic: str | tuple[str, ...],
    where: Callable[[ConsumerRecord], bool] = lambda _record: True,
) -> list[ConsumerRecord]:
    """Every committed record of ``topic`` (or several) so far (up to their end offsets
    when called), without waiting for more: "everything so far" in one read, not a
    timeout."""
    topics = (topic,) if isinstance(topic, str) else topic
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        group_id=None,
        isolation_level="read_committed",
    )
    await consumer.start()
    found: list[ConsumerRecord] = []
    try:
        partitions = [TopicPartition(name, p) for name in topics
                      for p in consumer.partitions_for_topic(name) or ()]
        if len({tp.topic for tp in partitions}) < len(topics):
            await consumer._client.force_metadata_update()
            partitions = [TopicPartition(name, p) for name in topics
                          for p in consumer.partitions_for_topic(name) or ()]
        ends = await consumer.end_offsets(partitions)  # last stable offsets: read committed
        todo = [tp for tp in partitions if ends[tp] > 0]
        if todo:
            consumer.assign(todo)
            await consumer.seek_to_beginning(*todo)
        deadline = time.monotonic() + 60
        while todo:
            assert time.monotonic() < deadline, f"{topic}: never reached {ends}"
            batch = await consumer.getmany(*todo, timeout_ms=200)
            for tp, records in batch.items():
                found.extend(r for r in records if r.offset < ends[tp] and where(r))
            todo = [tp for tp in todo if await consumer.position(tp) < ends[tp]]
    finally:
        await consumer.stop()
    return found


async def routing_requests(bootstrap: str, namespace: str, count: int, timeout: float = 30.0,
                           where: Callable[[RoutingRequest], bool] = lambda _request: True,
                           ) -> list[RoutingRequest]:
    """Routing requests as their producers wrote them, on either entry topic (straight into
    a pool's stream, or to the router's request topic), in the order they were written,
    until ``count`` match ``where``."""
    def wanted(record: ConsumerRecord) -> bool:
        request = request_of(record.topic, record.value)
        return request is not None and where(request)

    records = await consume(bootstrap, tuple(namespace + t for t in ENTRY_TOPICS), count,
                            timeout, wanted)
    records.sort(key=lambda r: r.timestamp)
    return [request for r in records if (request := request_of(r.topic, r.value))]


async def routing_requests_so_far(
    bootstrap: str, namespace: str,
    where: Callable[[RoutingRequest], bool] = lambda _request: True,
) -> list[RoutingRequest]:
    """Every routing request committed so far on either entry topic, in the order they
    were written, without waiting for more (:func:`routing_requests` waits for a count)."""
    def wanted(record: ConsumerRecord) -> bool:
        request = request_of(record.topic, record.value)
        return request is not None and where(request)

    records = await consume_all(bootstrap, tuple(namespace + t for t in ENTRY_TOPICS), wanted)
    records.sort(key=lambda r: r.timestamp)
    return [request for r in records if (request := request_of(r.topic, r.value))]


async def publish_on_duty(bootstrap: str, namespace: str, pool: str, agents: int,
                          at: float | None = None) -> None:
    """What a router publishes every 2 s about ``pool``, reduced to ``agents`` on duty (the
    figures web chat availability and expected waits read), as of ``at`` (now)."""
    import json

    from omniroute.routing.statsfeed import STATS_TOPIC

    doc = {"pool": pool, "waiting": 0, "published_at": time.time() if at is None else at,
           "staffing": {"available": agents, "free_slots": agents, "concurrency": 1}}
    await produce(bootstrap, namespace + STATS_TOPIC, [(pool.encode(), json.dumps(doc).encode())])
