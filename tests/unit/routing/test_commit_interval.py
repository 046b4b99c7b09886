"""A loop's batches: the commit interval (a transaction gathers inputs until the interval
after the previous batch has passed, and adds no wait when the previous batch is older),
and the records taken while transactions commit (held, in order, for the next batch)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiokafka import TopicPartition

from omniroute.routing.transactions import Loop
from omniroute.settings import Settings

TP = TopicPartition("t", 0)
OTHER = TopicPartition("t", 1)


class Feed:
    """A consumer stand-in: one record per getmany (numbered by call), and the timeouts it
    was given; ``blocked``: getmany waits (as aiokafka's does during a rebalance)."""

    def __init__(self) -> None:
        self.calls: list[int] = []
        self.blocked: asyncio.Event | None = None

    async def getmany(self, timeout_ms: int, max_records: int) -> dict[Any, list[int]]:
        if self.blocked is not None:
            await self.blocked.wait()
        if timeout_ms:
            await asyncio.sleep(0.001)  # a record arrives every millisecond
        self.calls.append(timeout_ms)
        return {TP: [len(self.calls)]}


def loop_on(feed: Feed) -> Loop:
    loop = Loop(Settings(), "test", ["t"], "unit")
    loop.consumer = feed  # type: ignore[assignment]
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


async def test_records_taken_during_a_commit_come_first_and_in_order() -> None:
    feed = Feed()
    loop = loop_on(feed)
    first = await loop.poll(0.0, 0.0)
    assert first == {TP: [1]}
    taken = await loop._draining(asyncio.sleep(0.03, result="committed"))
    assert taken == "committed"
    held = list(loop.held[TP])
    assert held == list(range(2, 2 + len(held))) and len(held) > 3  # as they arrived
    nxt = await loop.poll(0.0, 0.0)
    assert nxt[TP] == [*held, held[-1] + 1]  # held first, then what the consumer had
    assert loop.held == {}
    assert feed.calls[-1] == 0  # with records held, the poll does not wait


async def test_a_take_waiting_for_a_rebalance_is_abandoned_and_takes_nothing() -> None:
    feed = Feed()
    feed.blocked = asyncio.Event()
    loop = loop_on(feed)
    assert await asyncio.wait_for(loop._draining(asyncio.sleep(0.01, result=7)), 1.0) == 7
    assert loop.held == {} and feed.calls == []
    feed.blocked.set()  # the abandoned take was cancelled: nothing arrives later either
    await asyncio.sleep(0.01)
    assert loop.held == {} and feed.calls == []


async def test_held_records_of_a_claimed_or_revoked_partition_are_dropped() -> None:
    loop = loop_on(Feed())
    loop.held = {TP: [5, 6], OTHER: [9]}
    loop.drop_held(TP)
    assert loop.held == {OTHER: [9]}
