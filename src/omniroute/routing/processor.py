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
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener

from omniroute.observability.logs import get_logger
from omniroute.observability.pipeline import MESSAGES, REBALANCES
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
from omniroute.routing.transactions import (
    Loop,
    Placed,
    Rebalances,
    fast_transaction_retries,
    observe_processing,
)
from omniroute.routing.trimming import Trimmer
from omniroute.routing.wire import (
    POOL_TOPIC,
    Record,
    outputs,
    pool_record,
    to_core,
)
from omniroute.settings import Settings

__all__ = ["Loop", "fast_transaction_retries"]
log = get_logger("omniroute.router")
AGENT_EVENTS = "omniroute.agent-events.v1"
REQUESTS = "omniroute.internal.routing-requests"
SNAPSHOTS = "omniroute.internal.routing-snapshots"
SNAPSHOT_EVERY = 5000
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
        self.restoring: dict[TopicPartition, asyncio.Task[None]] = {}
        self.trimmer: Trimmer | None = None
        self.failed: Exception | None = None
        # a restored partition must not join a batch an in-flight transaction is deciding
        self.lock = asyncio.Lock()

    async def on_partitions_revoked(self, revoked: Any) -> None:
        async with self.lock:
            for tp in revoked:
                task = self.restoring.pop(tp, None)
                if task is not None:
                    task.cancel()
                self.pools.pop(tp, None)
                self.unsnapshotted.pop(tp, None)
                if self.trimmer is not None:
                    self.trimmer.forget(tp.partition)

    async def on_partitions_assigned(self, assigned: Any) -> None:
        """Hold the new partitions and restore them in the background: the rebalance
        callback returns at once, so heartbeats and the other partitions go on."""
        REBALANCES.labels(metrics.COMPONENT).inc()
        self.loop.consumer.pause(*assigned)
        for tp in assigned:  # committed offsets are quick to ask here (a single request)
            committed = await self.loop.consumer.committed(tp)
            self.restoring[tp] = asyncio.create_task(self._restore_and_resume(tp, committed))

    async def _restore_and_resume(self, tp: TopicPartition, committed: int | None) -> None:
        try:
            await self._restore_partition(tp, committed)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the loop must learn of it: fail loudly
            log.error("router.restore_failed", partition=tp.partition, error=repr(exc))
            self.failed = exc

    async def _restore_partition(self, tp: TopicPartition, committed: int | None) -> None:
        started = time.perf_counter()
        pools, position = await self.restore(tp, committed)
        async with self.lock:
            if self.restoring.pop(tp, None) is None:  # revoked meanwhile
                return
            self.pools[tp] = pools
            self.unsnapshotted[tp] = 0
            if position is not None:
                self.loop.consumer.seek(tp, position)
            self.loop.consumer.resume(tp)
        log.info("router.partition_ready", partition=tp.partition,
                 seconds=round(time.perf_counter() - started, 3))

    async def restore(self, tp: TopicPartition,
                      committed: int | None) -> tuple[dict[str, PoolState], int | None]:
        """Rebuild a partition's pools: latest snapshots, then the committed inputs after
        them (no output). Without snapshots the whole committed stream is replayed.

        Without a committed offset (a new group, or offsets expired after a long stop)
        the latest snapshot round says where the router was: its pools are restored and
        the returned position (else None) is where consuming resumes."""
        if committed is not None and committed <= 0:
            return {}, None
        reader = AIOKafkaConsumer(bootstrap_servers=self.settings.kafka_bootstrap,
                                  group_id=None, enable_auto_commit=False,
                                  isolation_level="read_committed", max_poll_records=2000)
        await reader.start()
        try:
            snaps = await self.latest_snapshots(reader, tp.partition, committed)
            pools = {pool: snap.state for pool, snap in snaps.items()}
            since = {pool: snap.offset for pool, snap in snaps.items()}
            start = min(since.values(), default=0)
            until = committed if committed is not None else max(since.values(), default=0)
            replayed = 0
            if until > start:
                log_start = (await reader.beginning_offsets([tp]))[tp]
                if start < log_start:
                    raise RuntimeError(
                        f"pool stream partition {tp.partition} starts at {log_start} (trimmed "
                        f"or expired) but restore needs it from {start}: no usable snapshot")
                replayed = await self.replay(reader, tp, pools, since, start, until)
        finally:
            await reader.stop()
        log.info("router.restored", partition=tp.partition, inputs=replayed, pools=len(pools),
                 snapshots=len(snaps), replay_from=start, committed=committed)
        if committed is None and snaps:
            log.warning("router.no_committed_offset", partition=tp.partition, resume_at=until)
            return pools, until
        return pools, None

    async def latest_snapshots(self, reader: AIOKafkaConsumer, partition: int,
                               until: int | None) -> dict[str, snapshot.Snapshot]:
        """The newest complete snapshot of each pool in the partition's snapshot log (at or
        below ``until``); none at all if one cannot be loaded (a pool missing from the set
        would lose its early inputs)."""
        stp = TopicPartition(self.settings.topic(SNAPSHOTS), partition)
        reader.assign([stp])
        await reader.seek_to_beginning(stp)
        end = (await reader.end_offsets([stp]))[stp]
        newest: dict[str, tuple[int, dict[int, bytes]]] = {}
        while await reader.position(stp) < end:
            for records in (await reader.getmany(stp, timeout_ms=200)).values():
                for record in records:
                    meta = snapshot.header(record.value or b"")
                    if meta is None:
                        log.warning("router.snapshot_unusable", partition=partition,
                                    offset=record.offset)
                        continue
                    offset, pool = int(meta["offset"]), str(meta["pool"])
                    if until is not None and offset > until:
                        continue
                    if pool not in newest or newest[pool][0] < offset:
                        newest[pool] = (offset, {})
                    if newest[pool][0] == offset:
                        newest[pool][1][int(meta["part"])] = record.value or b""
        found: dict[str, snapshot.Snapshot] = {}
        for pool, (_offset, parts) in sorted(newest.items()):
            snap = snapshot.load_parts([parts[n] for n in sorted(parts)])
            if snap is None:
                log.warning("router.snapshot_unusable", partition=partition, pool=pool)
                return {}
            found[pool] = snap
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
            parts = snapshot.dump_parts(pool, next_offset, state)
            placed += [(SNAPSHOTS, tp.partition, f"{pool}#{n}".encode(), value)
                       for n, value in enumerate(parts)]
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
                     tick_interval: float = 1.0, snapshot_every: int = SNAPSHOT_EVERY,
                     trim: bool = False) -> None:
    """Decide every pool of the owned partitions until ``stop``, ticking their clocks and
    snapshotting their state every ``snapshot_every`` inputs of a partition (and, with
    ``trim``, deleting the pool stream below the previous snapshot round)."""
    loop = Loop(settings, "decide", [POOL_TOPIC], instance)
    decider = Decider(settings, loop, snapshot_every=snapshot_every)
    trimmer = decider.trimmer = Trimmer(settings, POOL_TOPIC) if trim else None
    await loop.start(listener=decider)
    last_tick = last_gauges = 0.0
    try:
        while not stop.is_set():
            if decider.failed is not None:
                raise decider.failed
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
                if trimmer is not None:
                    by_partition = {tp.partition: offset for tp, offset in offsets.items()}
                    for partition in sorted({p[1] for p in placed}):
                        trimmer.committed(partition, by_partition[partition])
            observe_processing(batch, received)
            decider.on_decisions(made)
            if now - last_gauges >= 2.0:
                last_gauges = now
                for pools in decider.pools.values():
                    for state in pools.values():
                        metrics.observe_pool(state, now)
    finally:
        for task in decider.restoring.values():
            task.cancel()
        if trimmer is not None:
            await trimmer.close()
        await loop.stop()
