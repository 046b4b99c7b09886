"""Records taken while a loop works (omniroute.infra.taking): held in order for the next
poll, never lost to an abandoned take, dropped when the loop repositions a partition."""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka import TopicPartition

from omniroute.infra.taking import Taking

TP = TopicPartition("t", 0)
OTHER = TopicPartition("t", 1)


class Feed:
    """A consumer stand-in: a record every millisecond while getmany waits (numbered by
    call); ``blocked``: getmany waits (as aiokafka's does during a rebalance)."""

    def __init__(self) -> None:
        self.calls: list[int] = []
        self.blocked: asyncio.Event | None = None
        self.failing: Exception | None = None

    async def getmany(self, timeout_ms: int, max_records: int) -> dict[Any, list[int]]:
        if self.blocked is not None:
            await self.blocked.wait()
        if self.failing is not None:
            raise self.failing
        if timeout_ms:
            await asyncio.sleep(0.001)
        self.calls.append(timeout_ms)
        return {TP: [len(self.calls)]}


async def test_records_taken_while_working_come_first_and_in_order() -> None:
    feed = Feed()
    taking = Taking(feed)  # type: ignore[arg-type]
    assert await taking.poll(100, 500) == {TP: [1]}
    assert await taking.during(asyncio.sleep(0.03, result="committed")) == "committed"
    held = list(taking.held[TP])
    assert held == list(range(2, 2 + len(held))) and len(held) > 3  # as they arrived
    assert (await taking.poll(100, 500))[TP] == [*held, held[-1] + 1]
    assert taking.held == {}
    assert feed.calls[-1] == 0  # with records held, the poll does not wait


async def test_a_take_waiting_for_a_rebalance_is_abandoned_and_takes_nothing() -> None:
    feed = Feed()
    feed.blocked = asyncio.Event()
    taking = Taking(feed)  # type: ignore[arg-type]
    assert await asyncio.wait_for(taking.during(asyncio.sleep(0.01, result=7)), 1.0) == 7
    assert taking.held == {} and feed.calls == []
    feed.blocked.set()  # the abandoned take was cancelled: nothing arrives later either
    await asyncio.sleep(0.01)
    assert taking.held == {} and feed.calls == []


async def test_a_consumer_error_is_raised_once_the_work_is_done() -> None:
    feed = Feed()
    feed.failing = RuntimeError("offset out of range")
    taking = Taking(feed)  # type: ignore[arg-type]
    done = asyncio.Event()

    async def work() -> None:
        await asyncio.sleep(0.02)
        done.set()

    try:
        await taking.during(work())
    except RuntimeError as exc:
        assert done.is_set() and "offset" in str(exc)
    else:
        raise AssertionError("the consumer's error was swallowed")


async def test_held_records_of_a_repositioned_partition_are_dropped() -> None:
    taking = Taking(Feed())  # type: ignore[arg-type]
    taking.held = {TP: [5, 6], OTHER: [9]}
    taking.drop([TP])
    assert taking.held == {OTHER: [9]}
