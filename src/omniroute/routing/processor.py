"""The router's stream processor: two exactly-once aiokafka loops around the pure core.

1. **Repartition**: routing requests (key conversation) and agent events (key
   agent) are stamped with the time and rewritten to one ordered stream per
   pool (``omniroute.internal.routing-pool-events``, key pool).
2. **Decide**: each pool-stream partition is folded through
   :func:`omniroute.routing.engine.decide`; decisions go out as assignments,
   conversation events and forwarded pool records.

Each loop is consume-transform-produce in one Kafka transaction: outputs and
the consumer offsets commit together or not at all. A pool's state is the fold
of its stream, so after a crash it is rebuilt by replaying the stream up to the
committed offset (deterministic core) and nothing is published twice or lost.
Ticks are written into the pool stream by the decide loop, so time is in the log.

Snapshots bound restart time: every ``snapshot_every`` inputs of a partition, the
decide loop writes each of its pools' state (with the pool-stream offset it
reflects) to the compacted ``omniroute.internal.routing-snapshots`` topic, in
the same transaction as the outputs and offsets. Restore = latest snapshots of
the partition + replay of the stream's tail from their offset.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter as Tally
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.producer import sender as aiokafka_sender

from omniroute.observability.logs import get_logger
from omniroute.observability.pipeline import MESSAGES, PROCESSING_SECONDS, REBALANCES
from omniroute.routing import metrics, snapshot
from omniroute.routing.config import DEFAULT_POOL
from omniroute.routing.engine import InputFailed, decide, new_pool
from omniroute.routing.events import Decision
from omniroute.routing.live import CONFIG_TOPIC, LiveConfig, configure_records, decode
from omniroute.routing.policy import PoolPolicy
from omniroute.routing.shell import (
    PoisonRecord,
    dead_letter,
    translate_input,
)
from omniroute.routing.state import PoolState
from omniroute.routing.wire import (
    POOL_TOPIC,
    Record,
    outputs,
    pool_record,
    to_core,
)
from omniroute.settings import Settings

log = get_logger("omniroute.router")
AGENT_EVENTS = "omniroute.agent-events.v1"
REQUESTS = "omniroute.internal.routing-requests"
SNAPSHOTS = "omniroute.internal.routing-snapshots"
SNAPSHOT_EVERY = 5000
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


async def run_repartition(settings: Settings, instance: str, stop: asyncio.Event,
                          live: LiveConfig | None = None) -> None:
    """Rewrite requests and agent events into per-pool streams until ``stop``, choosing
    pools by the live configuration (followed here unless ``live`` is given); the
    instance that owns the routing-config partition writes each version into the pools."""
    live = live or LiveConfig()
    follower = asyncio.create_task(live.follow(settings, stop)) if not live.ready.is_set() \
        else None
    if follower is not None:
        await _first(live.ready.wait(), follower)
    loop = Loop(settings, "repartition", [REQUESTS, AGENT_EVENTS, CONFIG_TOPIC], instance)
    await loop.start(listener=Rebalances())
    config_topic = settings.topic(CONFIG_TOPIC)
    try:
        while not stop.is_set():
            batch = await loop.consumer.getmany(timeout_ms=100, max_records=500)
            if not batch:
                continue
            received = time.perf_counter()
            out: list[Record] = []
            offsets: dict[TopicPartition, int] = {}
            now = time.time()
            for tp, records in batch.items():
                for record in records:
                    if record.topic == config_topic:
                        out.extend(_configuration(record, live, now))
                    else:
                        out.extend(translate_input(settings, live.config, record, now))
                offsets[tp] = records[-1].offset + 1
            await loop.commit(out, offsets)
            observe_processing(batch, received)
    finally:
        await loop.stop()
        if follower is not None:
            await asyncio.gather(follower, return_exceptions=True)


async def _first(ready: Any, follower: asyncio.Task[None]) -> None:
    """Wait until the configuration is read (or its follower failed: raise that)."""
    waiter = asyncio.ensure_future(ready)
    await asyncio.wait([waiter, follower], return_when=asyncio.FIRST_COMPLETED)
    if not waiter.done():
        waiter.cancel()
        follower.result()


def _configuration(record: ConsumerRecord, live: LiveConfig, now: float) -> list[Record]:
    """A routing-config version: configure inputs for every pool it concerns."""
    try:
        version = decode(record.value or b"", record.offset)
    except Exception as exc:
        log.warning("router.config_unreadable", offset=record.offset, error=str(exc))
        return []
    live.offer(version)
    return configure_records(version, now)


class Decider(ConsumerRebalanceListener):  # type: ignore[misc]
    """Holds the pools of the pool-stream partitions this process owns."""

    def __init__(self, settings: Settings, loop: Loop,
                 on_decisions: Callable[[list[Decision]], None] = metrics.count,
                 snapshot_every: int = SNAPSHOT_EVERY) -> None:
        self.settings = settings
        self.loop = loop
        self.pools: dict[TopicPartition, dict[str, PoolState]] = {}
        self.channels: list[str] = []
        self.snapshot_every = snapshot_every
        self.unsnapshotted: dict[TopicPartition, int] = {}
        self.on_decisions = on_decisions
        # a rebalance must not restore from offsets an in-flight transaction is moving
        self.lock = asyncio.Lock()

    async def on_partitions_revoked(self, revoked: Any) -> None:
        async with self.lock:
            for tp in revoked:
                self.pools.pop(tp, None)
                self.unsnapshotted.pop(tp, None)

    async def on_partitions_assigned(self, assigned: Any) -> None:
        REBALANCES.labels(metrics.COMPONENT).inc()
        # aiokafka may fetch while this runs: hold the partitions until their pools exist
        self.loop.consumer.pause(*assigned)
        async with self.lock:
            for tp in assigned:
                committed = await self.loop.consumer.committed(tp) or 0
                self.pools[tp] = await self.restore(tp, committed)
                self.unsnapshotted[tp] = 0
        self.loop.consumer.resume(*assigned)

    async def restore(self, tp: TopicPartition, until: int) -> dict[str, PoolState]:
        """Rebuild a partition's pools: latest snapshots, then the committed inputs after
        them (no output). Without snapshots the whole committed stream is replayed."""
        if until <= 0:
            return {}
        reader = AIOKafkaConsumer(bootstrap_servers=self.settings.kafka_bootstrap,
                                  group_id=None, enable_auto_commit=False,
                                  isolation_level="read_committed", max_poll_records=2000)
        await reader.start()
        try:
            snaps = await self.latest_snapshots(reader, tp.partition, until)
            pools = {pool: snap.state for pool, snap in snaps.items()}
            since = {pool: snap.offset for pool, snap in snaps.items()}
            start = min(since.values(), default=0)
            replayed = await self.replay(reader, tp, pools, since, start, until)
        finally:
            await reader.stop()
        log.info("router.restored", partition=tp.partition, inputs=replayed, pools=len(pools),
                 snapshots=len(snaps), replay_from=start, committed=until)
        return pools

    async def latest_snapshots(self, reader: AIOKafkaConsumer, partition: int,
                               until: int) -> dict[str, snapshot.Snapshot]:
        """The newest snapshot of each pool in the partition's snapshot log; none at all if
        one cannot be loaded (a pool missing from the set would lose its early inputs)."""
        stp = TopicPartition(self.settings.topic(SNAPSHOTS), partition)
        reader.assign([stp])
        await reader.seek_to_beginning(stp)
        end = (await reader.end_offsets([stp]))[stp]
        found: dict[str, snapshot.Snapshot] = {}
        while await reader.position(stp) < end:
            for records in (await reader.getmany(stp, timeout_ms=200)).values():
                for record in records:
                    snap = snapshot.load(record.value or b"")
                    if snap is None:
                        log.warning("router.snapshot_unusable", partition=partition,
                                    offset=record.offset)
                        return {}
                    if snap.offset <= until:
                        found[snap.pool] = snap
        return found

    async def replay(self, reader: AIOKafkaConsumer, tp: TopicPartition,
                     pools: dict[str, PoolState], since: dict[str, int], start: int,
                     until: int) -> int:
        """Fold the committed inputs ``start..until`` into ``pools``; a pool restored from
        a snapshot skips what the snapshot already reflects."""
        reader.assign([tp])
        reader.seek(tp, start)
        replayed = 0
        while await reader.position(tp) < until:
            for records in (await reader.getmany(tp, timeout_ms=200)).values():
                for record in records:
                    if record.offset >= until:
                        continue
                    pool = (record.key or b"").decode()
                    if record.offset < since.get(pool, 0):
                        continue
                    with contextlib.suppress(PoisonRecord):
                        self.apply(pools, record)
                    replayed += 1
        return replayed

    def snapshots(self, tp: TopicPartition, records: int, next_offset: int) -> list[Placed]:
        """Snapshot records for all the partition's pools once enough inputs went by (all
        or none: restore relies on every pool of a round being in it)."""
        self.unsnapshotted[tp] = self.unsnapshotted.get(tp, 0) + records
        if self.unsnapshotted[tp] < self.snapshot_every:
            return []
        self.unsnapshotted[tp] = 0
        placed: list[Placed] = []
        for pool, state in sorted(self.pools.get(tp, {}).items()):
            value = snapshot.dump(pool, next_offset, state)
            if len(value) > snapshot.MAX_BYTES:
                log.warning("router.snapshot_too_large", pool=pool, size=len(value))
                return []
            placed.append((SNAPSHOTS, tp.partition, pool.encode(), value))
        return placed

    def apply(self, pools: dict[str, PoolState], record: ConsumerRecord) -> list[Decision]:
        """Fold one pool-stream record into its pool; a record that fails is skipped the
        same way on every replay (the core is deterministic) and dead-lettered once."""
        try:
            pool, event = to_core(record.value)
            state = pools.get(pool)
            if state is None:  # the built-in default pool takes anyone until configured
                state = pools[pool] = new_pool(PoolPolicy(pool=pool,
                                                          auto_join=pool == DEFAULT_POOL))
            started = time.perf_counter()
            pools[pool], decisions = decide(state, event)
            metrics.DECISION_SECONDS.observe(time.perf_counter() - started)
            return decisions
        except InputFailed as failed:  # the pool is kept exactly as before the input
            pools[pool] = failed.state
            log.error("router.poison_record", partition=record.partition,
                      offset=record.offset, error=str(failed))
            raise PoisonRecord(failed.__cause__ or failed) from failed
        except Exception as exc:
            log.error("router.poison_record", partition=record.partition,
                      offset=record.offset, error=str(exc))
            raise PoisonRecord(exc) from exc

    def ticks(self, now: float) -> list[Record]:
        """A tick for every pool this process owns (time enters the log as events)."""
        return [pool_record("tick", pool, now, f"tick:{pool}:{int(now * 1000)}", {})
                for pools in self.pools.values() for pool in sorted(pools)]

    def process(self, batch: dict[TopicPartition, list[ConsumerRecord]]) -> tuple[
            list[Record], dict[TopicPartition, int], list[Decision], list[Placed]]:
        """Decide a batch; returns records to publish, offsets to commit, decisions and
        snapshots due (``self.channels``: the channel of each record to publish)."""
        out: list[Record] = []
        self.channels = []
        offsets: dict[TopicPartition, int] = {}
        made: list[Decision] = []
        placed: list[Placed] = []
        workspace = self.settings.workspace
        for tp, records in batch.items():
            pools = self.pools.get(tp)
            if pools is None:  # fetched before its pools were restored: read it again later
                self.loop.consumer.seek(tp, records[0].offset)
                continue
            MESSAGES.labels(metrics.COMPONENT, POOL_TOPIC, "none", "in").inc(len(records))
            for record in records:
                try:
                    decisions = self.apply(pools, record)
                except PoisonRecord as poison:
                    out.append(dead_letter(record, poison.__cause__ or poison))
                    self.channels.append("none")
                    continue
                made.extend(decisions)
                for decision in decisions:
                    published = outputs(decision, workspace)
                    out.extend(published)
                    self.channels.extend([decision.channel or "none"] * len(published))
            offsets[tp] = records[-1].offset + 1
            placed.extend(self.snapshots(tp, len(records), offsets[tp]))
        return out, offsets, made, placed


async def run_decide(settings: Settings, instance: str, stop: asyncio.Event,
                     tick_interval: float = 1.0, snapshot_every: int = SNAPSHOT_EVERY) -> None:
    """Decide every pool of the owned partitions until ``stop``, ticking their clocks and
    snapshotting their state every ``snapshot_every`` inputs of a partition."""
    loop = Loop(settings, "decide", [POOL_TOPIC], instance)
    decider = Decider(settings, loop, snapshot_every=snapshot_every)
    await loop.start(listener=decider)
    last_tick = last_gauges = 0.0
    try:
        while not stop.is_set():
            batch = await loop.consumer.getmany(timeout_ms=100, max_records=500)
            now = time.time()
            ticks = decider.ticks(now) if now - last_tick >= tick_interval else []
            if not batch and not ticks:
                continue
            received = time.perf_counter()
            async with decider.lock:
                out, offsets, made, placed = decider.process(batch)
                if ticks:
                    last_tick = now
                await loop.commit(out + ticks, offsets, placed,
                                  decider.channels + ["none"] * len(ticks))
            observe_processing(batch, received)
            decider.on_decisions(made)
            if now - last_gauges >= 2.0:
                last_gauges = now
                for pools in decider.pools.values():
                    for state in pools.values():
                        metrics.observe_pool(state, now)
    finally:
        await loop.stop()
