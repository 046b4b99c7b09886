"""The faust application of ``omniroute worker``, reusable by every stream processor.

A processor is a module with ``register(worker: Worker) -> None`` that declares
its topics, tables and agents through the :class:`Worker` handle; list it in
:data:`PROCESSORS` (or pass ``processors=`` to :func:`build`). The handle puts
every topic, table and the app id in the deployment's topic namespace, keeps
every agent at ``concurrency=1`` (scale by partitions, faust issue 606), and
turns a record a processor cannot handle into a dead letter so the agent keeps
going.

Delivery is at least once: faust flushes the producer (outputs and table
changelogs) before it commits an offset, so a crash replays records whose
effects may already be out; processors emit deterministic event ids so
consumers de-duplicate.
"""

from __future__ import annotations

import asyncio
import importlib
import itertools
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import faust
from aiokafka.errors import KafkaError
from faust.exceptions import PartitionsMismatch, ProducerSendError

from omniroute.contract import DeadLetter
from omniroute.contract.topics import DLQ
from omniroute.errors import BrokerError
from omniroute.observability.logs import bind, get_logger, unbind
from omniroute.settings import Settings
from omniroute.worker import metrics
from omniroute.worker.tables import Model, ModelTable

APP_ID = "omniroute.internal.worker"
PROCESSORS: tuple[str, ...] = ("omniroute.worker.routes", "omniroute.worker.identity",
                               "omniroute.worker.conversations",
                               "omniroute.automation.processor", "omniroute.worker.bot",
                               "omniroute.worker.erasure")
"""Modules whose ``register(worker)`` adds agents to the worker application."""

PRODUCER_BATCH_BYTES = 1 << 19
"""Largest producer batch per partition (faust's default, 16 KiB, stalls the agents);
below the broker's default message.max.bytes (1 MiB)."""
SESSION_TIMEOUT_SECONDS = 10.0
"""How long until a killed worker's partitions move to the survivors."""

RETRY_BACKOFF_SECONDS = (0.1, 0.5, 1.0, 2.0, 5.0)
"""Waits between attempts at a record whose failure is not its own fault; the last repeats."""

log = get_logger("omniroute.worker")
Handler = Callable[[Any], Awaitable[str | None]]
"""Handles one record; returns the record's channel (for the messages metric) or None."""


def is_retriable(exc: BaseException) -> bool:
    """Whether a failure is the infrastructure's (retry the record), not the record's.

    faust's ``PartitionsMismatch`` says a table's changelog is not (yet) in the
    consumer's metadata; the producer's errors say Kafka did not take a record.
    """
    return bool(getattr(exc, "retriable", False)) or isinstance(
        exc, PartitionsMismatch | ProducerSendError)


def dead_letter_of(processor: str, event: Any, error: BaseException
                   ) -> tuple[bytes | None, bytes]:
    """The dead letter for ``event`` (key, value), counted and logged; either engine sends it
    to ``omniroute.dlq.v1`` its own way."""
    message = event.message
    letter = DeadLetter.for_record(
        processor=processor, topic=message.topic, partition=message.partition,
        offset=message.offset, key=event.key, value=event.value, error=error,
    )
    metrics.dead_lettered(processor, letter.error_type)
    log.warning("dead_letter", processor=processor, error_type=letter.error_type,
                error=letter.error[:500], topic=message.topic, offset=message.offset)
    key = event.key if isinstance(event.key, bytes) else None
    return key, letter.to_json_bytes()


def withhold_ack(event: Any) -> None:
    """Keep an unfinished record's offset from ever being committed by this process.

    faust acknowledges a record when its agent leaves it, even by an exception or
    a cancellation (shutdown), and then commits past it. Marking the message as
    acknowledged without telling the consumer leaves a gap the consumer never
    commits across, so the record is replayed by whoever owns the partition next.
    """
    event.message.acked = True


def create_app(settings: Settings, partitions: int) -> faust.App:
    """The faust application: namespaced id, in-memory tables backed by changelogs."""
    brokers = [f"kafka://{server.strip()}" for server in settings.kafka_bootstrap.split(",")]
    return faust.App(
        settings.topic(APP_ID),
        broker=brokers,
        store="memory://",
        autodiscover=False,
        web_enabled=False,
        topic_partitions=partitions,
        topic_replication_factor=settings.kafka_replication_factor,
        topic_allow_declare=True,
        topic_disable_leader=True,
        table_standby_replicas=0,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        # One batch per partition is in flight at a time and a full batch makes the
        # agent wait for the broker's ack: big batches plus a short linger keep the
        # (concurrency=1) agents from stalling on every ~20 records (bench/identity).
        producer_max_batch_size=PRODUCER_BATCH_BYTES,
        producer_linger_ms=5,
        broker_commit_interval=1.0,
        broker_session_timeout=SESSION_TIMEOUT_SECONDS,
        broker_heartbeat_interval=1.0,
        broker_rebalance_timeout=30.0,
        stream_recovery_delay=0.2,
        datadir=str(settings.state_dir / "worker"),
    )


