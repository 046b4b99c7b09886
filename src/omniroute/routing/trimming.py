"""Trimming the pool stream: what snapshots make unnecessary is deleted.

Once a snapshot round of a pool-stream partition is committed, a restore never
reads that partition below the *previous* round's offset (it starts at the newest
complete snapshot; the previous round is kept as a margin). Records below it
are deleted with the Kafka admin ``DeleteRecords`` request, so the stream, kept
without time-based retention, no longer grows forever (ticks alone add 86,400
records per pool per day). A restore that would need trimmed records (no usable
snapshot) stops with an error instead of deciding from a partial history.
"""

from __future__ import annotations

import asyncio

from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, RecordsToDelete
from aiokafka.errors import KafkaError

from omniroute.observability.logs import get_logger
from omniroute.settings import Settings

log = get_logger("omniroute.router")


class Trimmer:
    """Remembers each partition's last two snapshot rounds and trims below the older."""

    def __init__(self, settings: Settings, topic: str) -> None:
        self.settings = settings
        self.topic = settings.topic(topic)
        self.rounds: dict[int, list[int]] = {}
        self.tasks: set[asyncio.Task[None]] = set()
        self.admin: AIOKafkaAdminClient | None = None

    def committed(self, partition: int, offset: int) -> None:
        """A snapshot round reflecting ``offset`` committed: trim below the previous one."""
        rounds = self.rounds.setdefault(partition, [])
        rounds.append(offset)
        del rounds[:-2]
        if len(rounds) == 2 and rounds[0] > 0:
            task = asyncio.create_task(self.trim(partition, rounds[0]))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    def forget(self, partition: int) -> None:
        """The partition moved to another process."""
        self.rounds.pop(partition, None)

    async def trim(self, partition: int, before: int) -> None:
        """Delete the partition's records below ``before`` (errors are logged, not raised:
        the next round tries again)."""
        try:
            if self.admin is None:
                self.admin = AIOKafkaAdminClient(bootstrap_servers=self.settings.kafka_bootstrap)
                await self.admin.start()
            tp = TopicPartition(self.topic, partition)
            low = await self.admin.delete_records({tp: RecordsToDelete(before)})
            log.info("router.stream_trimmed", partition=partition, before=before,
                     log_start=low.get(tp))
        except (KafkaError, OSError) as exc:
            log.warning("router.stream_trim_failed", partition=partition, error=repr(exc))

    async def close(self) -> None:
        """Wait for trims under way, then disconnect."""
        await asyncio.gather(*self.tasks, return_exceptions=True)
        if self.admin is not None:
            await self.admin.close()
