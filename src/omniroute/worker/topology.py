"""The worker's internal topics, and making sure they exist before faust starts.

Every internal topic has as many partitions as ``omniroute.inbound.v1``, so
faust's tables stay co-partitioned with the topics that feed them.
"""

from __future__ import annotations

from collections.abc import Iterable

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from omniroute.contract.topics import INBOUND
from omniroute.errors import BrokerError
from omniroute.infra.topics import TopicSpec, all_topics, create_topics
from omniroute.routing.requests import TOPIC as ROUTING_REQUESTS
from omniroute.settings import Settings
from omniroute.worker.app import APP_ID

GRAPH = "omniroute.internal.identity-graph"
"""Link and unlink claims, keyed by workspace: one writer per workspace's identity graph."""
CUSTOMERS = "omniroute.internal.customers"
"""Keyed by customer id: messages, merges and router news for that customer, and the
observations and reassignments of the addresses whose derived (home) customer it is."""

WORKER_TOPICS = (GRAPH, CUSTOMERS, ROUTING_REQUESTS)


async def partition_counts(settings: Settings, topics: Iterable[str]) -> dict[str, int]:
    """How many partitions with a leader each existing topic of ``topics`` has (by name)."""
    names = {settings.topic(topic): topic for topic in topics}
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap,
                                request_timeout_ms=15000)
    try:
        await admin.start()
        described = await admin.describe_topics(list(names))
        led = {(t["topic"], p["partition"]): p["leader"]
               for t in described if t.get("error_code") == 0
               for p in t.get("partitions") or () if p.get("leader", -1) >= 0}
    except KafkaError as exc:
        raise BrokerError(f"cannot reach Kafka at {settings.kafka_bootstrap}: {exc}") from exc
    finally:
        await admin.close()
    counts: dict[str, int] = {}
    for topic, _ in led:
        counts[names[topic]] = counts.get(names[topic], 0) + 1
    return counts


async def partition_count(settings: Settings, topic: str) -> int | None:
    """How many partitions ``topic`` has, or None when it does not exist."""
    return (await partition_counts(settings, [topic])).get(topic)


async def ensure_topics(settings: Settings) -> int:
    """Create missing topics (internal ones sized like inbound); return the partition count."""
    partitions = await partition_count(settings, INBOUND.name) or settings.kafka_partitions
    names = {spec.name for spec in all_topics()}
    extra = [TopicSpec(name) for name in WORKER_TOPICS if name not in names]
    await create_topics(settings, all_topics() + extra, partitions=partitions)
    return partitions


def changelog_topic(table: str) -> str:
    """The changelog faust keeps for ``table`` (before namespacing, like every topic name)."""
    return f"{APP_ID}-{table}-changelog"


async def ensure_changelogs(settings: Settings, tables: Iterable[str], partitions: int) -> None:
    """Create the tables' changelogs before faust starts, and wait until the broker has them.

    Left to faust, the changelogs are created while its consumer joins the group:
    on a fresh start the last one can be missing from the metadata of the first
    assignment, and faust then refuses every write to that table
    (``PartitionsMismatch``: the changelog "has 0 partitions") until the worker
    restarts. Created here, they exist in full before the first join, and every
    partition's leader serves it (the batch engine reads them at once).
    """
    names = [changelog_topic(table) for table in tables]
    specs = [TopicSpec(name, partitions, {"cleanup.policy": "compact"}) for name in names]
    await create_topics(settings, specs)  # returns once every partition is served
