"""The Kafka producer the ingress owns and injects into connectors as a publish capability.

acks=all and enable_idempotence=True; :meth:`KafkaPublisher.publish` returns only
once every record is acknowledged. When a publish fails
(Kafka unreachable, no acknowledgement within ``OMNIROUTE_INGRESS_PUBLISH_TIMEOUT``)
the producer is *abandoned*: its sender task is cancelled, its pending batches are
failed and its connections closed, so a record answered 503 is never written later
behind the provider's back (aiokafka would otherwise retry an in-flight batch once
the broker is back, and the provider's retry would be a second copy). The next
publish starts a fresh producer (a new idempotent producer id). When Kafka is down
at start-up the producer is likewise started lazily by the next publish.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError, MessageSizeTooLargeError

from omniroute.contract import InboundMessage, SelfServiceEvent
from omniroute.contract.topics import DELIVERY, INBOUND, SELFSERVICE
from omniroute.observability.logs import get_logger
from omniroute.settings import Settings
from omniroute_connectors.base import Published, PublishUnavailable
from omniroute_connectors.bounds import EventTooLarge, fit_record

log = get_logger(__name__)


class KafkaPublisher:
    """Publishes InboundMessage to ``omniroute.inbound.v1`` and DeliveryStatus to
    ``omniroute.delivery.v1`` (namespaced), waiting for acks=all."""

    def __init__(self, settings: Settings, client_id: str = "omniroute-ingress") -> None:
        self.settings = settings
        self.client_id = client_id
        self.inbound_topic = settings.topic(INBOUND.name)
        self.delivery_topic = settings.topic(DELIVERY.name)
        self.selfservice_topic = settings.topic(SELFSERVICE.name)
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()

    @property
    def connected(self) -> bool:
        """True while a started producer exists."""
        return self._producer is not None

    async def start(self) -> None:
        """Start the producer now if Kafka answers; otherwise the first publish retries."""
        try:
            await self._ensure()
        except PublishUnavailable as exc:
            log.warning("kafka_unavailable_at_start", error=str(exc))

    async def _ensure(self) -> AIOKafkaProducer:
        async with self._lock:
            if self._producer is not None:
                return self._producer
            timeout_ms = int(self.settings.ingress_publish_timeout * 1000)
            producer = AIOKafkaProducer(
                bootstrap_servers=self.settings.kafka_bootstrap, client_id=self.client_id,
                acks="all", enable_idempotence=True, request_timeout_ms=timeout_ms,
                linger_ms=2,
            )
            try:
                await asyncio.wait_for(producer.start(), self.settings.ingress_publish_timeout)
            except (KafkaError, OSError, TimeoutError) as exc:
                await _quietly_stop(producer)
                raise PublishUnavailable(f"cannot connect to Kafka: {exc}") from exc
            self._producer = producer
            return producer

    async def check(self) -> None:
        """Readiness: the producer is started and the broker answers a metadata request.

        A producer abandoned after a failed publish is restarted here, so an instance
        taken out of a load balancer by a failing probe comes back without traffic.
        """
        producer = await self._ensure()
        await producer.client.fetch_all_metadata()

    def _topic(self, event: Published) -> str:
        if isinstance(event, SelfServiceEvent):
            return self.selfservice_topic
        return self.inbound_topic if isinstance(event, InboundMessage) else self.delivery_topic

    async def publish(self, events: Sequence[Published]) -> None:
        """Write every event and wait for every acknowledgement (PublishUnavailable if not).

        Every event is first cleaned and bounded (:func:`~omniroute_connectors.bounds.fit_record`,
        which also serializes it, once); one that cannot fit raises :class:`EventTooLarge`
        before anything is sent, so the shared producer is never abandoned for a record the
        broker would refuse.
        """
        if not events:
            return
        limit = self.settings.max_event_bytes
        records = [(e, e.to_json_bytes()) if isinstance(e, SelfServiceEvent) else
                   fit_record(e, limit) for e in events]
        producer = await self._ensure()

        async def send_all() -> None:
            futures = []
            for e, data in records:
                future = await producer.send(self._topic(e), data, key=e.kafka_key.encode())
                future.add_done_callback(_outcome_retrieved)  # failed after we gave up on it
                futures.append(future)
            await asyncio.gather(*futures)

        try:
            await asyncio.wait_for(send_all(), self.settings.ingress_publish_timeout)
        except MessageSizeTooLargeError as exc:  # refused before sending: the producer is fine
            raise EventTooLarge(f"Kafka refuses a record this large: {exc}") from exc
        except (KafkaError, TimeoutError) as exc:
            log.warning("publish_failed", error=repr(exc), events=len(events))
            await self._abandon(producer)
            raise PublishUnavailable(f"Kafka did not acknowledge the write: {exc!r}") from exc

    async def _abandon(self, producer: AIOKafkaProducer) -> None:
        """Drop ``producer`` without delivering anything it still holds."""
        async with self._lock:
            if self._producer is producer:
                self._producer = None
        await _abandon(producer)

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




async def _abandon(producer: AIOKafkaProducer) -> None:
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
        accumulator.fail_all(PublishUnavailable("producer abandoned"))
        for batch in held:  # nobody waits on these now: asyncio would log each failure
            for future in (batch.future, batch._drain_waiter):
                _outcome_retrieved(future)
        producer._closed = True
        await producer.client.close()
    except (KafkaError, OSError, asyncio.CancelledError) as exc:
        log.debug("producer_abandon_failed", error=repr(exc))


def _outcome_retrieved(future: asyncio.Future[object]) -> None:
    """Mark a send's outcome as seen: when a publish gave up (timed out, or another publish
    abandoned the producer), nobody awaits its futures, and asyncio logged each failure as
    an error ("Future exception was never retrieved") for an outage the 503s already told."""
    if future.done() and not future.cancelled():
        future.exception()
