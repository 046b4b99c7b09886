"""Snapshot rounds encoded in a forked child: the records the loop would have written, taken
at the instant the round began, whatever the loop does to the pools afterwards."""

from __future__ import annotations

import asyncio

from omniroute.routing import snapshot, snapshotter
from omniroute.routing.engine import new_pool
from omniroute.routing.events import Route
from unit.routing.test_snapshot import AGENTS, POLICY, feed, history


def pools() -> dict[str, object]:
    first, second = new_pool(POLICY, AGENTS), new_pool(POLICY, AGENTS)
    feed(first, history())
    return {"p": first, "q": second}


async def test_a_forked_round_equals_the_inline_encoding_at_its_start() -> None:
    state = pools()
    want = snapshotter.encode(state, 7)  # type: ignore[arg-type]
    pending = snapshotter.begin(state, 7)  # type: ignore[arg-type]
    # the loop goes on deciding while the child encodes: the round must not see it
    feed(state["p"], [Route(at=50, event_id="late", work_id="late", customer_id="c",
                            channel="webchat")])
    got = await asyncio.wait_for(pending.task, 30)
    assert got == want
    assert [key for key, _ in got] == [b"p#0", b"q#0"]
    restored = snapshot.load_parts([value for key, value in got if key == b"p#0"])
    assert restored is not None and restored.offset == 7
    assert "late" not in restored.state.work


async def test_a_failed_child_gives_no_round() -> None:
    pending = snapshotter.begin({"p": object()}, 1)  # type: ignore[dict-item]
    assert await asyncio.wait_for(pending.task, 30) is None


async def test_a_partition_is_snapshotted_after_snapshot_seconds_whatever_its_inputs(
        monkeypatch) -> None:
    """Besides every ``snapshot_every`` inputs, a round begins once SNAPSHOT_SECONDS went by
    since the partition's last one, so a restart replays at most that much of the stream."""
    from aiokafka import TopicPartition

    from omniroute.routing import processor

    clock = [1000.0]
    begun: list[int] = []
    monkeypatch.setattr(processor.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(processor.snapshotter, "begin",
                        lambda pools, offset: begun.append(offset) or object())
    decider = processor.Decider(object(), object(), snapshot_every=5000)  # type: ignore[arg-type]
    tp = TopicPartition("pool-events", 0)
    decider.adopt(tp, {"p": pools()["p"]})
    decider.snapshot_due(tp, 3, 3)
    clock[0] += processor.SNAPSHOT_SECONDS - 1
    decider.snapshot_due(tp, 3, 6)
    assert begun == [] and decider.positions[tp] == 6
    clock[0] += 1
    decider.snapshot_due(tp, 3, 9)
    assert begun == [9]
