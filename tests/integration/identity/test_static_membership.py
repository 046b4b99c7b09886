"""A worker restarted with its instance id takes its partitions back without a rebalance.

``omniroute up`` gives every process an ``OMNIROUTE_INSTANCE_ID`` (static membership,
KIP-345). Without one, a SIGKILLed worker stays a member of its group until its session
times out (10 s); the restarted process joins as a new member, the group waits for the
dead one, and then every worker gives up and claims its partitions again.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest

from omniroute.contract import Channel

from .conftest import Pipeline, samples, two_workers


@pytest.fixture
async def static_pipeline(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
                          ) -> AsyncIterator[Pipeline]:
    """Two batch-engine workers, static members ``worker1`` and ``worker2``."""
    async with two_workers(kafka_bootstrap, tmp_path_factory.mktemp("static"), "batch",
                           static=True) as pipe:
        yield pipe


async def rebalances_of_worker(pipe: Pipeline, index: int) -> float:
    """How many times worker ``index``'s group assigned it partitions."""
    texts = await pipe.metrics()
    return samples([texts[list(pipe.processes).index(index)]],
                   "omniroute_rebalances_total", component="worker")


async def test_a_sigkilled_worker_restarted_with_its_id_takes_its_partitions_back_alone(
    static_pipeline: Pipeline, make_inbound: Any
) -> None:
    """Worker 2 is killed mid-stream and started again; worker 1 never gives up its
    partitions, and every message is threaded once, one conversation per customer."""
    pipe, ws = static_pipeline, "static"
    phones = [f"+1415555{n:04d}" for n in range(12)]  # keys on all three partitions
    first = [make_inbound(ws, Channel.SMS, p, text="one") for p in phones]
    second = [make_inbound(ws, Channel.SMS, p, text="two") for p in phones]
    await pipe.send(*first)
    await pipe.added(ws, {m.event_id for m in first})
    before = await rebalances_of_worker(pipe, 1)
    assert before >= 1

    pipe.kill(2)
    await pipe.send(*second)
    pipe.start(2)
    sent = {m.event_id for m in first + second}
    added = await pipe.added(ws, sent)

    assert Counter(e.message.source_event_id for e in added if e.message) == dict.fromkeys(
        sent, 1)
    conversations: dict[str, set[str]] = {}
    for event in added:
        conversations.setdefault(event.customer_id, set()).add(event.conversation_id)
    assert len(conversations) == len(phones)
    assert all(len(c) == 1 for c in conversations.values())
    # a dynamic member would have revoked and claimed again once the dead one timed out
    assert await rebalances_of_worker(pipe, 1) == before
    assert await pipe.group_state(pipe.group) == ("Stable", 2)


async def test_a_worker_stopped_on_purpose_hands_its_partitions_over_at_once(
    static_pipeline: Pipeline, make_inbound: Any
) -> None:
    """SIGTERM (scaling down, a rolling update): a static member leaves its group as it
    stops, instead of keeping its partitions from the others for its session timeout."""
    pipe, ws = static_pipeline, "leaving"
    pipe.stop(2)
    # a static member that did not leave stays listed until its session times out (10 s)
    assert (await pipe.group_state(pipe.group))[1] == 1
    phones = [f"+1415556{n:04d}" for n in range(12)]
    messages = [make_inbound(ws, Channel.SMS, p) for p in phones]
    await pipe.send(*messages)
    added = await pipe.added(ws, {m.event_id for m in messages})
    assert Counter(e.message.source_event_id for e in added if e.message) == dict.fromkeys(
        {m.event_id for m in messages}, 1)
    assert await pipe.group_state(pipe.group) == ("Stable", 1)
