"""The router's transactional loops: one aiokafka consumer and, per owned input partition,
one transactional producer whose outputs and that partition's offset commit together.

**Fencing (pre-KIP-447).** A partition's transactional id is derived from the loop and
the partition (``omniroute-router-{loop}-{topic}-{partition}`` in the namespace), never
from the process. Whoever is given the partition starts a producer with that id: the
coordinator bumps its epoch, aborts (or finishes) the previous owner's open transaction,
and refuses every later request of the previous owner (``ProducerFenced``). Only then is
the committed offset read (final by now) and consuming resumed. A *zombie* (a process
paused past its session time-out whose partitions moved on) therefore cannot publish:
its next transaction on the partition fails, and it drops that partition's state and
stops publishing for it until it is legitimately given the partition again. Replicas
need no hand-picked ids (aiokafka 0.14 sends no group generation with transactional
offset commits, so a per-process id would not fence anything).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter as Tally
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import InvalidProducerEpoch, ProducerFenced
from aiokafka.producer import sender as aiokafka_sender

from omniroute.infra.membership import leave_and_stop
from omniroute.infra.taking import Taking, extend
from omniroute.observability.logs import get_logger
from omniroute.observability.pipeline import MESSAGES, PROCESSING_SECONDS, REBALANCES
from omniroute.routing import metrics, snapshot
from omniroute.routing.wire import Record
from omniroute.settings import Settings

log = get_logger("omniroute.router")
Placed = tuple[str, int, bytes, bytes]
"""(topic before namespacing, partition, key, value): a record sent to a set partition."""

RETRY_BACKOFF_MS = 5
FENCED = (ProducerFenced, InvalidProducerEpoch)
FENCE_GRACE_S = 60.0
"""A partition fenced this long while the group still assigns it to us: something other
than a new owner fenced it (e.g. a transaction past its time-out); the loop stops."""


def fast_transaction_retries() -> None:
    """Retry a transaction that starts before the previous one's markers are written
    after ``RETRY_BACKOFF_MS`` instead of aiokafka's fixed 20 ms (KAFKA-5477).

    A busy loop begins its next transaction right after a commit; the coordinator
    answers CONCURRENT_TRANSACTIONS until the commit markers are written (about a
    millisecond locally), and aiokafka then sleeps ``BACKOFF_OVERRIDE``. Measured in
    ``bench/routing/bench_e2e.py``, that sleep was the largest fixed cost per hop.
    """
    aiokafka_sender.BACKOFF_OVERRIDE = RETRY_BACKOFF_MS / 1000


@dataclass
class Output:
    """What one input partition's transaction publishes, and the offset it commits."""

    records: list[Record] = field(default_factory=list)
    channels: list[str] = field(default_factory=list)
    placed: list[Placed] = field(default_factory=list)
    offset: int | None = None
    made: list[Any] = field(default_factory=list)
    """Decisions behind the records (counted once the transaction commits)."""

    def add(self, records: list[Record], channel: str = "none") -> None:
        """Publish ``records`` (counted under ``channel``)."""
        self.records.extend(records)
        self.channels.extend([channel] * len(records))


