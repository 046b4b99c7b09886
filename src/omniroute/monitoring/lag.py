"""Consumer lag, in messages and in seconds, per group, topic and partition.

The arithmetic is pure (:func:`partition_lag`); :class:`LagProbe` reads the
offsets from Kafka. Lag in seconds is how old the oldest unconsumed record is:
the broker timestamp of the record at the committed offset, against now. A
stopped consumer therefore shows lag seconds growing even when no new messages
arrive, which is what an SRE must be paged on.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient


@dataclass(frozen=True)
class PartitionLag:
    """Lag of one consumer group on one partition."""

    group: str
    topic: str
    partition: int
    messages: int
    seconds: float


def partition_lag(committed: int | None, end: int, begin: int) -> int:
    """Messages not yet consumed; a group with no commit yet lags by everything retained."""
    start = begin if committed is None or committed < begin else committed
    return max(0, end - start)


def age_seconds(oldest_unconsumed_ms: int | None, now_ms: int) -> float:
    """How long the oldest unconsumed record has waited (0 when there is none)."""
    if oldest_unconsumed_ms is None:
        return 0.0
    return max(0.0, (now_ms - oldest_unconsumed_ms) / 1000)


class LagProbe:
    """Reads committed offsets of consumer groups and the partitions' end offsets."""

    def __init__(self, bootstrap: str, topic_prefix: str = "", max_seeks: int = 256) -> None:
        self.bootstrap = bootstrap
        self.topic_prefix = topic_prefix
        self.max_seeks = max_seeks
        self.admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10000)
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None
        )

    async def start(self) -> None:
        """Connect."""
        await self.admin.start()
        await self.consumer.start()

    async def stop(self) -> None:
        """Disconnect."""
        await self.consumer.stop()
        await self.admin.close()

    async def measure(self) -> list[PartitionLag]:
        """Lag of every group on every partition of topics under the prefix."""
        committed: dict[tuple[str, TopicPartition], int] = {}
        for group, *_ in await self.admin.list_consumer_groups():
            offsets = await self.admin.list_consumer_group_offsets(group)
            for tp, meta in offsets.items():
                if tp.topic.startswith(self.topic_prefix) and meta.offset >= 0:
                    committed[(group, tp)] = meta.offset
        partitions = sorted({tp for _group, tp in committed}, key=lambda t: (t.topic, t.partition))
        if not partitions:
            return []
        ends = await self.consumer.end_offsets(partitions)
        begins = await self.consumer.beginning_offsets(partitions)
        now_ms = int(time.time() * 1000)
        result, seeks = [], 0
        for (group, tp), offset in sorted(committed.items(), key=lambda i: (i[0][0], i[0][1])):
            messages = partition_lag(offset, ends[tp], begins[tp])
            oldest = None
            if messages and seeks < self.max_seeks:
                seeks += 1
                oldest = await self._timestamp_at(tp, max(offset, begins[tp]))
            result.append(
                PartitionLag(group, tp.topic, tp.partition, messages, age_seconds(oldest, now_ms))
            )
        return result

    async def end_offsets(self) -> dict[str, int]:
        """Records ever written to each topic under the prefix (sum of partition end offsets).

        A dead-letter topic's figure going up is "dead letters appearing",
        whichever process wrote them.
        """
        topics = sorted(t for t in await self.consumer.topics() if t.startswith(self.topic_prefix))
        partitions = [
            TopicPartition(topic, p)
            for topic in topics
            for p in sorted(self.consumer.partitions_for_topic(topic) or ())
        ]
        ends = await self.consumer.end_offsets(partitions) if partitions else {}
        totals = dict.fromkeys(topics, 0)
        for tp, end in ends.items():
            totals[tp.topic] += end
        return totals

    async def _timestamp_at(self, tp: TopicPartition, offset: int) -> int | None:
        self.consumer.assign([tp])
        self.consumer.seek(tp, offset)
        batch = await self.consumer.getmany(tp, timeout_ms=2000, max_records=1)
        records = batch.get(tp, [])
        return records[0].timestamp if records else None
