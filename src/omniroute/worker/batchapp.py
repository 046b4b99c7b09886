"""``omniroute worker --engine batch``: the processors on the batch engine, unchanged.

:class:`BatchWorker` is the handle the processors get (the same methods and
attributes as :class:`omniroute.worker.app.Worker`): ``agent`` registers a
handler for a topic, ``table``/``model_table`` make changelog-backed tables
(:mod:`.state`), ``send`` joins the transaction of the partition whose record is
being handled (outside a record, in a timer, it goes through an idempotent
producer: timers send ticks and expiries, which their handlers re-check, so at
least once is their contract), and ``app`` offers what processors use of
faust's app (``timer``, ``task``, ``tables``, ``producer.flush``). The loop
itself is :class:`~omniroute.worker.engine.BatchLoop`.
"""

from __future__ import annotations

import asyncio
import importlib
import signal
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from aiokafka import AIOKafkaProducer, ConsumerRecord
from aiokafka.errors import KafkaError

from omniroute.contract.topics import DLQ
from omniroute.errors import BrokerError
from omniroute.observability.logs import Binding, get_logger
from omniroute.settings import Settings
from omniroute.worker import metrics
from omniroute.worker.app import APP_ID, PROCESSORS, Handler, dead_letter_of, is_retriable
from omniroute.worker.engine import BatchLoop, Retry
from omniroute.worker.legacy import LegacyGroup
from omniroute.worker.state import CURRENT, Model, ModelTable, Table, model_value
from omniroute.worker.topology import changelog_topic

GROUP = f"{APP_ID}.batch"
"""The batch engine's consumer group (before namespacing); transactional ids add ``.<p>``."""

log = get_logger("omniroute.worker")
RECORD_IDS = Binding("processor", "partition", "offset")
"""Bound for each record's handler (its log lines carry them) and unbound when a batch's
records are handled (:meth:`BatchWorker.finish_batch`) or a handler raises."""
Timed = Callable[[], Coroutine[Any, Any, None]]


class Delivered(NamedTuple):
    """Where a record came from (``timestamp`` in seconds, as faust's ``Message``); a named
    tuple, as an immutable record costs the least to make (one per record)."""

    topic: str
    partition: int
    offset: int
    timestamp: float


class Event(NamedTuple):
    """One record as handlers see it: ``key``, ``value`` and ``message`` (faust's names)."""

    key: bytes | None
    value: bytes
    message: Delivered

    @classmethod
    def of(cls, record: ConsumerRecord) -> Event:
        """The event of an aiokafka record."""
        return cls(record.key, record.value or b"", Delivered(
            record.topic, record.partition, record.offset, record.timestamp / 1000))


class _Flush:
    async def flush(self) -> None:
        """Nothing to flush: a record's sends commit with its partition's transaction."""


@dataclass
class BatchApp:
    """What processors use of faust's app: timers, tasks, the tables, the producer."""

    tables: dict[str, Table] = field(default_factory=dict)
    timers: list[tuple[float, Timed]] = field(default_factory=list)
    tasks: list[Timed] = field(default_factory=list)
    producer: _Flush = field(default_factory=_Flush)

    def timer(self, interval: float) -> Callable[[Timed], Timed]:
        """Run the decorated coroutine function every ``interval`` seconds, between batches."""
        def register(function: Timed) -> Timed:
            self.timers.append((interval, function))
            return function
        return register

    def task(self, function: Timed) -> Timed:
        """Run the decorated coroutine function once, beside the loop."""
        self.tasks.append(function)
        return function


