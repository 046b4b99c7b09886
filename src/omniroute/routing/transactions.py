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
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import InvalidProducerEpoch, ProducerFenced
from aiokafka.producer import sender as aiokafka_sender

from omniroute.observability.logs import get_logger
from omniroute.observability.pipeline import MESSAGES, PROCESSING_SECONDS, REBALANCES
from omniroute.routing import metrics, snapshot
from omniroute.routing.wire import Record
from omniroute.settings import Settings

log = get_logger("omniroute.router")
Placed = tuple[str, int, bytes, bytes]
"""(topic before namespacing, partition, key, value): a record sent to a set partition."""

RETRY_BACKOFF_MS = 5
MAX_PENDING_INPUTS = 5000
"""Inputs decided but not yet committed, per loop, above which consuming waits for a
commit (a slow broker must not make one transaction, or memory, grow without bound)."""
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
    received: list[tuple[int, float]] = field(default_factory=list)
    """(inputs, perf_counter at their receipt), for PROCESSING_SECONDS once committed."""
    after: list[Callable[[], None]] = field(default_factory=list)
    """Run once the transaction committed (e.g. trimming below a snapshot round)."""

    def add(self, records: list[Record], channel: str = "none") -> None:
        """Publish ``records`` (counted under ``channel``)."""
        self.records.extend(records)
        self.channels.extend([channel] * len(records))

    def merge(self, later: Output) -> None:
        """Append ``later`` (the same partition's next inputs) to this output."""
        self.records += later.records
        self.channels += later.channels
        self.placed += later.placed
        self.made += later.made
        self.received += later.received
        self.after += later.after
        if later.offset is not None:
            self.offset = later.offset

    def inputs(self) -> int:
        """How many input records this output answers."""
        return sum(n for n, _ in self.received)


class Loop:
    """One consume-transform-produce loop: a consumer, a producer per owned partition.

    **Pipelined commits.** The loop hands each partition's outputs to :meth:`submit` and
    goes on consuming and deciding; a task per partition commits them, one transaction
    at a time and in order, each taking everything submitted while the previous one was
    in flight (and beginning at least ``interval`` seconds after it). An input therefore
    waits for the rest of its partition's current transaction, not for a whole cycle of
    the loop (poll, decide, the slowest partition's transaction), and deciding overlaps
    committing.
    """

    def __init__(self, settings: Settings, name: str, topics: list[str], instance: str,
                 interval: float = 0.0) -> None:
        fast_transaction_retries()
        self.interval = interval
        self.settings = settings
        self.name = name
        self.group = settings.topic(f"omniroute-router-{name}")
        self.topics = [settings.topic(t) for t in topics]
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=settings.kafka_bootstrap, group_id=self.group,
            client_id=f"omniroute-router-{name}-{instance}",
            enable_auto_commit=False, isolation_level="read_committed",
            auto_offset_reset="earliest", max_poll_records=500,
            # a read_committed fetch returns as soon as a transaction's markers land (Kafka
            # 4.1, measured: 0.3-1.3 ms p50 at 10, 100 and 500 ms alike), so idle partitions
            # need no fetch every 10 ms (it cost the loop's transactions time)
            fetch_max_wait_ms=500)
        self.producers: dict[TopicPartition, AIOKafkaProducer] = {}
        self.fenced: dict[TopicPartition, float] = {}
        self.pending: dict[TopicPartition, Output] = {}
        self.committing: dict[TopicPartition, asyncio.Task[None]] = {}
        self.begun: dict[TopicPartition, float] = {}
        self.leaving: set[TopicPartition] = set()
        self.failed: BaseException | None = None
        """A commit failed for another reason than a fence: the loop must stop."""
        self.on_fenced: Callable[[TopicPartition], None] = lambda tp: None
        self.on_committed: Callable[[TopicPartition, Output], None] = lambda tp, out: None

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
        """Commit what was decided, then disconnect (open transactions are aborted by
        the broker)."""
        for tp in list(self.committing):
            await self.settle(tp)
        await self.consumer.stop()
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
        """Stop publishing for ``tp`` (revoked, fenced or stopping): what was decided for it
        and submitted is committed first, nothing more is taken."""
        self.leaving.add(tp)
        try:
            await self.settle(tp)
        finally:
            self.leaving.discard(tp)
        self.fenced.pop(tp, None)
        self.begun.pop(tp, None)
        producer = self.producers.pop(tp, None)
        if producer is not None:
            try:
                await producer.stop()
            except Exception as exc:  # a fenced producer may fail on its way out
                log.info("router.producer_stop_failed", partition=tp.partition, error=repr(exc))

    def owns(self, tp: TopicPartition) -> bool:
        """Whether outputs of ``tp`` may be published by this process."""
        return tp in self.producers and tp not in self.fenced and tp not in self.leaving

    def submit(self, tp: TopicPartition, out: Output) -> None:
        """Queue ``out`` for ``tp``'s next transaction; it begins once the partition's
        previous transaction has ended (and ``interval`` after that one began). Outputs of
        a partition this process no longer has a producer for are dropped."""
        if tp not in self.producers:
            return
        queued = self.pending.get(tp)
        if queued is None:
            self.pending[tp] = out
        else:
            queued.merge(out)
        task = self.committing.get(tp)
        if task is None or task.done():
            self.committing[tp] = asyncio.create_task(self._drain(tp))

    async def _drain(self, tp: TopicPartition) -> None:
        while tp in self.pending:
            wait = self.begun.get(tp, 0.0) + self.interval - time.perf_counter()
            if wait > 0:
                await asyncio.sleep(wait)
            out = self.pending.pop(tp, None)
            if out is None or tp not in self.producers:
                return
            self.begun[tp] = time.perf_counter()
            try:
                committed = await self.commit(tp, out)
            except Exception as exc:  # the loop raises it: outputs may not be skipped
                self.failed = self.failed or exc
                self.pending.pop(tp, None)
                return
            if not committed:  # fenced: what was queued behind it is dropped with the state
                self.pending.pop(tp, None)
                self.on_fenced(tp)
                return
            elapsed = time.perf_counter()
            for n, received in out.received:
                for _ in range(n):
                    PROCESSING_SECONDS.labels(metrics.COMPONENT).observe(elapsed - received)
            for hook in out.after:
                hook()
            self.on_committed(tp, out)

    async def settle(self, tp: TopicPartition) -> None:
        """Wait until what was submitted for ``tp`` is committed (or failed)."""
        task = self.committing.get(tp)
        if task is not None:
            await asyncio.gather(task, return_exceptions=True)
            if self.committing.get(tp) is task:
                del self.committing[tp]

    async def backpressure(self) -> None:
        """Wait for commits while more than MAX_PENDING_INPUTS inputs await one; raise
        what a commit failed with."""
        while sum(out.inputs() for out in self.pending.values()) > MAX_PENDING_INPUTS:
            running = [task for task in self.committing.values() if not task.done()]
            if not running:
                break
            await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
        if self.failed is not None:
            raise self.failed

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
        loop.on_fenced = lambda tp: self.fenced({tp})
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


async def poll(loop: Loop) -> dict[TopicPartition, list[ConsumerRecord]]:
    """The next records (at most 100 ms of waiting), once the loop's uncommitted inputs
    are below MAX_PENDING_INPUTS; raises what a commit failed with."""
    await loop.backpressure()
    batch: dict[TopicPartition, list[ConsumerRecord]] = await loop.consumer.getmany(
        timeout_ms=100, max_records=500)
    return batch
