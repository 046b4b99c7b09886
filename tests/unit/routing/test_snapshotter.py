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
