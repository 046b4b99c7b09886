"""The batch engine's loop: one consumer for every worker input, one transaction per
owned partition number and batch.

**Ownership.** The consumer is in one group, subscribed to every worker input,
with :class:`~omniroute.worker.assignor.CopartitionedAssignor`: a process owns
partition number *p* of every input and every table. Claiming *p* starts a
transactional producer with ``transactional.id = <group>.<p>`` (the same in every
process): the coordinator bumps its epoch, settles the previous owner's open
transaction and fences that owner for good; only then are *p*'s tables restored
from their changelogs (read committed) and its committed offsets read (final now,
as no one else can commit for *p*), and *p*'s inputs resumed. This is the
router's pattern (:mod:`omniroute.routing.transactions`) with a partition number
in place of a topic-partition.

**Taking over from faust.** Before anything else, a claim waits while the
legacy faust worker's group (:mod:`.legacy`) has members. An input without a
commit in the batch group starts at the faust group's commit of the same
topic-partition (when there is one), and those adopted offsets are committed in
*p*'s first transaction, on their own, before *p* is resumed; without either
commit an input starts at its earliest record. While running, the loop looks at
the faust group every :data:`LEGACY_WATCH_S` and, should a faust worker join it,
drops every partition number and claims it again (which waits).

**A batch** (up to :data:`MAX_RECORDS` records) is split by partition number; the
records of *p* are handled in order with :data:`~omniroute.worker.state.CURRENT`
set to *p*, then *p*'s transaction holds what the handlers sent, the dirty keys
of every table (to changelog partition *p*) and *p*'s offsets. A retriable
failure (Kafka unreachable, a database down) drops *p*'s state and re-claims it
after a backoff: the batch is re-read from the committed offsets onto the
restored tables, so no effect is applied twice or skipped. A transaction found
fenced drops *p* until the group gives it back.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import KafkaError

from omniroute.infra.membership import leave_and_stop
from omniroute.infra.taking import Taking
from omniroute.observability.logs import get_logger
from omniroute.routing.transactions import FENCE_GRACE_S, FENCED, fast_transaction_retries
from omniroute.settings import Settings
from omniroute.worker import metrics
from omniroute.worker.assignor import CopartitionedAssignor
from omniroute.worker.legacy import LegacyGroup, start_offsets
from omniroute.worker.partitioner import KeyHashes
from omniroute.worker.state import CURRENT, Pending, Table

MAX_RECORDS = 1000
"""Records per poll (one transaction per partition number among them)."""
YIELD_EVERY = 50
"""Records handled between two turns of the event loop (heartbeats, timers)."""
SESSION_TIMEOUT_MS = 10_000
"""How long until a killed worker's partitions move to the survivors."""
TRANSACTION_TIMEOUT_MS = 30_000
RETRY_BACKOFF_S = (0.2, 0.5, 1.0, 2.0, 5.0)
LEGACY_WATCH_S = 10.0
"""Between two looks at the legacy faust group while the engine runs."""

log = get_logger("omniroute.worker")
Handle = Callable[[ConsumerRecord], Awaitable[None]]
"""Handles one record completely (dead letters included); raises :class:`Retry` only."""
Prepare = Callable[[list[ConsumerRecord]], None]
"""Sees a batch's records before they are handled (work that is cheaper done together);
must not fail and must not change what handling a record does."""
Finish = Callable[[], None]
"""Runs once a batch's records are handled (its transactions may still be committing):
work done per batch rather than per record, e.g. counting; must not fail."""


class Retry(Exception):
    """A failure that is not the record's: abort the partition's batch and re-read it."""


