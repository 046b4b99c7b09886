"""Append-only topics keep personal data only for the bound (docs/privacy.md).

With ``OMNIROUTE_PERSONAL_DATA_RETENTION_SECONDS=10``, a customer's record in
``omniroute.inbound.v1`` is reported by the erase scan with a "gone by" time,
and then really is gone from the log (the log start moves past it), while the
topic stays usable. Topics that existed before get the bound from ``enforce``.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from harness.kafka import produce
from integration.history.test_erase_everywhere import every_record
from omniroute.history.personal_retention import describe, enforce
from omniroute.history.topic_erasure import erase_from_topics, mentions, owned_topics
from omniroute.infra.topics import create_topics
from omniroute.settings import Settings

PHONE = "+14155550142"


async def log_bounds(settings: Settings, topic: str) -> tuple[int, int]:
    """The first offset still in partition 0 of ``topic``, and its next offset."""
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap)
    await consumer.start()
    try:
        tp = TopicPartition(topic, 0)
        start = (await consumer.beginning_offsets([tp]))[tp]
        end = (await consumer.end_offsets([tp]))[tp]
        return int(start), int(end)
    finally:
        await consumer.stop()


class TestPersonalRetention:
    async def test_a_record_with_personal_data_is_gone_from_the_log(
            self, kafka_bootstrap: str, namespace: str) -> None:
        """Reported with its gone-by time by the erase scan, then deleted by Kafka."""
        settings = Settings(kafka_bootstrap=kafka_bootstrap, topic_namespace=namespace,
                            personal_data_retention_seconds=10)
        await create_topics(settings, partitions=1)
        inbound = settings.topic("omniroute.inbound.v1")
        assert (await describe(settings, [inbound]))[inbound] == {
            "retention.ms": "10000", "segment.ms": "10000"}
        # 10 s, not less: the scan must see the record before Kafka may delete it, and on a
        # loaded machine producing to a new topic and scanning every topic take seconds
        written = datetime.now(UTC)
        await produce(kafka_bootstrap, inbound, [(PHONE.encode(), f'{{"from": "{PHONE}"}}'
                                                  .encode())])
        report = await erase_from_topics(settings, [PHONE])
        assert report.pending == {inbound: 1}
        gone_by = datetime.fromisoformat(report.gone_by[inbound])
        assert gone_by > written  # a promise, in the future at the time of the erase
        deadline = time.monotonic() + 120
        while (await log_bounds(settings, inbound))[0] == 0:
            assert time.monotonic() < deadline, "Kafka never deleted the aged segment"
            await asyncio.sleep(1)
        assert datetime.now(UTC) < gone_by  # kept within the promise
        records = (await every_record(settings))[inbound]
        assert not [r for r in records if mentions(r[1], r[2], [PHONE])]
        assert (await erase_from_topics(settings, [PHONE])).pending == {}
        _, before = await log_bounds(settings, inbound)
        await produce(kafka_bootstrap, inbound, [(b"k", b"still usable")])
        assert (await log_bounds(settings, inbound))[1] == before + 1  # (it ages out in 10 s too)

    async def test_enforce_bounds_topics_created_before(
            self, kafka_bootstrap: str, namespace: str) -> None:
        """A topic kept forever, the router's pool log and a compacted one get the bound;
        the routing configuration's trail is exempt."""
        settings = Settings(kafka_bootstrap=kafka_bootstrap, topic_namespace=namespace,
                            personal_data_retention_seconds=3600)
        names = {"omniroute.outbound.v1": {"retention.ms": "-1"},
                 "omniroute.internal.routing-pool-events": {"retention.ms": "-1"},
                 "omniroute.internal.routing-config": {"retention.ms": "-1"},
                 "omniroute.internal.worker-x-changelog": {"cleanup.policy": "compact"}}
        admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(settings.topic(n), 1, 1, topic_configs=c)
                                       for n, c in names.items()])
        finally:
            await admin.close()
        # a topic just created can be missing from the broker's metadata for a moment
        # (CI run of 2026-12-06: enforce listed the topics before the new ones showed)
        deadline = time.monotonic() + 30
        while not {settings.topic(n) for n in names} <= set((await owned_topics(settings))[0]):
            assert time.monotonic() < deadline, "the created topics never showed in the metadata"
            await asyncio.sleep(0.2)
        await enforce(settings)
        found = await describe(settings, [settings.topic(n) for n in names])
        assert found[settings.topic("omniroute.outbound.v1")] == {
            "retention.ms": "3600000", "segment.ms": "3600000"}
        assert found[settings.topic("omniroute.internal.routing-pool-events")] == {
            "retention.ms": "3600000", "segment.ms": "3600000"}
        assert found[settings.topic("omniroute.internal.routing-config")] == {
            "retention.ms": "-1"}
        assert found[settings.topic("omniroute.internal.worker-x-changelog")] == {
            "cleanup.policy": "compact", "max.compaction.lag.ms": "3600000",
            "segment.ms": "3600000"}
