"""The commit interval: a transaction gathers inputs until the interval after the previous
batch has passed, and adds no wait when the previous batch is older than that."""

from __future__ import annotations

import time
from typing import Any

from aiokafka import TopicPartition

from omniroute.routing.transactions import poll

TP = TopicPartition("t", 0)


class Feed:
    """A consumer stand-in: one record per getmany, and the timeouts it was given."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    async def getmany(self, timeout_ms: int, max_records: int) -> dict[Any, list[int]]:
        self.calls.append(timeout_ms)
        return {TP: [len(self.calls)]}


async def test_records_are_gathered_until_the_interval_after_the_previous_batch() -> None:
    feed = Feed()
    since = time.perf_counter()
    batch = await poll(feed, 0.05, since)  # type: ignore[arg-type]
    assert time.perf_counter() - since >= 0.05
    assert len(batch[TP]) == len(feed.calls) > 1
    assert all(t <= 50 for t in feed.calls[1:])


async def test_no_wait_once_the_interval_has_passed_or_without_one() -> None:
    feed = Feed()
    assert await poll(feed, 0.05, time.perf_counter() - 1) == {TP: [1]}  # type: ignore[arg-type]
    assert await poll(feed, 0.0, time.perf_counter()) == {TP: [2]}  # type: ignore[arg-type]
