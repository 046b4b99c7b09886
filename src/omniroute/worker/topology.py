"""The worker's internal topics, and making sure they exist before faust starts.

Every internal topic has as many partitions as ``omniroute.inbound.v1``, so
faust's tables stay co-partitioned with the topics that feed them.
"""

from __future__ import annotations

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from omniroute.contract.topics import INBOUND
from omniroute.errors import BrokerError
from omniroute.infra.topics import TopicSpec, all_topics, create_topics
from omniroute.routing.requests import TOPIC as ROUTING_REQUESTS
from omniroute.settings import Settings

GRAPH = "omniroute.internal.identity-graph"
"""Link and unlink claims, keyed by workspace: one writer per workspace's identity graph."""
CUSTOMERS = "omniroute.internal.customers"
"""Keyed by customer id: messages, merges and router news for that customer, and the
observations and reassignments of the addresses whose derived (home) customer it is."""

WORKER_TOPICS = (GRAPH, CUSTOMERS, ROUTING_REQUESTS)


async def partition_count(settings: Settings, topic: str) -> int | None:
    """How many partitions ``topic`` has, or None when it does not exist."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap,
                                request_timeout_ms=15000)
    try:
        await admin.start()
        described = await admin.describe_topics([settings.topic(topic)])
    except KafkaError as exc:
        raise BrokerError(f"cannot reach Kafka at {settings.kafka_bootstrap}: {exc}") from exc
    finally:
        await admin.close()
    found = [t for t in described if t.get("error_code") == 0 and t.get("partitions")]
    return len(found[0]["partitions"]) if found else None


async def ensure_changelogs(settings: Settings, names: list[str], partitions: int) -> None:
    """Create the tables' changelog topics (full names, compacted) before faust starts.

    faust creates them itself when it starts, but until its metadata shows their
    partitions every table write fails with PartitionsMismatch, and the records of
    the first seconds after a fresh start were dead-lettered. Created beforehand,
    they are in the metadata from faust's first fetch.
    """
    bare = settings.model_copy(update={"topic_namespace": ""})
    specs = [TopicSpec(name, configs={"cleanup.policy": "compact"}) for name in names]
    await create_topics(bare, specs, partitions=partitions)


async def ensure_topics(settings: Settings) -> int:
    """Create missing topics (internal ones sized like inbound); return the partition count."""
    partitions = await partition_count(settings, INBOUND.name) or settings.kafka_partitions
    names = {spec.name for spec in all_topics()}
    extra = [TopicSpec(name) for name in WORKER_TOPICS if name not in names]
    await create_topics(settings, all_topics() + extra, partitions=partitions)
    return partitions
