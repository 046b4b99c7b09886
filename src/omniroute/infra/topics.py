"""Creating omniroute's topics, public and internal, idempotently.

Public topics come from :data:`omniroute.contract.PUBLIC_TOPICS`. Internal topics
(repartitions, routing requests, compacted state) are declared here by the
components that own them, under ``omniroute.internal.``. Topics faust creates
for its own tables are not listed: faust declares them itself.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError
from aiokafka.protocol.offset import OffsetRequest

from omniroute.contract import PUBLIC_TOPICS
from omniroute.errors import BrokerError
from omniroute.settings import Settings

TOPIC_ALREADY_EXISTS = 36
DAY_MS = 24 * 3600 * 1000
SERVE_WAIT_SECONDS = 30.0
"""How long topic creation waits for every partition's leader to serve it."""


@dataclass(frozen=True)
class TopicSpec:
    """A topic to create: name (before namespacing), partitions and configs."""

    name: str
    partitions: int | None = None
    configs: dict[str, str] = field(default_factory=dict)


PUBLIC_TOPIC_CONFIGS: dict[str, dict[str, str]] = {
    "omniroute.dlq.v1": {"retention.ms": str(31 * DAY_MS)},
}

COMPACT_SOON = {"cleanup.policy": "compact", "segment.ms": "60000",
                "min.cleanable.dirty.ratio": "0.01", "max.compaction.lag.ms": "300000"}
"""A compacted topic whose superseded records go within minutes: Kafka compacts only closed
segments, and a segment closes after 7 days (or 1 GiB) by default."""

INTERNAL_TOPICS: list[TopicSpec] = [
    TopicSpec("omniroute.internal.identity-graph"),
    TopicSpec("omniroute.internal.customers"),
    TopicSpec("omniroute.internal.routing-requests"),
    # the answer bot's inbox (key conversation id): turns, resolved news, expiries
    TopicSpec("omniroute.internal.bot-inbox"),
    # the router's per-pool input log: pool state is its fold (from the latest snapshot,
    # taken at least every 5,000 inputs, ticks included: ~83 min of a quiet pool), kept
    # as long as the personal-data retention bound (it names customers)
    TopicSpec("omniroute.internal.routing-pool-events"),
    # router state snapshots, key pool, partition = its pool-stream partition (same count)
    TopicSpec("omniroute.internal.routing-snapshots",
              configs={"cleanup.policy": "compact", "max.message.bytes": "8388608"}),
    # pool statistics (key pool, latest wins), published by the routers every 2 s and read
    # from the start by the gateway (once a second), workers and ingress replicas: segments
    # roll every minute so compaction keeps it at minutes of records, not days of them
    TopicSpec("omniroute.internal.routing-stats", configs=COMPACT_SOON),
    # live routing configuration: one partition, versions = offsets, kept as the audit trail
    TopicSpec("omniroute.internal.routing-config", partitions=1,
              configs={"retention.ms": "-1"}),
    # typing indicators (agents and web chat visitors): worthless after a minute
    TopicSpec("omniroute.internal.typing",
              configs={"retention.ms": "60000", "segment.ms": "60000"}),
    # automation: agents' replies and SLA ticks, key customer (co-partitioned with customers)
    TopicSpec("omniroute.internal.automation"),
    # automation rules set live (admin API, CLI), key workspace: every worker reads it all
    TopicSpec("omniroute.internal.automation-rules", partitions=1,
              configs={"cleanup.policy": "compact"}),
    # automation's per-customer memory (a faust changelog; the worker creates it before faust
    # starts): listed so that erasure tombstones it, as it holds slots (emails, phones)
    TopicSpec("omniroute.internal.worker-automation-customers-changelog",
              configs={"cleanup.policy": "compact"}),
    # erase: requests to the worker (they name the customer: compacted, tombstoned once
    # answered) and its answers (counts only); omniroute.history.erase_requests
    TopicSpec("omniroute.internal.erase-requests", configs=COMPACT_SOON),
    TopicSpec("omniroute.internal.erase-done", configs={"retention.ms": str(DAY_MS)}),
    # delivery: outbound messages whose provider could not be reached, sent again when due
    # (key conversation id, the outbound record's value, the round and due time in headers)
    TopicSpec("omniroute.internal.delivery-retry"),
    TopicSpec("omniroute.internal.email-retry"),  # the same for omniroute email-delivery
]
"""Internal topics; components append their specs at import of their topology module."""


def all_topics() -> list[TopicSpec]:
    """Every topic omniroute creates, public first."""
    public = [
        TopicSpec(t.name, configs=PUBLIC_TOPIC_CONFIGS.get(t.name, {})) for t in PUBLIC_TOPICS
    ]
    return public + list(INTERNAL_TOPICS)


@dataclass(frozen=True)
class TopicResult:
    """What happened to one topic."""

    name: str
    created: bool
    partitions: int


