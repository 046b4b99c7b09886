"""A freshly started worker threads a customer's messages into one conversation.

Reproduces the quick start: a new topic namespace (nothing but the topics
``omniroute up`` creates), one worker process, and a customer who writes at
once, while faust is still creating its table changelogs. Before the fix the
conversation table's first writes failed with faust's ``PartitionsMismatch``
(its changelog was missing from the consumer's metadata at the first
assignment), each message was dead-lettered after its events went out, and
every message opened a new conversation until the worker restarted.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from omniroute.contract import Channel
from omniroute.infra.topics import create_topics
from omniroute.settings import Settings

from .conftest import ENGINES, Pipeline


@pytest.fixture(params=ENGINES)
async def fresh(kafka_bootstrap: str, tmp_path: Any,
                request: pytest.FixtureRequest) -> AsyncIterator[Pipeline]:
    """One worker started on a namespace where only ``omniroute up``'s topics exist."""
    settings = Settings(kafka_bootstrap=kafka_bootstrap, state_dir=tmp_path,
                        topic_namespace=f"f{uuid.uuid4().hex[:10]}.")
    await create_topics(settings)
    pipe = Pipeline(settings=settings, logs=tmp_path, engine=request.param)
    pipe.start(1)
    try:
        yield pipe
    finally:
        pipe.stop_all()


async def test_first_messages_after_a_fresh_start_share_one_conversation(
    fresh: Pipeline, make_inbound: Any
) -> None:
    """Three messages from one sender, the first sent as the worker starts: one conversation."""
    ws = "fresh"
    messages = [make_inbound(ws, Channel.TELEGRAM, "700001", text=f"hello {i}")
                for i in range(3)]
    for message in messages:
        await fresh.send(message)
        await asyncio.sleep(1.0)
    added = await fresh.added(ws, {m.event_id for m in messages})
    opened = await fresh.events(ws, 10, timeout=3.0, kind="opened")
    assert {e.message.source_event_id for e in added if e.message} == {
        m.event_id for m in messages}
    assert len({e.conversation_id for e in added}) == 1
    assert len({e.conversation_id for e in opened}) == 1
    letters = await fresh.dead_letters_now()
    assert letters == []