@dataclass
class BatchWorker:
    """The processors' handle on the batch engine (see the module docstring)."""

    settings: Settings
    partitions: int
    app: BatchApp = field(default_factory=BatchApp)
    components: dict[str, Any] = field(default_factory=dict)
    agents: dict[str, list[Callable[[Event], Awaitable[None]]]] = field(default_factory=dict)
    plain: AIOKafkaProducer | None = None
    """The idempotent producer of timers' sends (started by :func:`serve`)."""
    preparers: dict[str, list[Callable[[list[bytes]], None]]] = field(default_factory=dict)
    tally: metrics.Tally = field(default_factory=metrics.Tally)
    """The records consumed since the last batch ended (see :meth:`finish_batch`)."""

    def topic(self, name: str) -> str:
        """``name`` in this deployment's namespace."""
        return self.settings.topic(name)

    def table(self, name: str) -> Table:
        """A changelog-backed table co-partitioned with the worker's topics (JSON values)."""
        table = Table(name, self.topic(changelog_topic(name)), self.partitions)
        self.app.tables[name] = table
        return table

    def model_table(self, name: str, model: type[Model]) -> ModelTable[Model]:
        """A changelog-backed table of ``model`` values (JSON bytes in the changelog)."""
        table = Table(name, self.topic(changelog_topic(name)), self.partitions,
                      encode=model_value, decode=bytes)
        self.app.tables[name] = table
        return ModelTable(table, model)

    async def send(self, topic_name: str, key: str | bytes | None, value: bytes,
                   channel: str | None = None) -> None:
        """Produce one record in the current partition's transaction (or, from a timer,
        at once through the idempotent producer)."""
        raw = key.encode() if isinstance(key, str) else key
        pending = CURRENT.get()
        if pending is not None:
            pending.records.append((topic_name, raw, value, channel))
            return
        if self.plain is None:
            raise BrokerError("the worker's producer is not started")
        try:
            await self.plain.send_and_wait(self.topic(topic_name), value, key=raw)
        except KafkaError as exc:
            raise BrokerError(f"cannot produce to {topic_name}: {exc}") from exc
        metrics.produced(topic_name, channel)

    def agent(self, source: str, processor: str, handle: Handler, stage: str) -> None:
        """Run ``handle(event)`` for every record of ``source``; bad input becomes a dead
        letter, a retriable failure re-reads the partition's batch."""
        async def guarded(event: Event) -> None:
            started = time.perf_counter()
            message = event.message
            RECORD_IDS.bind(processor, message.partition, message.offset)
            try:
                channel = await handle(event)
            except Exception as exc:
                if is_retriable(exc):
                    RECORD_IDS.unbind()
                    metrics.retried(processor)
                    raise Retry(f"{processor}: {exc}") from exc
                await self.dead_letter(processor, event, exc)
                channel = None
            except BaseException:
                RECORD_IDS.unbind()
                raise
            self.tally.consumed(source, channel)
            metrics.processed(stage, time.perf_counter() - started)

        self.agents.setdefault(self.topic(source), []).append(guarded)

    def prepare(self, source: str, function: Callable[[list[bytes]], None]) -> None:
        """Show ``function`` the values of each batch's ``source`` records before they are
        handled (work cheaper done together, e.g. detecting their languages)."""
        self.preparers.setdefault(self.topic(source), []).append(function)

    def prepare_batch(self, records: list[ConsumerRecord]) -> None:
        """Run the preparers of a batch's records (a preparer's failure only costs speed)."""
        for topic, functions in self.preparers.items():
            values = [record.value for record in records
                      if record.topic == topic and record.value is not None]
            for function in functions:
                try:
                    function(values)
                except Exception as exc:  # handling does the work itself, record by record
                    log.warning("worker.prepare_failed", topic=topic,
                                error_type=type(exc).__name__, error=str(exc)[:300])

    def finish_batch(self) -> None:
        """A batch's records are handled: unbind the last record's ids (before the commits
        log anything), count the records in the messages metric."""
        RECORD_IDS.unbind()
        self.tally.publish()

    async def dead_letter(self, processor: str, event: Any, error: BaseException) -> None:
        """Send the record to ``omniroute.dlq.v1`` with the reason, in the transaction."""
        key, value = dead_letter_of(processor, event, error)
        await self.send(DLQ.name, key, value)

    async def handle(self, record: ConsumerRecord) -> None:
        """Every agent of the record's topic, in registration order."""
        event = Event.of(record)
        for guarded in self.agents.get(record.topic, ()):
            await guarded(event)


def build(settings: Settings, partitions: int,
          processors: Iterable[str] = PROCESSORS) -> BatchWorker:
    """The batch worker with every processor in ``processors`` registered."""
    worker = BatchWorker(settings=settings, partitions=partitions)
    for module in processors:
        importlib.import_module(module).register(worker)
    return worker


async def _every(interval: float, function: Timed, loop: BatchLoop) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            async with loop.lock:
                await function()
        except Exception as exc:  # a timer's failure must not stop the worker
            log.warning("worker.timer_failed", timer=getattr(function, "__name__", "?"),
                        error_type=type(exc).__name__, error=str(exc)[:300])


async def serve(worker: BatchWorker, extra: Iterable[Timed] = (),
                legacy: LegacyGroup | None = None) -> None:
    """Run the batch loop, the timers and tasks until SIGTERM/SIGINT; ``legacy`` is the
    faust worker's group to wait for and take offsets over from."""
    settings = worker.settings
    stop = asyncio.Event()
    running = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        running.add_signal_handler(sig, stop.set)
    loop = BatchLoop(settings, settings.topic(GROUP), sorted(worker.agents),
                     list(worker.app.tables.values()), worker.handle,
                     worker.prepare_batch if worker.preparers else None, legacy,
                     worker.finish_batch)
    worker.plain = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all",
                                    enable_idempotence=True, linger_ms=2)
    await worker.plain.start()
    background: list[asyncio.Task[None]] = [
        asyncio.create_task(function()) for function in (*worker.app.tasks, *extra)]
    background += [asyncio.create_task(_every(interval, function, loop))
                   for interval, function in worker.app.timers]
    try:
        await loop.run(stop)
    finally:
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        await worker.plain.stop()