class Loop:
    """One consume-transform-produce loop: a consumer, a producer per owned partition."""

    def __init__(self, settings: Settings, name: str, topics: list[str], instance: str) -> None:
        fast_transaction_retries()
        self.settings = settings
        self.name = name
        self.group = settings.topic(f"omniroute-router-{name}")
        self.topics = [settings.topic(t) for t in topics]
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=settings.kafka_bootstrap, group_id=self.group,
            client_id=f"omniroute-router-{name}-{instance}",
            group_instance_id=settings.instance_id,
            enable_auto_commit=False, isolation_level="read_committed",
            auto_offset_reset="earliest", max_poll_records=500,
            # not for the last stable offset (a read_committed fetch returns as soon as the
            # markers land on Kafka 4.1, measured), but aiokafka fetches a partition whose
            # records were just handed out only in its next fetch request, which may be
            # waiting on the other partitions this long (500 ms: end-to-end p50 +40 %)
            fetch_max_wait_ms=10)
        self.producers: dict[TopicPartition, AIOKafkaProducer] = {}
        self.fenced: dict[TopicPartition, float] = {}
        self.taking = Taking(self.consumer)
        """Records taken while transactions commit: the next batch's first records."""

    def transactional_id(self, tp: TopicPartition) -> str:
        """The partition's transactional id: the same in every process that owns it."""
        topic = tp.topic.removeprefix(self.settings.topic_namespace)
        return self.settings.topic(f"omniroute-router-{self.name}-{topic}-{tp.partition}")

    def _producer(self, tp: TopicPartition) -> AIOKafkaProducer:
        return AIOKafkaProducer(
            bootstrap_servers=self.settings.kafka_bootstrap, acks="all",
            enable_idempotence=True, transactional_id=self.transactional_id(tp), linger_ms=2,
            # a transaction begun right after a commit meets CONCURRENT_TRANSACTIONS: retry fast
            retry_backoff_ms=RETRY_BACKOFF_MS, max_request_size=snapshot.MAX_BYTES + 65536)

    async def start(self, listener: ConsumerRebalanceListener) -> None:
        """Join the group; producers come with partitions (see :meth:`claim`)."""
        self.consumer.subscribe(self.topics, listener=listener)
        await self.consumer.start()

    async def stop(self) -> None:
        """Leave the group (open transactions are aborted by the broker)."""
        await leave_and_stop(self.consumer)
        for tp in list(self.producers):
            await self.release(tp)

    async def claim(self, tp: TopicPartition) -> int | None:
        """Own ``tp``'s outputs: start its producer, which fences every earlier owner and
        lets the coordinator settle that owner's open transaction; then return the
        committed offset, final now (a zombie can no longer move it)."""
        await self.release(tp)
        producer = self._producer(tp)
        try:
            await producer.start()
        except BaseException:
            with contextlib.suppress(Exception):
                await producer.stop()
            raise
        self.producers[tp] = producer
        committed: int | None = await self.consumer.committed(tp)
        return committed

    async def release(self, tp: TopicPartition) -> None:
        """Stop publishing for ``tp`` (revoked, fenced or stopping)."""
        self.fenced.pop(tp, None)
        producer = self.producers.pop(tp, None)
        if producer is not None:
            try:
                await producer.stop()
            except Exception as exc:  # a fenced producer may fail on its way out
                log.info("router.producer_stop_failed", partition=tp.partition, error=repr(exc))

    def owns(self, tp: TopicPartition) -> bool:
        """Whether outputs of ``tp`` may be published by this process."""
        return tp in self.producers and tp not in self.fenced

    async def commit(self, tp: TopicPartition, out: Output) -> bool:
        """Publish ``out`` and commit its offset in ``tp``'s transaction; False when this
        process no longer owns ``tp`` (fenced: nothing of it became visible)."""
        producer = self.producers.get(tp)
        if producer is None or tp in self.fenced:
            return False
        sent: list[asyncio.Future[Any]] = []
        try:
            async with producer.transaction():
                for topic, key, value in out.records:
                    sent.append(await producer.send(self.settings.topic(topic), value, key=key))
                for topic, partition, key, value in out.placed:
                    sent.append(await producer.send(self.settings.topic(topic), value, key=key,
                                                    partition=partition))
                if out.offset is not None:
                    await producer.send_offsets_to_transaction({tp: out.offset}, self.group)
        except FENCED as exc:
            # deliveries and aiokafka's next transaction waiter fail with the same error
            manager = getattr(producer, "_txn_manager", None)
            waiter = manager.wait_for_transaction_end() if manager is not None else None
            for future in [*sent, *([waiter] if waiter is not None else [])]:
                future.add_done_callback(_quiet)
            self.fenced[tp] = time.monotonic()
            with contextlib.suppress(Exception):
                self.consumer.pause(tp)
            log.warning("router.fenced", loop=self.name, topic=tp.topic,
                        partition=tp.partition, error=repr(exc))
            return False
        counts = Tally(zip((r[0] for r in out.records), out.channels, strict=True))
        for (topic, channel), n in counts.items():
            MESSAGES.labels(metrics.COMPONENT, topic, channel, "out").inc(n)
        return True

    async def commit_all(self, outs: dict[TopicPartition, Output]) -> set[TopicPartition]:
        """Commit every partition's output in its own transaction, concurrently, taking
        fetched records meanwhile (:mod:`omniroute.infra.taking`); returns the partitions
        found fenced."""
        items = list(outs.items())
        done = await self.taking.during(
            asyncio.gather(*(self.commit(tp, out) for tp, out in items)))
        fenced = {tp for (tp, _), ok in zip(items, done, strict=True) if not ok}
        self.taking.drop(fenced)  # read again from the committed offset when reclaimed
        return fenced

    async def poll(self, interval: float, since: float
                   ) -> dict[TopicPartition, list[ConsumerRecord]]:
        """The next batch (the records taken during the last commit first); with a commit
        ``interval`` (seconds), records keep being gathered until ``interval`` after
        ``since`` (the previous batch's receipt, perf_counter), so a transaction carries
        more inputs at the cost of at most ``interval`` of latency."""
        batch = await self.taking.poll(100, 500)
        while batch and (left := since + interval - time.perf_counter()) > 0:
            extend(batch, await self.consumer.getmany(timeout_ms=max(1, int(left * 1000)),
                                                      max_records=500))
        return batch

    def check_fences(self) -> None:
        """Raise when a fenced partition is still ours long after (see FENCE_GRACE_S)."""
        now, assigned = time.monotonic(), self.consumer.assignment()
        for tp, since in self.fenced.items():
            if now - since > FENCE_GRACE_S and tp in assigned:
                raise RuntimeError(f"{self.name}: partition {tp.topic}[{tp.partition}] fenced "
                                   f"{FENCE_GRACE_S:.0f} s ago but still assigned here")


