"""The edge's Prometheus metrics (labels: provider, reason, topic, channel; never a customer).

Two metrics are the ingress's own (the channels dashboard queries them):
``omniroute_ingress_requests_total`` and ``omniroute_ingress_publish_seconds``.
Everything else is recorded into the pipeline's shared metrics
(:mod:`omniroute.observability.pipeline`): rejections by provider and reason,
and every published record in ``omniroute_messages_total``.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import Counter, Histogram

from omniroute.contract import InboundMessage, SelfServiceEvent
from omniroute.contract.topics import DELIVERY, INBOUND, SELFSERVICE
from omniroute.observability.pipeline import MESSAGES, REJECTIONS
from omniroute_connectors.base import Published

__all__ = ["PUBLISH_SECONDS", "REJECTIONS", "REQUESTS", "count_published", "topic_of"]

REQUESTS = Counter(
    "omniroute_ingress_requests_total",
    "Webhook requests received, by provider and HTTP status answered.",
    ["provider", "status"],
)
PUBLISH_SECONDS = Histogram(
    "omniroute_ingress_publish_seconds",
    "Time from handing events to the producer to Kafka's acknowledgement, by provider.",
    ["provider"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


def topic_of(event: Published) -> str:
    """The public topic (without namespace) an edge event is published to."""
    if isinstance(event, SelfServiceEvent):
        return SELFSERVICE.name
    return INBOUND.name if isinstance(event, InboundMessage) else DELIVERY.name


def count_published(component: str, events: Iterable[Published]) -> None:
    """Count records Kafka acknowledged: ``omniroute_messages_total{direction="out"}``."""
    for event in events:
        MESSAGES.labels(component, topic_of(event), event.channel.value, "out").inc()
