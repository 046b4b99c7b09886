"""The commit interval: a transaction gathers inputs until the interval after the previous
batch has passed, and adds no wait when the previous batch is older than that."""

from __future__ import annotations

import time
from typing import Any

from aiokafka import TopicPartition

from omniroute.infra.taking import Taking
from omniroute.routing.transactions import Loop
from omniroute.settings import Settings

TP = TopicPartition("t", 0)


class Feed:
    """A consumer stand-in: one record per getmany, and the timeouts it was given."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    async def getmany(self, timeout_ms: int, max_records: int) -> dict[Any, list[int]]:
        self.calls.append(timeout_ms)
        return {TP: [len(self.calls)]}


def loop_on(feed: Feed) -> Loop:
    loop = Loop(Settings(), "test", ["t"], "unit")
    loop.consumer = feed  # type: ignore[assignment]
    loop.taking = Taking(feed)  # type: ignore[arg-type]
    return loop


async def test_records_are_gathered_until_the_interval_after_the_previous_batch() -> None:
    feed = Feed()
    since = time.perf_counter()
    batch = await loop_on(feed).poll(0.05, since)
    assert time.perf_counter() - since >= 0.05
    assert len(batch[TP]) == len(feed.calls) > 1
    assert all(t <= 50 for t in feed.calls[1:])


async def test_no_wait_once_the_interval_has_passed_or_without_one() -> None:
    loop = loop_on(Feed())
    assert await loop.poll(0.05, time.perf_counter() - 1) == {TP: [1]}
    assert await loop.poll(0.0, time.perf_counter()) == {TP: [2]}


async def test_records_taken_during_the_commit_come_first() -> None:
    loop = loop_on(Feed())
    loop.taking.held = {TP: [7, 8]}
    assert await loop.poll(0.0, 0.0) == {TP: [7, 8, 1]}
