"""Pipelined commits: a partition's outputs commit one transaction at a time and in order,
each taking what was submitted meanwhile; partitions do not wait for each other; the
commit interval spaces a partition's transactions; a fence drops what was queued."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from aiokafka import TopicPartition

from omniroute.routing import transactions
from omniroute.routing.transactions import Loop, Output, poll
from omniroute.settings import Settings

A, B = TopicPartition("t", 0), TopicPartition("t", 1)


class Recorded(Loop):
    """A loop whose transactions are recorded instead of sent (``slow``: seconds each)."""

    def __init__(self, interval: float = 0.0, slow: dict[TopicPartition, float] | None = None
                 ) -> None:
        super().__init__(Settings(kafka_bootstrap="127.0.0.1:9"), "test", ["t"], "unit",
                         interval)
        self.slow = slow or {}
        self.producers = {A: object(), B: object()}  # type: ignore[dict-item]
        self.transactions: list[tuple[TopicPartition, list[bytes], int | None, float]] = []
        self.open: set[TopicPartition] = set()
        self.fence_next: set[TopicPartition] = set()
        self.fail_next: Exception | None = None
        self.fenced_seen: list[TopicPartition] = []
        self.on_fenced = self.fenced_seen.append

    async def commit(self, tp: TopicPartition, out: Output) -> bool:
        assert tp not in self.open, "two transactions of one partition at once"
        self.open.add(tp)
        began = time.perf_counter()
        try:
            await asyncio.sleep(self.slow.get(tp, 0.01))
            if self.fail_next is not None:
                raise self.fail_next
            if tp in self.fence_next:
                self.fenced[tp] = time.monotonic()
                return False
            self.transactions.append((tp, [r[2] for r in out.records], out.offset, began))
            return True
        finally:
            self.open.discard(tp)


def output(*values: bytes, offset: int) -> Output:
    out = Output(offset=offset, received=[(len(values), time.perf_counter())])
    out.add([("topic", b"k", v) for v in values])
    return out


class TestPipelinedCommits:
    async def test_outputs_submitted_during_a_transaction_go_into_the_next_one_in_order(
            self) -> None:
        """The first output commits at once; the two submitted while it is in flight commit
        together next, in submission order, with the later offset."""
        loop = Recorded(slow={A: 0.05})
        loop.submit(A, output(b"1", offset=1))
        await asyncio.sleep(0.01)
        loop.submit(A, output(b"2", offset=2))
        loop.submit(A, output(b"3", b"4", offset=4))
        await loop.settle(A)
        assert [(t[1], t[2]) for t in loop.transactions] == [([b"1"], 1), ([b"2", b"3", b"4"], 4)]

    async def test_a_slow_partition_does_not_delay_another(self) -> None:
        """B's transactions commit while A's first one is still in flight."""
        loop = Recorded(slow={A: 0.2, B: 0.01})
        loop.submit(A, output(b"a", offset=1))
        loop.submit(B, output(b"b1", offset=1))
        await asyncio.sleep(0.05)
        loop.submit(B, output(b"b2", offset=2))
        await loop.settle(B)
        assert [t[1] for t in loop.transactions] == [[b"b1"], [b"b2"]]
        await loop.settle(A)
        assert loop.transactions[-1][1] == [b"a"]

    async def test_the_commit_interval_spaces_a_partitions_transactions(self) -> None:
        """With a 100 ms interval the second transaction begins 100 ms after the first,
        which began at once."""
        loop = Recorded(interval=0.1)
        submitted = time.perf_counter()
        loop.submit(A, output(b"1", offset=1))
        await asyncio.sleep(0.02)
        loop.submit(A, output(b"2", offset=2))
        await loop.settle(A)
        first, second = (t[3] for t in loop.transactions)
        assert first - submitted < 0.05
        assert second - first >= 0.1

    async def test_a_fence_drops_what_was_queued_behind_it(self) -> None:
        """A fenced transaction reports the partition once; outputs queued behind it are
        never committed, and later submissions are not either."""
        loop = Recorded(slow={A: 0.05})
        loop.fence_next.add(A)
        loop.submit(A, output(b"1", offset=1))
        await asyncio.sleep(0.01)
        loop.submit(A, output(b"2", offset=2))
        await loop.settle(A)
        assert loop.fenced_seen == [A]
        assert loop.transactions == []
        assert not loop.owns(A)

    async def test_a_failed_commit_stops_the_loop_at_its_next_poll(self) -> None:
        """An error other than a fence is raised by the next poll (outputs may not be
        skipped)."""
        loop = Recorded()
        loop.fail_next = RuntimeError("broker said no")
        loop.submit(A, output(b"1", offset=1))
        await loop.settle(A)
        with pytest.raises(RuntimeError, match="broker said no"):
            await poll(loop)

    async def test_release_commits_what_was_submitted_first(self) -> None:
        """Giving a partition up waits for its queued outputs to commit; nothing submitted
        afterwards is taken."""
        loop = Recorded(slow={A: 0.05})
        loop.submit(A, output(b"1", offset=1))
        loop.submit(A, output(b"2", offset=2))
        await loop.release(A)
        assert [t[1] for t in loop.transactions] == [[b"1", b"2"]]
        loop.submit(A, output(b"3", offset=3))
        await loop.settle(A)
        assert len(loop.transactions) == 1

    async def test_consuming_waits_while_too_many_inputs_await_a_commit(
            self, monkeypatch: Any) -> None:
        """Above MAX_PENDING_INPUTS uncommitted inputs, poll waits for a commit first."""
        monkeypatch.setattr(transactions, "MAX_PENDING_INPUTS", 2)
        loop = Recorded(slow={A: 0.1})
        loop.submit(A, output(b"1", offset=1))
        await asyncio.sleep(0.01)
        loop.submit(A, output(b"2", b"3", b"4", offset=4))
        began = time.perf_counter()
        await loop.backpressure()
        assert time.perf_counter() - began >= 0.05
        assert loop.transactions[0][1] == [b"1"]

