"""Three batch-engine workers started together on six partitions: every message once.

The case the ``speed`` branch's batch loops failed (one transactional id per
process, one group per agent): three processes joining at once, with traffic
arriving while they rebalance, added 450-2,590 messages twice. Here, while the
messages arrive, one worker is SIGKILLed and restarted, another is frozen
(SIGSTOP) for ~12 s, past its session, so its partitions move on, then resumed
(SIGCONT): a zombie whose next transactions must be fenced; then a fourth joins.
Every rebalance moves partitions with traffic in flight. Here the three
processes share one co-partitioned group and one transactional id per partition
number, so a partition's new owner fences the previous one before it restores
the tables and reads the committed offsets. Read committed, the conversations
topic must hold exactly one ``message_added`` per message and one conversation
per sender.
"""

from __future__ import annotations

import asyncio
import signal
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest

from harness.kafka import consume
from omniroute.contract import Channel, ConversationEvent
from omniroute.infra.topics import create_topics
from omniroute.settings import Settings

from .conftest import Pipeline

PARTITIONS = 6
SENDERS = 200
PER_SENDER = 11
WS = "three-workers"


@pytest.fixture
async def three(kafka_bootstrap: str, tmp_path: Any) -> AsyncIterator[Pipeline]:
    """A six-partition namespace for batch workers (the test starts them)."""
    settings = Settings(kafka_bootstrap=kafka_bootstrap, state_dir=tmp_path,
                        topic_namespace=f"b{uuid.uuid4().hex[:10]}.")
    await create_topics(settings, partitions=PARTITIONS)
    pipe = Pipeline(settings=settings, logs=tmp_path, engine="batch")
    try:
        yield pipe
    finally:
        pipe.stop_all()


async def test_three_workers_started_together_add_every_message_once(
        three: Pipeline, make_inbound: Any) -> None:
    """2,200 messages from 200 senders while three workers join, one is SIGKILLed and
    restarted, one is frozen past its session (SIGSTOP) and resumed as a zombie, and a
    fourth joins: every message added exactly once, one conversation per sender."""
    senders = [f"+1555{n:07d}" for n in range(SENDERS)]
    messages = [make_inbound(WS, Channel.SMS, sender, text=f"message {i}")
                for i in range(PER_SENDER) for sender in senders]
    for index in (1, 2, 3):  # started together
        three.start(index)
    half = len(messages) // 2
    actions = {8: lambda: three.kill(2), 14: lambda: three.start(2)}
    for chunk, start in enumerate(range(0, half, 40)):  # traffic while they join
        if chunk in actions:
            actions[chunk]()
        await three.send(*messages[start:min(start + 40, half)])
        await asyncio.sleep(0.5)
    await three.send(*messages[half:])  # a burst: worker 1 is mid-batch when frozen
    await asyncio.sleep(0.3)
    three.processes[1].send_signal(signal.SIGSTOP)
    await asyncio.sleep(14.0)  # past its 10 s session: its partitions move on
    three.processes[1].send_signal(signal.SIGCONT)  # a zombie until it rejoins
    three.start(4)
    wanted = {m.event_id for m in messages}
    added = await three.added(WS, wanted, timeout=300.0)
    three.assert_running()

    counts = Counter(e.message.source_event_id for e in added if e.message)
    twice = {event_id: n for event_id, n in counts.items() if n > 1}
    assert set(counts) == wanted, f"{len(wanted - set(counts))} messages never added"
    assert twice == {}, f"{len(twice)} messages added more than once"

    by_sender: dict[str, set[str]] = {}
    sender_of = {m.event_id: m.sender.value for m in messages}
    for event in added:
        if event.message:
            by_sender.setdefault(sender_of[event.message.source_event_id], set()).add(
                event.conversation_id)
    assert {s: len(c) for s, c in by_sender.items() if len(c) != 1} == {}
    records = await consume(three.settings.kafka_bootstrap,
                            three.topic("omniroute.conversations.v1"), 10**6, timeout=5.0)
    opened = [ConversationEvent.from_json_bytes(r.value) for r in records]
    opened = [e for e in opened if e.workspace == WS and e.kind == "opened"]
    assert len(opened) == SENDERS
    assert await three.dead_letters_now() == []