class BatchLoop(ConsumerRebalanceListener):  # type: ignore[misc]
    """The consume-transform-produce loop of the batch engine (see the module docstring)."""

    def __init__(self, settings: Settings, group: str, topics: list[str],
                 tables: list[Table], handle: Handle, prepare: Prepare | None = None,
                 legacy: LegacyGroup | None = None, finish: Finish | None = None) -> None:
        fast_transaction_retries()
        self.legacy = legacy
        """The faust worker's group to wait for and take offsets over from (None: neither)."""
        self.settings = settings
        self.group = group
        self.topics = topics
        self.tables = tables
        self.handle = handle
        self.prepare = prepare
        self.finish = finish
        bootstrap = settings.kafka_bootstrap
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False,
            isolation_level="read_committed", auto_offset_reset="earliest",
            max_poll_records=MAX_RECORDS, fetch_max_wait_ms=10,
            session_timeout_ms=SESSION_TIMEOUT_MS, heartbeat_interval_ms=1000,
            max_poll_interval_ms=600_000, group_instance_id=settings.instance_id,
            partition_assignment_strategy=(CopartitionedAssignor,))
        # a long-polling fetch would hold every seek and end-offset request of a restore
        # for fetch_max_wait_ms (500 ms by default: about 1 s per claimed partition)
        self.reader = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None,
                                       enable_auto_commit=False, max_poll_records=5000,
                                       isolation_level="read_committed", fetch_max_wait_ms=10)
        self.taking = Taking(self.consumer)
        """Records taken while transactions commit: the next batch's first records."""
        self.producers: dict[int, AIOKafkaProducer] = {}
        self.partitioner = KeyHashes()
        """Shared by the producers: the same keys go through every partition number's."""
        self.ready: set[int] = set()
        self.claims: dict[int, asyncio.Task[None]] = {}
        self.positions: dict[TopicPartition, int] = {}
        self.fenced: dict[int, float] = {}
        self.attempts: dict[int, int] = defaultdict(int)
        self.lock = asyncio.Lock()
        """Held by a batch (handling and commit), timers, and rebalances."""
        self.restoring = asyncio.Lock()

    def transactional_id(self, partition: int) -> str:
        """Partition number *p*'s transactional id: the same in every process."""
        return f"{self.group}.{partition}"

    async def run(self, stop: asyncio.Event) -> None:
        """Consume and commit batches until ``stop`` is set, then leave the group."""
        await self.reader.start()
        watch: asyncio.Task[None] | None = None
        if self.legacy is not None:
            await self.legacy.start()
            watch = asyncio.create_task(self._watch_legacy(self.legacy))
        self.consumer.subscribe(self.topics, listener=self)
        await self.consumer.start()
        try:
            while not stop.is_set():
                batch = await self.taking.poll(100, MAX_RECORDS)
                if batch and not stop.is_set():
                    async with self.lock:
                        await self._batch(batch)
                self._check_fences()
        finally:
            if watch is not None:
                watch.cancel()
            for task in self.claims.values():
                task.cancel()
            await leave_and_stop(self.consumer)
            for partition in list(self.producers):
                await self._release(partition)
            await self.reader.stop()
            if self.legacy is not None:
                await self.legacy.stop()

    async def _batch(self, batch: dict[TopicPartition, list[ConsumerRecord]]) -> None:
        by_number: dict[int, list[tuple[TopicPartition, list[ConsumerRecord]]]] = {}
        for tp, records in batch.items():
            if tp.partition not in self.ready:
                continue  # fetched before a claim or after a fence: re-read after the seek
            first = self.positions.get(tp, 0)
            fresh = [record for record in records if record.offset >= first]
            if fresh:
                by_number.setdefault(tp.partition, []).append((tp, fresh))
        if self.prepare is not None and by_number:
            self.prepare([record for parts in by_number.values()
                          for _tp, records in parts for record in records])
        done: dict[int, tuple[Pending, dict[TopicPartition, int]]] = {}
        for partition, parts in by_number.items():
            pending = Pending(partition)
            token = CURRENT.set(pending)
            try:
                handled = 0
                for _tp, records in parts:
                    for record in records:
                        await self.handle(record)
                        handled += 1
                        if handled % YIELD_EVERY == 0:
                            await asyncio.sleep(0)
            except Retry as exc:
                self._abort(partition, exc)
                continue
            finally:
                CURRENT.reset(token)
            done[partition] = pending, {tp: records[-1].offset + 1 for tp, records in parts}
        if self.finish is not None:
            self.finish()
        await self.taking.during(asyncio.gather(*(  # records arriving meanwhile are taken
            self._commit(partition, pending, offsets)
            for partition, (pending, offsets) in done.items())))

    async def _commit(self, partition: int, pending: Pending,
                      offsets: dict[TopicPartition, int]) -> None:
        """Publish ``pending``, the tables' changes of ``partition`` and its offsets, in
        ``partition``'s transaction."""
        producer = self.producers.get(partition)
        if producer is None or partition not in self.ready:
            return
        topic = self.settings.topic
        try:
            async with producer.transaction():
                for name, key, value, _ in pending.records:
                    await producer.send(topic(name), value, key=key)
                for table in self.tables:
                    for key, state in table.changes(partition):
                        await producer.send(table.changelog, state, key=key,
                                            partition=partition)
                await producer.send_offsets_to_transaction(offsets, self.group)
        except FENCED as exc:
            self.fenced[partition] = time.monotonic()
            self._forget(partition)
            log.warning("worker.fenced", partition=partition, error=repr(exc))
            return
        except KafkaError as exc:
            self._abort(partition, exc)
            return
        self.attempts.pop(partition, None)
        self.positions.update(offsets)
        produced = metrics.Tally()  # once per topic and channel, not per record
        for name, _, _, channel in pending.records:
            produced.produced(name, channel)
        produced.publish()

    def _forget(self, partition: int) -> None:
        """Drop ``partition``'s state and stop reading it (it ran ahead of its commits)."""
        self.ready.discard(partition)
        for table in self.tables:
            table.drop(partition)
        for tp in list(self.positions):
            if tp.partition == partition:
                del self.positions[tp]
        self.taking.drop([tp for tp in self.taking.held if tp.partition == partition])
        mine = [tp for tp in self.consumer.assignment() if tp.partition == partition]
        if mine:
            self.consumer.pause(*mine)

    def _abort(self, partition: int, exc: BaseException) -> None:
        """A retriable failure: forget ``partition`` and claim it again after a backoff."""
        self._forget(partition)
        attempt = self.attempts[partition]
        self.attempts[partition] += 1
        delay = RETRY_BACKOFF_S[min(attempt, len(RETRY_BACKOFF_S) - 1)]
        if not isinstance(exc, Retry):  # a handler's retry is counted under its processor
            metrics.retried("worker.transaction")
        cause = exc.__cause__ or exc
        log.warning("worker.batch_retry", partition=partition, attempt=attempt + 1, delay=delay,
                    error_type=type(cause).__name__, error=str(cause)[:300])
        previous = self.claims.get(partition)
        if previous is not None:
            previous.cancel()
        self.claims[partition] = asyncio.create_task(self._claim(partition, delay))

    async def on_partitions_revoked(self, revoked: Any) -> None:
        """Wait for the batch in flight, then drop the revoked numbers' state."""
        numbers = {tp.partition for tp in revoked}
        async with self.lock:
            for partition in numbers:
                task = self.claims.pop(partition, None)
                if task is not None:
                    task.cancel()
                self._forget(partition)
        await asyncio.gather(*(self._release(partition) for partition in numbers))

    async def on_partitions_assigned(self, assigned: Any) -> None:
        """Pause the new numbers and claim each in the background (heartbeats go on)."""
        metrics.rebalanced()
        if assigned:
            self.consumer.pause(*assigned)
        for partition in sorted({tp.partition for tp in assigned}):
            self.fenced.pop(partition, None)
            self.claims[partition] = asyncio.create_task(self._claim(partition))

    async def _claim(self, partition: int, delay: float = 0.0) -> None:
        """Fence *p*'s earlier owners, restore its tables, seek to its commits, resume."""
        attempt = 0
        while True:
            try:
                await asyncio.sleep(delay)
                await self._take(partition)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Kafka away: try again, the partition stays paused
                delay = RETRY_BACKOFF_S[min(attempt, len(RETRY_BACKOFF_S) - 1)]
                attempt += 1
                log.warning("worker.claim_failed", partition=partition, error=repr(exc),
                            delay=delay)

    async def _take(self, partition: int) -> None:
        started = time.perf_counter()
        if self.legacy is not None:  # before the restore: faust may still write changelogs
            await self.legacy.wait_idle()
        await self._release(partition)
        producer = AIOKafkaProducer(
            bootstrap_servers=self.settings.kafka_bootstrap, acks="all",
            enable_idempotence=True, transactional_id=self.transactional_id(partition),
            linger_ms=2, retry_backoff_ms=5, transaction_timeout_ms=TRANSACTION_TIMEOUT_MS,
            max_batch_size=1 << 19, partitioner=self.partitioner)
        try:
            await producer.start()  # init_transactions: the previous owner is fenced now
        except BaseException:
            with contextlib.suppress(Exception):
                await producer.stop()
            raise
        self.producers[partition] = producer
        counts = await self._restore(partition)
        tps = [TopicPartition(topic, partition) for topic in self.topics]
        committed = {tp: await self.consumer.committed(tp) for tp in tps}
        starts, adopted = await self._adopt(partition, producer, committed)
        async with self.lock:
            if self.claims.get(partition) is not asyncio.current_task():
                return  # revoked (or re-claimed) meanwhile
            assigned = self.consumer.assignment()
            self.taking.drop(starts)  # taken before the claim: read again from its commits
            for tp, offset in starts.items():
                self.positions[tp] = offset
                if tp in assigned:
                    self.consumer.seek(tp, offset)
            self.ready.add(partition)
            self.consumer.resume(*[tp for tp in tps if tp in assigned])
            del self.claims[partition]
        log.info("worker.partition_ready", partition=partition, restored=counts,
                 adopted=len(adopted), seconds=round(time.perf_counter() - started, 3))

    async def _adopt(self, partition: int, producer: AIOKafkaProducer,
                     committed: dict[TopicPartition, int | None]
                     ) -> tuple[dict[TopicPartition, int], dict[TopicPartition, int]]:
        """Where ``partition``'s inputs start (:func:`~.legacy.start_offsets`); offsets
        adopted from the faust group are committed at once, in a transaction of their own."""
        missing = [tp for tp, offset in committed.items() if offset is None]
        legacy: dict[TopicPartition, int] = {}
        if self.legacy is not None and missing:
            legacy = await self.legacy.committed(missing)
        starts, adopted = start_offsets(committed, legacy)
        if adopted and self.legacy is not None:
            async with producer.transaction():
                await producer.send_offsets_to_transaction(adopted, self.group)
            log.info("worker.offsets_adopted", partition=partition, group=self.legacy.group,
                     offsets={f"{tp.topic}:{tp.partition}": offset
                              for tp, offset in sorted(adopted.items())})
        return starts, adopted

    async def _watch_legacy(self, legacy: LegacyGroup) -> None:
        """Stop processing (re-claim every number, which waits) if a faust worker joins;
        retire the faust group once nothing can adopt from it (:meth:`.LegacyGroup.retire`)."""
        retired = False
        while True:
            await asyncio.sleep(LEGACY_WATCH_S)
            try:
                found = await legacy.check()
                if found.idle and not retired:
                    retired = await legacy.retire(self.group)
            except Exception as exc:  # Kafka away: the loop's own errors say so
                log.info("worker.legacy_check_failed", error=repr(exc))
                continue
            if found.idle:
                continue
            retired = False  # a faust worker came back: its group is to be retired again
            async with self.lock:
                for partition in sorted(self.ready):
                    self._forget(partition)
                    previous = self.claims.get(partition)
                    if previous is not None:
                        previous.cancel()
                    self.claims[partition] = asyncio.create_task(self._claim(partition))

    async def _restore(self, partition: int) -> dict[str, int]:
        """Every table's partition ``partition`` from its changelog, read committed."""
        tables = {TopicPartition(table.changelog, partition): table for table in self.tables}
        found: dict[TopicPartition, list[tuple[bytes, bytes | None]]] = {tp: [] for tp in tables}
        async with self.restoring:
            reader = self.reader
            reader.assign(list(tables))
            await reader.seek_to_beginning(*tables)
            ends = await reader.end_offsets(list(tables))
            left = set(tables)
            while left:
                left = {tp for tp in left if await reader.position(tp) < ends[tp]}
                if not left:
                    break
                fetched = await reader.getmany(*left, timeout_ms=500)
                for tp, records in fetched.items():
                    found[tp].extend((r.key or b"", r.value) for r in records
                                     if r.offset < ends[tp])
            reader.assign([])
        return {table.name: table.restore(partition, iter(found[tp]))
                for tp, table in tables.items()}

    async def _release(self, partition: int) -> None:
        producer = self.producers.pop(partition, None)
        if producer is not None:
            try:
                await producer.stop()
            except Exception as exc:  # a fenced producer may fail on its way out
                log.info("worker.producer_stop_failed", partition=partition, error=repr(exc))

    def _check_fences(self) -> None:
        """Raise when a fenced number is still ours long after (not a new owner's fence)."""
        now = time.monotonic()
        assigned = {tp.partition for tp in self.consumer.assignment()}
        for partition, since in self.fenced.items():
            if now - since > FENCE_GRACE_S and partition in assigned:
                raise RuntimeError(f"partition {partition} fenced {FENCE_GRACE_S:.0f} s ago "
                                   "but still assigned here")
