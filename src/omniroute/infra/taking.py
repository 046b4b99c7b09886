"""Records taken from a consumer while its loop is busy, so Kafka keeps being read.

aiokafka fetches a partition again only once the records it fetched for it were
handed out (``Fetcher._get_actions_per_node`` skips a partition with buffered
records; one fetch is in flight per broker). A consume-transform-produce loop that
polls and then commits its transactions gets, early in the commit, the first record
of each partition into that buffer; nothing more is fetched for those partitions
until the next poll, so every later arrival waits for the whole *next* cycle too.
Measured (``bench/routing/bench_fetch_stall.py``: a loop busy 23 ms per cycle, 200
records/s on 3 partitions): produce -> handed to the loop p50 35.6 ms with plain
``getmany``, 14 ms taking records while busy.

:class:`Taking` keeps one ``getmany`` waiting while the loop's work (its commit)
runs and holds what it returns for the loop's next poll, first and in order. The
loop drops what is held for a partition whenever it repositions it (revoked,
claimed, fenced, a batch abandoned): the held records follow the old position.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

T = TypeVar("T")
Batch = dict[TopicPartition, list[ConsumerRecord]]
TAKE_WAIT_MS = 1000
"""How long one take during the loop's work waits for records (it is cancelled when
the work is done)."""
MAX_HELD = 10_000
"""Records held for the next poll at most (beyond that they stay in the consumer)."""


class Taking:
    """A consumer's records, taken while the loop works and held for its next poll."""

    def __init__(self, consumer: AIOKafkaConsumer) -> None:
        self.consumer = consumer
        self.held: Batch = {}

    async def poll(self, timeout_ms: int, max_records: int) -> Batch:
        """What is held, then what the consumer has (waiting ``timeout_ms`` only when
        nothing is held)."""
        batch, self.held = self.held, {}
        extend(batch, await self.consumer.getmany(timeout_ms=0 if batch else timeout_ms,
                                                  max_records=max_records))
        return batch

    def drop(self, tps: Any) -> None:
        """Forget what is held for ``tps`` (repositioned: read again from the new place)."""
        for tp in tps:
            self.held.pop(tp, None)

    async def during(self, work: Awaitable[T], max_records: int = 500) -> T:
        """Await ``work`` while taking the consumer's records into :attr:`held` as they
        arrive (one ``getmany`` at a time, waiting for records: no polling).

        A take still waiting when ``work`` is done is cancelled; it has taken nothing
        then (aiokafka hands records out only when ``getmany`` returns). A take also
        waits while the group rebalances, and the rebalance may be waiting for the
        loop's lock: that is why a take never holds ``work`` up. A consumer error is
        raised once ``work`` is done."""
        task = asyncio.ensure_future(work)
        take: asyncio.Future[Batch] | None = None
        failure: BaseException | None = None
        while not task.done():
            if take is None and failure is None and sum(map(len, self.held.values())) < MAX_HELD:
                take = asyncio.ensure_future(self.consumer.getmany(timeout_ms=TAKE_WAIT_MS,
                                                                   max_records=max_records))
            waiting: list[asyncio.Future[Any]] = [task] if take is None else [task, take]
            await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
            if take is not None and take.done():
                failure = take.exception()
                if failure is None:
                    extend(self.held, take.result())
                take = None
        if take is not None:
            take.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                extend(self.held, await take)
        result = await task
        if failure is not None:
            raise failure
        return result


def extend(into: Batch, more: Batch) -> None:
    """Append ``more``'s records to ``into``'s, partition by partition."""
    for tp, records in more.items():
        into.setdefault(tp, []).extend(records)