def _quiet(future: asyncio.Future[Any]) -> None:
    """Retrieve a failed delivery's exception (already reported as the fence)."""
    if not future.cancelled():
        future.exception()


class Claims(ConsumerRebalanceListener):  # type: ignore[misc]
    """Claims each assigned partition in the background (producer fenced in, offset read,
    state restored by :meth:`restore`), then resumes it; the rebalance callback returns
    at once, so heartbeats and the other partitions go on."""

    def __init__(self, loop: Loop) -> None:
        self.loop = loop
        self.restoring: dict[TopicPartition, asyncio.Task[None]] = {}
        self.failed: Exception | None = None
        # a claimed partition must not join a batch an in-flight transaction is deciding
        self.lock = asyncio.Lock()

    async def restore(self, tp: TopicPartition, committed: int | None) -> tuple[Any, int | None]:
        """The partition's state and where to resume (None: at the committed offset)."""
        return None, None

    def adopt(self, tp: TopicPartition, restored: Any) -> None:
        """Hold what :meth:`restore` returned."""

    def forget(self, tp: TopicPartition) -> None:
        """Drop everything held for ``tp`` (revoked or fenced)."""

    async def on_partitions_revoked(self, revoked: Any) -> None:
        async with self.lock:
            for tp in revoked:
                task = self.restoring.pop(tp, None)
                if task is not None:
                    task.cancel()
                self.forget(tp)
                self.loop.taking.drop([tp])  # read again by its next owner
        await asyncio.gather(*(self.loop.release(tp) for tp in revoked))

    async def on_partitions_assigned(self, assigned: Any) -> None:
        REBALANCES.labels(metrics.COMPONENT).inc()
        self.loop.consumer.pause(*assigned)
        for tp in assigned:
            self.restoring[tp] = asyncio.create_task(self._claim(tp))

    async def _claim(self, tp: TopicPartition) -> None:
        started = time.perf_counter()
        try:
            committed = await self.loop.claim(tp)
            restored, position = await self.restore(tp, committed)
            async with self.lock:
                if self.restoring.pop(tp, None) is None:  # revoked meanwhile
                    return
                self.adopt(tp, restored)
                position = position if position is not None else committed
                self.loop.taking.drop([tp])  # taken before the claim: read again from here
                if position is not None:
                    self.loop.consumer.seek(tp, position)
                self.loop.consumer.resume(tp)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the loop must learn of it: fail loudly
            log.error("router.claim_failed", loop=self.loop.name, partition=tp.partition,
                      error=repr(exc))
            self.failed = exc
            return
        log.info("router.partition_ready", loop=self.loop.name, topic=tp.topic,
                 partition=tp.partition, seconds=round(time.perf_counter() - started, 3))

    def fenced(self, tps: set[TopicPartition]) -> None:
        """``tps`` were fenced: forget their state (it ran ahead of what was committed)."""
        for tp in tps:
            self.forget(tp)


def observe_processing(batch: dict[TopicPartition, list[ConsumerRecord]],
                       received: float) -> None:
    """PROCESSING_SECONDS per record: from the batch's receipt to its commit."""
    elapsed = time.perf_counter() - received
    for records in batch.values():
        for _ in records:
            PROCESSING_SECONDS.labels(metrics.COMPONENT).observe(elapsed)
