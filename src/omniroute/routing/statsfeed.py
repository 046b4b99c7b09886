"""Pool statistics for supervisors, from the routers to the gateway (thin shell).

Every router process refreshes the statistics of the pools it decides every 2 s
(:func:`omniroute.routing.metrics.observe_pool`); :func:`publish_stats` puts the
fresh ones on the compacted topic ``omniroute.internal.routing-stats`` (key pool,
JSON :func:`omniroute.routing.stats.pool_stats` plus ``published_at``), and
:func:`read_stats` gives the latest per pool, which the gateway serves as
``GET /api/v1/routing/stats``. Advisory figures: plain (not transactional)
produce; a pool that moved to another router is published by its new owner, and
the old owner stops publishing it (only pools observed in the last
``FRESH_S`` seconds are published).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from omniroute.infra.topics import consumer_partitions
from omniroute.observability.logs import get_logger
from omniroute.routing import metrics
from omniroute.settings import Settings

STATS_TOPIC = "omniroute.internal.routing-stats"
EVERY_S = 2.0
FRESH_S = 6.0
log = get_logger("omniroute.router")


def fresh(now: float) -> dict[str, dict[str, Any]]:
    """The statistics of the pools this process observed within ``FRESH_S``."""
    return {pool: {**doc, "published_at": now} for pool, (seen, doc) in
            sorted(metrics.LATEST.items()) if now - seen <= FRESH_S}


async def publish_stats(settings: Settings, stop: asyncio.Event, every_s: float = EVERY_S
                        ) -> None:
    """Publish fresh pool statistics every ``every_s`` until ``stop`` is set."""
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, linger_ms=5)
    await producer.start()
    topic = settings.topic(STATS_TOPIC)
    try:
        while not stop.is_set():
            for pool, doc in fresh(time.time()).items():
                await producer.send(topic, key=pool.encode(),
                                    value=json.dumps(doc, separators=(",", ":")).encode())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every_s)
    finally:
        await producer.stop()


async def follow_stats(settings: Settings, apply: Callable[[str, dict[str, Any]], None],
                       caught_up: asyncio.Event | None = None) -> None:
    """Apply every pool's statistics as the routers publish them, the latest kept on the
    compacted topic first (forever; run it as a task); ``caught_up`` is set once those were
    read (or there is no topic yet). Unreadable records are skipped."""
    topic = settings.topic(STATS_TOPIC)
    reader = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, group_id=None,
                              enable_auto_commit=False, fetch_max_wait_ms=500)
    await reader.start()
    try:
        while not (tps := await consumer_partitions(reader, topic)):
            if caught_up is not None:
                caught_up.set()  # no router published anything yet
            await asyncio.sleep(5)
        reader.assign(tps)
        await reader.seek_to_beginning(*tps)
        ends = await reader.end_offsets(tps)
        while True:
            for records in (await reader.getmany(*tps, timeout_ms=1000)).values():
                for record in records:
                    with contextlib.suppress(ValueError, TypeError, AttributeError):
                        doc = json.loads(record.value)
                        if isinstance(doc, dict):
                            apply(record.key.decode(), doc)
            if caught_up is not None and not caught_up.is_set() and all(
                    [await reader.position(tp) >= ends[tp] for tp in tps]):
                caught_up.set()
    finally:
        await reader.stop()


async def read_stats(settings: Settings) -> dict[str, dict[str, Any]]:
    """The latest statistics of every pool (read to the end of the compacted topic)."""
    topic = settings.topic(STATS_TOPIC)
    reader = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, group_id=None,
                              enable_auto_commit=False)
    await reader.start()
    latest: dict[str, dict[str, Any]] = {}
    try:
        tps = await consumer_partitions(reader, topic)
        if not tps:
            return latest
        reader.assign(tps)
        await reader.seek_to_beginning(*tps)
        ends = await reader.end_offsets(tps)
        while [tp for tp in tps if await reader.position(tp) < ends[tp]]:
            for records in (await reader.getmany(*tps, timeout_ms=500)).values():
                for record in records:
                    with contextlib.suppress(ValueError, TypeError, AttributeError):
                        latest[record.key.decode()] = json.loads(record.value)
    finally:
        await reader.stop()
    return latest
