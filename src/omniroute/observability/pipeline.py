"""The pipeline's shared metrics: one definition each, used by every process.

Dashboards and alert rules in ``deploy/`` query exactly these names; a process
records into them rather than defining look-alikes. Labels are bounded sets
(topics, channels, stages, pools, reasons), never customer or message ids.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

LATENCY_BUCKETS = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0,
    3600.0,
)

MESSAGES = Counter(
    "omniroute_messages_total",
    "Records a process consumed (direction=in) or produced (direction=out), per topic and channel.",
    ["component", "topic", "channel", "direction"],
)
PROCESSING_SECONDS = Histogram(
    "omniroute_processing_seconds",
    "Time one stage spent on one record, from receipt to its effect being durable.",
    ["stage"],
    buckets=LATENCY_BUCKETS,
)
END_TO_END_SECONDS = Histogram(
    "omniroute_end_to_end_seconds",
    "From the provider's receipt of a customer message (event time) to a milestone: "
    "assigned to an agent, or the agent's first reply.",
    ["milestone", "channel"],
    buckets=LATENCY_BUCKETS,
)
DEAD_LETTERS = Counter(
    "omniroute_dead_letters_total",
    "Records a processor refused and wrote to the dead-letter topic, by reason.",
    ["processor", "reason"],
)
REJECTIONS = Counter(
    "omniroute_rejections_total",
    "Requests refused at the edge (webhooks, SMTP, web chat, gateway), by provider and reason.",
    ["provider", "reason"],
)
RETRIES = Counter(
    "omniroute_retries_total",
    "Operations retried after a retriable failure (Kafka, PostgreSQL, provider APIs).",
    ["component", "operation"],
)
REBALANCES = Counter(
    "omniroute_rebalances_total",
    "Consumer group rebalances this process went through.",
    ["component"],
)
LEGACY_GROUP_ACTIVE = Gauge(
    "omniroute_legacy_group_active",
    "1 while a process waits because the legacy consumer group it takes over from has members.",
    ["component"],
)
QUEUE_DEPTH = Gauge(
    "omniroute_queue_depth",
    "Work items waiting for an agent, per routing pool.",
    ["pool"],
)
QUEUE_OLDEST_AGE = Gauge(
    "omniroute_queue_oldest_age_seconds",
    "How long the oldest waiting work item of a pool has waited.",
    ["pool"],
)
AGENTS = Gauge(
    "omniroute_agents",
    "Agents per routing pool and presence.",
    ["pool", "presence"],
)
ACTIVE_CONVERSATIONS = Gauge(
    "omniroute_active_conversations",
    "Conversations open (not resolved) as seen by the process that owns them.",
    ["component"],
)
OFFERS = Counter(
    "omniroute_offers_total",
    "Offers to agents by outcome: offered, accepted, declined, timed_out, rescinded.",
    ["pool", "outcome"],
)
