"""Consumer lag measured against the real broker."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaConsumer, TopicPartition

from harness.kafka import produce
from omniroute.contract.topics import INBOUND, PUBLIC_TOPICS
from omniroute.monitoring.lag import LagProbe
from omniroute.settings import Settings


class TestLagProbe:
    async def test_a_stopped_consumer_shows_messages_and_growing_seconds(self, topics: Settings) -> None:
        """A group that consumed 2 of 5 records and stopped lags by 3, and the wait grows."""
        topic = topics.topic(INBOUND.name)
        await produce(topics.kafka_bootstrap, topic, [(b"k", f"m{i}".encode()) for i in range(5)])
        (partition,) = await _partition_of(topics.kafka_bootstrap, topic)
        group = topics.topic("lag-test")
        consumer = AIOKafkaConsumer(bootstrap_servers=topics.kafka_bootstrap, group_id=group,
                                    enable_auto_commit=False)
        await consumer.start()
        tp = TopicPartition(topic, partition)
        consumer.assign([tp])
        await consumer.commit({tp: 2})
        await consumer.stop()

        probe = LagProbe(topics.kafka_bootstrap, topic_prefix=topics.topic("omniroute."))
        await probe.start()
        try:
            first = [x for x in await probe.measure() if x.group == group]
            await asyncio.sleep(1.1)
            second = [x for x in await probe.measure() if x.group == group]
            ends = await probe.end_offsets()
        finally:
            await probe.stop()
        assert [(x.topic, x.partition, x.messages) for x in first] == [(topic, partition, 3)]
        assert second[0].seconds > first[0].seconds > 0
        assert ends[topic] == 5
        assert ends[topics.topic("omniroute.dlq.v1")] == 0
        assert len(ends) == len(PUBLIC_TOPICS) + len([t for t in ends if ".internal." in t])


async def _partition_of(bootstrap: str, topic: str) -> set[int]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=None,
                                auto_offset_reset="earliest")
    await consumer.start()
    try:
        batch = await consumer.getmany(timeout_ms=5000)
        return {tp.partition for tp, records in batch.items() if records}
    finally:
        await consumer.stop()