async def create_topics(
    settings: Settings, specs: list[TopicSpec] | None = None, partitions: int | None = None
) -> list[TopicResult]:
    """Create every topic that does not exist yet; existing topics are left as they are."""
    specs = all_topics() if specs is None else specs
    from omniroute.history.personal_retention import topic_configs  # bound on personal data

    default = partitions or settings.kafka_partitions
    wanted = {
        settings.topic(s.name): NewTopic(
            name=settings.topic(s.name),
            num_partitions=s.partitions or default,
            replication_factor=settings.kafka_replication_factor,
            topic_configs=topic_configs(settings, s.name, s.configs),
        )
        for s in specs
    }
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.kafka_bootstrap, request_timeout_ms=15000
    )
    try:
        await admin.start()
        await _until_controller(admin)
        response = await admin.create_topics(list(wanted.values()), timeout_ms=15000)
        results = []
        for error in response.topic_errors:
            name, code = error[0], error[1]
            if code not in (0, TOPIC_ALREADY_EXISTS):
                message = error[2] if len(error) > 2 else ""
                raise BrokerError(f"creating topic {name} failed with error {code}: {message}")
            results.append(TopicResult(name, code == 0, wanted[name].num_partitions))
        await _until_served(admin, list(wanted))
        return sorted(results, key=lambda r: r.name)
    except KafkaError as exc:
        raise BrokerError(f"cannot administer topics at {settings.kafka_bootstrap}: {exc}") from exc
    finally:
        await admin.close()


async def _until_controller(admin: AIOKafkaAdminClient) -> None:
    """Wait until the cluster metadata names a controller, which topic creation is sent to.

    A broker that was just restarted, or resumed after a pause longer than its session
    (a GC pause, a frozen VM), is fenced until it registers again: for a few seconds its
    metadata lists no broker and no controller, and aiokafka's admin client then fails
    with an ``AttributeError`` instead of a Kafka error.
    """
    client = admin._client  # the admin client has no public metadata refresh
    deadline = time.monotonic() + SERVE_WAIT_SECONDS
    while client.cluster.controller is None:
        if time.monotonic() > deadline:
            raise BrokerError(f"the cluster metadata named no controller after "
                              f"{SERVE_WAIT_SECONDS:.0f}s")
        await asyncio.sleep(0.2)
        await client.force_metadata_update()


async def _until_served(admin: AIOKafkaAdminClient, names: list[str]) -> None:
    """Wait until the metadata knows every topic of ``names`` and each partition's leader serves it.

    Right after a topic is created, or while a restarted broker loads its logs, the
    metadata names a leader some time before that broker answers for the partition;
    a consumer asking it then gets ``NotLeaderForPartition``, which aiokafka logs at
    error level while it retries. Processes started after this return see none.
    A topic just created can also be missing from the metadata altogether for a
    moment (an error and no partitions): that is not served either.
    """
    deadline = time.monotonic() + SERVE_WAIT_SECONDS
    while True:
        described = await admin.describe_topics(names)
        known = {t["topic"] for t in described if t.get("error_code") == 0 and t.get("partitions")}
        expected = sum(len(t["partitions"]) for t in described if t["topic"] in known)
        served = await served_partitions(admin, described)
        if known == set(names) and len(served) == expected:
            return
        if time.monotonic() > deadline:
            raise BrokerError(f"{len(set(names) - known)} of {len(names)} topics unknown to the "
                              f"metadata and {expected - len(served)} of {expected} partitions "
                              f"not served after {SERVE_WAIT_SECONDS:.0f}s")
        await asyncio.sleep(0.2)


async def consumer_partitions(consumer: AIOKafkaConsumer, *topics: str) -> list[TopicPartition]:
    """Every partition of ``topics``, sorted, as ``consumer`` knows them; its metadata is
    refreshed first when one of them is unknown (a topic created just now)."""
    if not all(consumer.partitions_for_topic(t) for t in topics):
        await consumer._client.force_metadata_update()
    return [TopicPartition(t, p) for t in topics
            for p in sorted(consumer.partitions_for_topic(t) or ())]


async def served_partitions(admin: AIOKafkaAdminClient,
                            described: list[dict[str, Any]]) -> dict[tuple[str, int], int]:
    """The partitions of a DescribeTopics answer whose leader answers a ListOffsets (latest)."""
    by_leader: dict[int, dict[str, list[tuple[int, int]]]] = {}
    for t in described:
        if t.get("error_code") != 0:
            continue
        for p in t.get("partitions") or ():
            if p.get("leader", -1) >= 0:
                by_leader.setdefault(p["leader"], {}).setdefault(t["topic"], []).append(
                    (p["partition"], -1))
    served = {}
    for leader, topics in by_leader.items():
        request = OffsetRequest(-1, 1, list(topics.items()))  # read_committed, latest
        response = await admin._send_request_to_node(leader, request)  # no public ListOffsets
        for topic, partitions in response.topics:
            for partition, error_code, *_ in partitions:
                if error_code == 0:
                    served[(topic, partition)] = leader
    return served
