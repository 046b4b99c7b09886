"""Pool statistics for supervisors, from the routers to the gateway (thin shell).

Every router process refreshes the statistics of the pools it decides every 2 s
(:func:`omniroute.routing.metrics.observe_pool`); :func:`publish_stats` puts the
fresh ones on the compacted topic ``omniroute.internal.routing-stats`` (key pool,
JSON :func:`omniroute.routing.stats.pool_stats` plus ``published_at``), and
:func:`read_stats` gives the latest per pool, which the gateway serves as
``GET /api/v1/routing/stats``. Advisory figures: plain (not transactional)
produce; a pool that moved to another router is published by its new owner, and
the old owner stops publishing it (only pools observed in the last
``FRESH_S`` seconds are published). :func:`follow_stats` applies them as they come
(workers' expected waits, the web chat's offer of chat); readers count a pool's figures
for :data:`omniroute.routing.stats.TRUSTED_S` after they were published.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable
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


async def follow_stats(settings: Settings,
                       apply: Callable[[str, dict[str, Any]], Awaitable[None] | None],
                       caught_up: asyncio.Event | None = None, *,
                       until_caught_up: bool = False) -> None:
    """Apply every pool's statistics (awaiting ``apply`` when it returns an awaitable), the
    latest kept on the compacted topic first, then as the routers publish them. Forever
    (run it as a task), or ``until_caught_up``; ``caught_up`` is set once the kept ones
    were read (or there is no topic yet). Records that are not JSON objects are skipped."""
    topic = settings.topic(STATS_TOPIC)
    reader = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, group_id=None,
                              enable_auto_commit=False, fetch_max_wait_ms=500)
    await reader.start()
    try:
        while not (tps := await consumer_partitions(reader, topic)):
            if caught_up is not None:
                caught_up.set()  # no router published anything yet
            if until_caught_up:
                return
            await asyncio.sleep(5)
        reader.assign(tps)
        await reader.seek_to_beginning(*tps)
        ends = await reader.end_offsets(tps)
        behind = True
        while True:
            if behind and all([await reader.position(tp) >= ends[tp] for tp in tps]):
                behind = False
                if caught_up is not None:
                    caught_up.set()
                if until_caught_up:
                    return
            for records in (await reader.getmany(*tps, timeout_ms=1000)).values():
                for record in records:
                    try:
                        doc = json.loads(record.value)
                        pool = record.key.decode()
                    except (ValueError, TypeError, AttributeError):
                        continue
                    if isinstance(doc, dict) and (pending := apply(pool, doc)) is not None:
                        await pending
    finally:
        await reader.stop()


async def read_stats(settings: Settings) -> dict[str, dict[str, Any]]:
    """The latest statistics of every pool (read to the end of the compacted topic)."""
    latest: dict[str, dict[str, Any]] = {}
    await follow_stats(settings, latest.__setitem__, until_caught_up=True)
    return latest
