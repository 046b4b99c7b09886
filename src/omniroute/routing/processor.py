"""The router's stream processor: two exactly-once aiokafka loops around the pure core.

1. **Repartition**: routing requests (key conversation) and agent events (key
   agent) are stamped with the time and rewritten to one ordered stream per
   pool (``omniroute.internal.routing-pool-events``, key pool).
2. **Decide**: each pool-stream partition is folded through
   :func:`omniroute.routing.engine.decide`; decisions go out as assignments,
   conversation events and forwarded pool records.

Each loop is consume-transform-produce, one Kafka transaction per input partition
(:mod:`omniroute.routing.transactions`: its transactional id fences any earlier
owner of the partition): outputs and the partition's offset commit together or
not at all. A pool's state is the fold of its stream, so after a crash it is
rebuilt by replaying the stream up to the committed offset (deterministic core)
and nothing is published twice or lost. Ticks are written into the pool stream
by the decide loop, so time is in the log.

Snapshots bound restart time: every ``snapshot_every`` inputs of a partition, the
decide loop begins a round of all its pools' state (with the pool-stream offset
it reflects), encoded off the loop (:mod:`omniroute.routing.snapshotter`) and
written to the compacted ``omniroute.internal.routing-snapshots`` topic in the
partition's next transaction. Restore (:mod:`omniroute.routing.recovery`) =
latest snapshots of the partition + replay of the stream's tail from their offset.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from aiokafka import ConsumerRecord, TopicPartition

from omniroute.observability.logs import get_logger
from omniroute.observability.pipeline import MESSAGES
from omniroute.routing import metrics, snapshotter
from omniroute.routing.config import DEFAULT_POOL
from omniroute.routing.engine import InputFailed, decide, new_pool
from omniroute.routing.events import Decision
from omniroute.routing.live import CONFIG_TOPIC, LiveConfig, configure_records, decode
from omniroute.routing.policy import PoolPolicy
from omniroute.routing.recovery import SNAPSHOTS, Restorer
from omniroute.routing.shell import PoisonRecord, dead_letter, translate_input
from omniroute.routing.state import PoolState
from omniroute.routing.transactions import (
    Claims,
    Loop,
    Output,
    fast_transaction_retries,
    observe_processing,
)
from omniroute.routing.trimming import Trimmer
from omniroute.routing.wire import POOL_TOPIC, Record, outputs, pool_record, to_core
from omniroute.settings import Settings

__all__ = ["SNAPSHOTS", "Loop", "fast_transaction_retries"]
log = get_logger("omniroute.router")
AGENT_EVENTS = "omniroute.agent-events.v1"
REQUESTS = "omniroute.internal.routing-requests"
SNAPSHOT_EVERY = 5000
SNAPSHOT_SECONDS = 300.0
"""A partition that decided anything is snapshotted at least this often (ticks count), so
a restart after a SIGKILL replays at most this much of the stream, as well as on a clean
stop: a router of another version then replays little or nothing the previous one decided
(see docs/routing.md, Upgrades)."""
COMMIT_INTERVAL = 0.02
"""Seconds a transaction keeps gathering inputs after the previous batch (measured in
``bench/routing/bench_e2e.py --commit-intervals``; see docs/routing.md, Latency)."""


async def run_repartition(settings: Settings, instance: str, stop: asyncio.Event,
                          live: LiveConfig | None = None, commit_interval: float = COMMIT_INTERVAL
                          ) -> None:
    """Rewrite requests and agent events into per-pool streams until ``stop``, choosing
    pools by the live configuration (followed here unless ``live`` is given); the
    instance that owns the routing-config partition writes each version into the pools.
    Each input partition's outputs commit in that partition's own transaction, at most
    every ``commit_interval`` seconds after the previous batch (0: as soon as decided)."""
    live = live or LiveConfig()
    follower = asyncio.create_task(live.follow(settings, stop)) if not live.ready.is_set() \
        else None
    if follower is not None:
        await _first(live.ready.wait(), follower)
    loop = Loop(settings, "repartition", [REQUESTS, AGENT_EVENTS, CONFIG_TOPIC], instance)
    claims = Claims(loop)
    await loop.start(listener=claims)
    config_topic = settings.topic(CONFIG_TOPIC)
    received = 0.0
    try:
        while not stop.is_set():
            if claims.failed is not None:
                raise claims.failed
            loop.check_fences()
            batch = await loop.poll(commit_interval, received)
            if not batch:
                continue
            received = time.perf_counter()
            outs: dict[TopicPartition, Output] = {}
            now = time.time()
            caught_up = False
            async with claims.lock:
                for tp, records in batch.items():
                    if not loop.owns(tp):  # fetched before its claim: read again after it
                        continue
                    out = outs[tp] = Output(offset=records[-1].offset + 1)
                    for record in records:
                        if record.topic == config_topic:
                            out.add(_configuration(record, live, now))
                            continue
                        found = translate_input(settings, live.config, record, now,
                                                park=caught_up)
                        if found is None:  # parks by what this process has read: read on
                            caught_up = True
                            await live.catch_up()
                            found = translate_input(settings, live.config, record, now)
                        out.add(found or [])
                await loop.commit_all(outs)
            observe_processing(batch, received)
    finally:
        for task in claims.restoring.values():
            task.cancel()
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


class Decider(Restorer, Claims):
    """Holds the pools of the pool-stream partitions this process owns."""

    def __init__(self, settings: Settings, loop: Loop,
                 on_decisions: Callable[[list[Decision]], None] = metrics.count,
                 snapshot_every: int = SNAPSHOT_EVERY) -> None:
        Claims.__init__(self, loop)
        self.settings = settings
        self.pools: dict[TopicPartition, dict[str, PoolState]] = {}
        self.snapshot_every = snapshot_every
        self.unsnapshotted: dict[TopicPartition, int] = {}
        self.rounds: dict[TopicPartition, snapshotter.Round] = {}
        self.positions: dict[TopicPartition, int] = {}
        """Per partition, the pool-stream offset its pools reflect (next to decide)."""
        self.last_round: dict[TopicPartition, float] = {}
        self.on_decisions = on_decisions
        self.trimmer: Trimmer | None = None

    def adopt(self, tp: TopicPartition, restored: Any) -> None:
        self.pools[tp] = restored
        self.unsnapshotted[tp] = 0
        self.last_round[tp] = time.monotonic()

    def forget(self, tp: TopicPartition) -> None:
        self.pools.pop(tp, None)
        self.unsnapshotted.pop(tp, None)
        self.positions.pop(tp, None)
        self.last_round.pop(tp, None)
        pending = self.rounds.pop(tp, None)
        if pending is not None:  # the child finishes and is reaped; its round is dropped
            pending.task.cancel()
        if self.trimmer is not None:
            self.trimmer.forget(tp.partition)

    def snapshot_due(self, tp: TopicPartition, records: int, next_offset: int) -> None:
        """Begin a snapshot round of all the partition's pools (encoded off the loop) once
        enough inputs, or :data:`SNAPSHOT_SECONDS`, went by and no round is under way."""
        self.positions[tp] = next_offset
        self.unsnapshotted[tp] = self.unsnapshotted.get(tp, 0) + records
        now = time.monotonic()
        if tp in self.rounds or (
                self.unsnapshotted[tp] < self.snapshot_every
                and now - self.last_round.setdefault(tp, now) < SNAPSHOT_SECONDS):
            return
        self.unsnapshotted[tp] = 0
        self.last_round[tp] = now
        self.rounds[tp] = snapshotter.begin(self.pools.get(tp, {}), next_offset)

    async def snapshot_on_stop(self) -> None:
        """On a clean stop, one last snapshot round of every owned partition that decided
        anything since its last round, committed in its own transaction: the next owner,
        of this version or another, restores it and replays nothing this process decided.
        (A router upgraded after a SIGKILL replayed the whole stream with its new rules and
        held conversations the old one had taken back: a user run, 2026-12-05.)"""
        outs = {tp: Output(placed=[(SNAPSHOTS, tp.partition, key, value) for key, value in
                                   snapshotter.encode(pools, self.positions[tp])])
                for tp, pools in self.pools.items()
                if pools and self.unsnapshotted.get(tp) and tp in self.positions
                and self.loop.owns(tp)}
        if not outs:
            return
        fenced = await self.loop.commit_all(outs)
        log.info("router.snapshot_on_stop",
                 partitions=sorted(tp.partition for tp in outs if tp not in fenced),
                 fenced=sorted(tp.partition for tp in fenced))

    def snapshots(self, outs: dict[TopicPartition, Output]) -> dict[TopicPartition, int]:
        """Add every finished round to its partition's next transaction; returns the
        offsets of the rounds added (all pools or none: restore relies on it)."""
        added: dict[TopicPartition, int] = {}
        for tp, pending in list(self.rounds.items()):
            if not pending.task.done():
                continue
            del self.rounds[tp]
            parts = None if pending.task.cancelled() else pending.task.result()
            if parts is None:
                log.warning("router.snapshot_failed", partition=tp.partition,
                            offset=pending.offset)
                continue
            out = outs.setdefault(tp, Output())
            out.placed += [(SNAPSHOTS, tp.partition, key, value) for key, value in parts]
            added[tp] = pending.offset
        return added

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

    def ticks(self, now: float, outs: dict[TopicPartition, Output]) -> bool:
        """A tick for every pool this process owns, each in its partition's transaction
        (time enters the log as events); whether any was added."""
        for tp, pools in self.pools.items():
            if pools and self.loop.owns(tp):
                outs.setdefault(tp, Output()).add(
                    [pool_record("tick", pool, now, f"tick:{pool}:{int(now * 1000)}", {})
                     for pool in sorted(pools)])
        return bool(outs)

    def process(self, batch: dict[TopicPartition, list[ConsumerRecord]]
                ) -> dict[TopicPartition, Output]:
        """Decide a batch: per partition, the records to publish, the offset to commit
        and the decisions made (snapshot rounds begin here when due)."""
        outs: dict[TopicPartition, Output] = {}
        workspace = self.settings.workspace
        for tp, records in batch.items():
            pools = self.pools.get(tp)
            if pools is None or not self.loop.owns(tp):
                continue  # not restored yet (read again from the claim) or fenced
            MESSAGES.labels(metrics.COMPONENT, POOL_TOPIC, "none", "in").inc(len(records))
            out = outs[tp] = Output(offset=records[-1].offset + 1)
            for record in records:
                try:
                    decisions = self.apply(pools, record)
                except PoisonRecord as poison:
                    out.add([dead_letter(record, poison.__cause__ or poison)])
                    continue
                out.made.extend(decisions)
                for decision in decisions:
                    out.add(outputs(decision, workspace), decision.channel or "none")
            self.snapshot_due(tp, len(records), records[-1].offset + 1)
        return outs


async def run_decide(settings: Settings, instance: str, stop: asyncio.Event,
                     tick_interval: float = 1.0, snapshot_every: int = SNAPSHOT_EVERY,
                     trim: bool = False, commit_interval: float = COMMIT_INTERVAL) -> None:
    """Decide every pool of the owned partitions until ``stop``, ticking their clocks and
    snapshotting their state every ``snapshot_every`` inputs of a partition (and, with
    ``trim``, deleting the pool stream below the previous snapshot round); commits at
    most every ``commit_interval`` seconds after the previous batch (0: as soon as decided)."""
    loop = Loop(settings, "decide", [POOL_TOPIC], instance)
    decider = Decider(settings, loop, snapshot_every=snapshot_every)
    trimmer = decider.trimmer = Trimmer(settings, POOL_TOPIC) if trim else None
    await loop.start(listener=decider)
    last_tick = last_gauges = received = 0.0
    stopped_cleanly = False
    try:
        while not stop.is_set():
            if decider.failed is not None:
                raise decider.failed
            loop.check_fences()
            batch = await loop.poll(commit_interval, received)
            now = time.time()
            received = time.perf_counter()
            async with decider.lock:
                outs = decider.process(batch)
                if now - last_tick >= tick_interval and decider.ticks(now, outs):
                    last_tick = now
                rounds = decider.snapshots(outs)
                if not outs:
                    continue
                fenced = await loop.commit_all(outs)
                decider.fenced(fenced)
                for tp, offset in rounds.items():
                    if trimmer is not None and tp not in fenced:
                        trimmer.committed(tp.partition, offset)
            observe_processing(batch, received)
            decider.on_decisions([d for tp, out in outs.items() if tp not in fenced
                                  for d in out.made])
            if now - last_gauges >= 2.0:
                last_gauges = now
                for pools in decider.pools.values():
                    for state in pools.values():
                        metrics.observe_pool(state, now)
        stopped_cleanly = True
    finally:
        for task in decider.restoring.values():
            task.cancel()
        for pending in decider.rounds.values():
            pending.task.cancel()
        if stopped_cleanly:
            async with decider.lock:
                await decider.snapshot_on_stop()
        if trimmer is not None:
            await trimmer.close()
        await loop.stop()