@dataclass
class Worker:
    """What a processor gets: the app, its settings, and namespaced topics and tables."""

    settings: Settings
    app: faust.App
    partitions: int
    components: dict[str, Any] = field(default_factory=dict)
    """Processors registered so far, by name, for processors that build on another."""
    _topics: dict[str, Any] = field(default_factory=dict)

    def topic(self, name: str) -> Any:
        """A raw-bytes topic ``name`` in this deployment's namespace (one object per name)."""
        full = self.settings.topic(name)
        if full not in self._topics:
            self._topics[full] = self.app.topic(
                full, key_type=bytes, value_type=bytes, key_serializer="raw",
                value_serializer="raw",
            )
        return self._topics[full]

    def table(self, name: str) -> Any:
        """A changelog-backed table co-partitioned with the worker's topics (JSON values)."""
        return self.app.Table(
            name, default=None, partitions=self.partitions, key_type=str
        )

    def model_table(self, name: str, model: type[Model]) -> ModelTable[Model]:
        """A changelog-backed table of ``model`` values (JSON bytes, decoded once per write)."""
        table: Any = self.app.Table(name, default=None, partitions=self.partitions,
                                    key_type=str, value_type=bytes)
        table.value_serializer = "raw"  # before faust builds the changelog topic from it
        return ModelTable(table, model)

    async def send(self, topic_name: str, key: str, value: bytes,
                   channel: str | None = None) -> None:
        """Produce one record; faust flushes it before the source offset is committed.

        Straight to faust's producer (the topics' codecs and per-send bookkeeping
        only cost time for raw bytes): before committing an offset faust
        flushes this producer, so the record is durable first.
        """
        try:
            await self.app.producer.send(self.settings.topic(topic_name), key.encode(), value,
                                         None, None, None)
        except (ProducerSendError, KafkaError) as exc:  # retriable: the record is not acked
            raise BrokerError(f"cannot produce to {topic_name}: {exc}") from exc
        metrics.produced(topic_name, channel)

    def prepare(self, source: str, function: Callable[[list[bytes]], None]) -> None:
        """Nothing on faust (records come one by one); the batch engine shows ``function``
        each batch's ``source`` values before handling them."""

    def agent(self, source: str, processor: str, handle: Handler, stage: str) -> None:
        """Run ``handle(event)`` for every record of ``source``; failures become dead letters.

        ``handle`` returns the record's channel (or None) for the messages metric;
        its time counts toward ``stage`` (identity, conversations).
        """

        async def process(stream: Any) -> None:
            async for event in stream.events():
                await self._guarded(source, processor, stage, event, handle)

        process.__name__ = process.__qualname__ = f"process_{processor.replace('.', '_')}"
        self.app.agent(self.topic(source), name=f"omniroute.{processor}", concurrency=1)(process)

    async def _guarded(
        self, source: str, processor: str, stage: str, event: Any, handle: Handler
    ) -> None:
        started = time.perf_counter()
        message = event.message
        bind(processor=processor, partition=message.partition, offset=message.offset)
        try:
            channel = await self._until_done(processor, event, handle)
        except BaseException:  # cancelled (shutdown) or crashed mid-record: replay it later
            withhold_ack(event)
            raise
        finally:
            unbind("processor", "partition", "offset")
        metrics.consumed(source, channel)
        metrics.processed(stage, time.perf_counter() - started)

    async def _until_done(self, processor: str, event: Any, handle: Handler) -> str | None:
        """Handle the record; dead-letter bad input; retry infrastructure failures in place.

        A failure that is not the record's fault (Kafka unreachable, a table whose
        changelog is not ready) is retried with backoff for as long as it lasts:
        the record's effects are never skipped, and a retry of a half-applied
        record is a replay of the same offset, which every handler treats as such.
        """
        for attempt in itertools.count():
            try:
                try:
                    return await handle(event)
                except Exception as exc:
                    if is_retriable(exc):
                        raise
                    await self.dead_letter(processor, event, exc)
                    return None
            except Exception as exc:
                if not is_retriable(exc):
                    raise
                delay = RETRY_BACKOFF_SECONDS[min(attempt, len(RETRY_BACKOFF_SECONDS) - 1)]
                metrics.retried(processor)
                log.warning("retrying", processor=processor, attempt=attempt + 1,
                            error_type=type(exc).__name__, error=str(exc)[:300], delay=delay)
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    async def dead_letter(self, processor: str, event: Any, error: BaseException) -> None:
        """Send the record to ``omniroute.dlq.v1`` with the reason; the agent goes on."""
        key, value = dead_letter_of(processor, event, error)
        await self.topic(DLQ.name).send(key=key, value=value)
        metrics.produced(DLQ.name, None)


def build(
    settings: Settings, partitions: int, processors: Iterable[str] = PROCESSORS
) -> Worker:
    """The worker application with every processor in ``processors`` registered."""
    worker = Worker(settings=settings, app=create_app(settings, partitions), partitions=partitions)

    @worker.app.on_partitions_assigned.connect
    async def count_assignment(app: Any, /, *_: Any, signal: Any, **__: Any) -> None:
        metrics.rebalanced()

    for module in processors:
        importlib.import_module(module).register(worker)
    return worker
