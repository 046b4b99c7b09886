"""The ingress server's Prometheus metrics (labels: provider and reason, never a customer)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

REQUESTS = Counter(
    "omniroute_ingress_requests_total",
    "Webhook requests received, by provider and HTTP status answered.",
    ["provider", "status"],
)
REJECTIONS = Counter(
    "omniroute_ingress_rejections_total",
    "Webhook requests rejected without publishing, by provider and reason.",
    ["provider", "reason"],
)
EVENTS = Counter(
    "omniroute_ingress_events_published_total",
    "Events published to Kafka and acknowledged, by provider and kind.",
    ["provider", "kind"],
)
PUBLISH_SECONDS = Histogram(
    "omniroute_ingress_publish_seconds",
    "Time from handing events to the producer to Kafka's acknowledgement, by provider.",
    ["provider"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
