"""A Kafka producer that answers within a bound and never writes after it gave up.

acks=all and enable_idempotence=True; :meth:`GuardedProducer.send_all` returns only
once every record is acknowledged. When a send fails (Kafka unreachable, no
acknowledgement within ``timeout`` seconds) the producer is *abandoned*: its sender
task is cancelled, its pending batches are failed and its connections closed, so
aiokafka does not retry a record its caller answered 503 for once the broker is back
(the caller's retry would be a second copy). One case is beyond any client: a request
already in the socket of a hung or slow broker (one recovering its partitions after a
restart) is written when that broker gets to it, so the caller's retry may still be a
second record; callers give the retry the same event id
(replies' ``client_id``, webhooks' provider ids), which history and delivery keep once.
The next send starts a fresh producer (a new idempotent producer id). When Kafka is down
at start-up the producer is likewise started lazily by the next send.

The ingress publishes webhooks through one, the gateway agents' calls: both answer
503 within their timeout while Kafka is away.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import NamedTuple

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError, MessageSizeTooLargeError
from aiokafka.structs import RecordMetadata

from omniroute.observability.logs import get_logger

log = get_logger(__name__)

class Record(NamedTuple):
    """One record to write."""

    topic: str
    value: bytes
    key: bytes | None = None
    headers: Sequence[tuple[str, bytes]] | None = None


class ProducerUnavailable(KafkaError):  # type: ignore[misc]  # aiokafka is untyped
    """Kafka did not take the records within the bound (retriable); nothing of them is
    written later."""

    retriable = True


class GuardedProducer:
    """One lazily started producer, abandoned and replaced after a failed send."""

    def __init__(self, bootstrap: str, client_id: str, timeout: float, linger_ms: int = 2) -> None:
        self.bootstrap = bootstrap
        self.client_id = client_id
        self.timeout = timeout
        self.linger_ms = linger_ms
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()

    @property
    def connected(self) -> bool:
        """True while a started producer exists."""
        return self._producer is not None

    async def start(self) -> None:
        """Start the producer now if Kafka answers; otherwise the first send retries."""
        try:
            await self.ensure()
        except ProducerUnavailable as exc:
            log.warning("kafka_unavailable_at_start", client=self.client_id, error=str(exc))

    async def ensure(self) -> AIOKafkaProducer:
        """The started producer, starting one if there is none (ProducerUnavailable if
        Kafka does not answer within the bound)."""
        async with self._lock:
            if self._producer is not None:
                return self._producer
            producer = AIOKafkaProducer(
                bootstrap_servers=self.bootstrap, client_id=self.client_id, acks="all",
                enable_idempotence=True, request_timeout_ms=int(self.timeout * 1000),
                linger_ms=self.linger_ms,
            )
            try:
                await asyncio.wait_for(producer.start(), self.timeout)
            except (KafkaError, OSError, TimeoutError) as exc:
                await _quietly_stop(producer)
                raise ProducerUnavailable(f"cannot connect to Kafka: {exc!r}") from exc
            self._producer = producer
            return producer

    async def check(self) -> None:
        """Readiness: the producer is started and the broker answers a metadata request.

        A producer abandoned after a failed send is restarted here, so an instance taken
        out of a load balancer by a failing probe comes back without traffic.
        """
        producer = await self.ensure()
        await producer.client.fetch_all_metadata()

    async def send_all(self, records: Sequence[Record]) -> list[RecordMetadata]:
        """Write every record and wait for every acknowledgement, within the bound.

        ProducerUnavailable (the producer abandoned) when they were not all acknowledged;
        aiokafka's MessageSizeTooLargeError, refused before sending, leaves it as it is.
        """
        producer = await self.ensure()

        async def send() -> list[RecordMetadata]:
            futures = []
            for topic, value, key, headers in records:
                future = await producer.send(topic, value, key=key, headers=headers)
                future.add_done_callback(_outcome_retrieved)  # failed after we gave up on it
                futures.append(future)
            return list(await asyncio.gather(*futures))

        try:
            return await asyncio.wait_for(send(), self.timeout)
        except MessageSizeTooLargeError:  # refused before sending: the producer is fine
            raise
        except (KafkaError, TimeoutError) as exc:
            log.warning("publish_failed", client=self.client_id, error=repr(exc),
                        records=len(records))
            await self._abandon(producer)
            raise ProducerUnavailable(f"Kafka did not acknowledge the write: {exc!r}") from exc

    async def send_and_wait(self, topic: str, value: bytes, key: bytes | None = None,
                            headers: Sequence[tuple[str, bytes]] | None = None
                            ) -> RecordMetadata:
        """One record, as :meth:`send_all` (the signature of aiokafka's)."""
        (sent,) = await self.send_all([Record(topic, value, key, headers)])
        return sent

    async def _abandon(self, producer: AIOKafkaProducer) -> None:
        """Drop ``producer`` without delivering anything it still holds."""
        async with self._lock:
            if self._producer is producer:
                self._producer = None
        await abandon(producer)

    async def stop(self) -> None:
        """Flush and stop the producer."""
        async with self._lock:
            producer, self._producer = self._producer, None
        if producer is not None:
            await _quietly_stop(producer)


async def _quietly_stop(producer: AIOKafkaProducer) -> None:
    try:
        await producer.stop()
    except (KafkaError, OSError) as exc:  # stopping a producer of a dead broker
        log.debug("producer_stop_failed", error=repr(exc))


async def abandon(producer: AIOKafkaProducer) -> None:
    """Stop a producer *without* flushing: cancel its sender, fail what it holds, disconnect.

    aiokafka has no public "close without flush"; these are its own close steps
    minus the accumulator drain (``AIOKafkaProducer.stop`` waits for the drain).
    """
    sender = getattr(producer, "_sender", None)
    try:
        if sender is not None:
            await sender.close()
        accumulator = producer._message_accumulator
        queued = [batch for batches in accumulator._batches.values() for batch in batches]
        held = [*accumulator._pending_batches, *queued]
        # A batch sent, refused and queued again is failed from the queue, but its done
        # callback removes it from the in-flight set it left: KeyError, logged by asyncio.
        accumulator._pending_batches.update(queued)
        accumulator.fail_all(ProducerUnavailable("producer abandoned"))
        for batch in held:  # nobody waits on these now: asyncio would log each failure
            for future in (batch.future, batch._drain_waiter):
                _outcome_retrieved(future)
        producer._closed = True
        await producer.client.close()
    except (KafkaError, OSError, asyncio.CancelledError) as exc:
        log.debug("producer_abandon_failed", error=repr(exc))


def _outcome_retrieved(future: asyncio.Future[object]) -> None:
    """Mark a send's outcome as seen: when a send gave up (timed out, or another send
    abandoned the producer), nobody awaits its futures, and asyncio logged each failure as
    an error ("Future exception was never retrieved") for an outage the 503s already told."""
    if future.done() and not future.cancelled():
        future.exception()
