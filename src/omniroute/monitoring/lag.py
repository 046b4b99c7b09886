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
            bootstrap_servers=bootstrap,
            enable_auto_commit=False,
            group_id=None,
            isolation_level="read_committed",
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
        # where each group resumes: its commit, or the log start if retention passed it
        resume = {key: max(offset, begins[key[1]]) for key, offset in committed.items()}
        lags = {key: partition_lag(offset, ends[key[1]], begins[key[1]])
                for key, offset in committed.items()}
        wanted = sorted(
            {(key[1], resume[key]) for key in committed if lags[key]},
            key=lambda item: (item[0].topic, item[0].partition, item[1]),
        )[: self.max_seeks]
        oldest = await self._timestamps_at(wanted)
        return [
            PartitionLag(group, tp.topic, tp.partition, lags[(group, tp)],
                         age_seconds(oldest.get((tp, resume[(group, tp)])), now_ms))
            for group, tp in sorted(committed, key=lambda k: (k[0], k[1].topic, k[1].partition))
        ]

    async def end_offsets(self) -> dict[str, int]:
        """Records ever written to each topic under the prefix (sum of partition end offsets).

        A dead-letter topic's figure going up is "dead letters appearing",
        whichever process wrote them.
        """
        prefix = self.topic_prefix
        topics = sorted(t for t in await self.admin.list_topics() if t.startswith(prefix))
        described = await self.admin.describe_topics(topics) if topics else []
        partitions = [
            TopicPartition(d["topic"], p["partition"])
            for d in described
            for p in d["partitions"]
        ]
        ends = await self.consumer.end_offsets(partitions) if partitions else {}
        totals = dict.fromkeys(topics, 0)
        for tp, end in ends.items():
            totals[tp.topic] += end
        return totals

    async def _timestamps_at(
        self, wanted: list[tuple[TopicPartition, int]], budget: float = 3.0
    ) -> dict[tuple[TopicPartition, int], int]:
        """Broker timestamps of the records at the given offsets, fetched together.

        A partition is read at one offset at a time, so offsets of several groups
        on one partition are fetched in waves. Positions holding only transaction
        markers return no record and are left out (their lag is markers, not waiting
        work). The whole measurement is bounded by ``budget`` seconds.
        """
        found: dict[tuple[TopicPartition, int], int] = {}
        pending = list(wanted)
        deadline = time.monotonic() + budget
        while pending and time.monotonic() < deadline:
            wave: dict[TopicPartition, int] = {}
            for tp, offset in pending:
                wave.setdefault(tp, offset)
            self.consumer.assign(list(wave))
            for tp, offset in wave.items():
                self.consumer.seek(tp, offset)
            remaining = dict(wave)
            while remaining and time.monotonic() < deadline:
                batch = await self.consumer.getmany(*remaining, timeout_ms=300)
                for tp, records in batch.items():
                    if records and tp in remaining:
                        found[(tp, remaining.pop(tp))] = records[0].timestamp
            pending = [(tp, o) for tp, o in pending if (tp, o) not in found and wave.get(tp) != o]
        return found
