"""The Kafka producer the ingress owns and injects into connectors as a publish capability.

A :class:`~omniroute.infra.guarded_producer.GuardedProducer`: acks=all, idempotent,
and :meth:`KafkaPublisher.publish` returns only once every record is acknowledged.
When a publish fails (Kafka unreachable, no acknowledgement within
``OMNIROUTE_INGRESS_PUBLISH_TIMEOUT``) the producer is abandoned, so aiokafka does not
write a webhook answered 503 later behind the provider's back (a request already in a hung
or slow broker's socket excepted: the provider's retry is then a second record with the same event
id, which the worker drops as a duplicate); the next publish starts a fresh producer.
"""

from __future__ import annotations

from collections.abc import Sequence

from aiokafka.errors import MessageSizeTooLargeError

from omniroute.contract import InboundMessage, SelfServiceEvent
from omniroute.contract.topics import DELIVERY, INBOUND, SELFSERVICE
from omniroute.infra.guarded_producer import GuardedProducer, ProducerUnavailable, Record
from omniroute.settings import Settings
from omniroute_connectors.base import Published, PublishUnavailable
from omniroute_connectors.bounds import EventTooLarge, fit_record


class KafkaPublisher(GuardedProducer):
    """Publishes InboundMessage to ``omniroute.inbound.v1`` and DeliveryStatus to
    ``omniroute.delivery.v1`` (namespaced), waiting for acks=all."""

    def __init__(self, settings: Settings, client_id: str = "omniroute-ingress") -> None:
        super().__init__(settings.kafka_bootstrap, client_id, settings.ingress_publish_timeout)
        self.settings = settings
        self.inbound_topic = settings.topic(INBOUND.name)
        self.delivery_topic = settings.topic(DELIVERY.name)
        self.selfservice_topic = settings.topic(SELFSERVICE.name)

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
        try:
            await self.send_all([Record(self._topic(e), data, e.kafka_key.encode())
                                 for e, data in records])
        except MessageSizeTooLargeError as exc:
            raise EventTooLarge(f"Kafka refuses a record this large: {exc}") from exc
        except ProducerUnavailable as exc:
            raise PublishUnavailable(str(exc)) from exc
