"""Two history sinks in one consumer group, through the public topics (real Kafka + PostgreSQL).

Every message's views (the connector's inbound message on ``omniroute.inbound.v1``
and the conversation's ``message_added`` on ``omniroute.conversations.v1``) can
land on different sink processes: each stored message must still end up with
its conversation and customer, once.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import asyncpg

from harness.kafka import produce
from integration.history.factories import added, inbound
from integration.history.test_sink import eventually, metric
from omniroute.history.retention import DEFAULT_DAYS, run_retention
from omniroute.history.sink import HistorySink
from omniroute.settings import Settings

N = 600


async def _state(url: str) -> tuple[int, int, int, int]:
    """(message rows, distinct message ids, rows joined to conversation + customer + sender,
    conversation events)."""
    conn = await asyncpg.connect(url)
    try:
        row = await conn.fetchrow(
            """SELECT (SELECT count(*) FROM messages) AS rows,
                      (SELECT count(DISTINCT message_id) FROM messages) AS ids,
                      (SELECT count(*) FROM messages WHERE conversation_id IS NOT NULL
                         AND customer_id IS NOT NULL AND sender IS NOT NULL) AS joined,
                      (SELECT count(*) FROM conversation_events) AS events""")
        return row["rows"], row["ids"], row["joined"], row["events"]
    finally:
        await conn.close()


async def _true(value: bool) -> bool:
    return value


async def start_two(settings: Settings, url: str, stop: asyncio.Event,
                    tasks: list[asyncio.Task[None]]) -> list[HistorySink]:
    """Two sinks in the group, both assigned partitions (three rebalances seen) before input."""
    before = metric("omniroute_rebalances_total", component="sink")
    sinks = []
    for joined in (1, 3):  # the second join rebalances both members
        sinks.append(HistorySink(settings, url, batch_size=50))
        tasks.append(asyncio.create_task(sinks[-1].run(stop)))
        await eventually(lambda j=joined: _true(  # type: ignore[misc]
            metric("omniroute_rebalances_total", component="sink") - before >= j),
            f"{len(sinks)} sink(s) assigned")
    return sinks


async def test_two_sinks_join_every_message_to_its_conversation(
        topics: Settings, database_url: str) -> None:
    """600 messages + 600 message_added, two sinks at once: 600 rows, each joined, once."""
    settings = topics
    messages = [inbound(n, text=f"message {n}", sender=f"+1415555{n:04d}") for n in range(N)]
    links = [added(m, conversation=f"conv-{n}", customer=f"cust-{n}")
             for n, m in enumerate(messages)]
    stop = asyncio.Event()
    tasks: list[asyncio.Task[None]] = []
    try:
        sinks = await start_two(settings, database_url, stop, tasks)
        await asyncio.gather(
            produce(settings.kafka_bootstrap, settings.topic("omniroute.inbound.v1"),
                    [(m.kafka_key.encode(), m.to_json_bytes()) for m in messages]),
            produce(settings.kafka_bootstrap, settings.topic("omniroute.conversations.v1"),
                    [(e.conversation_id.encode(), e.to_json_bytes()) for e in links]))
        await eventually(lambda: _true(sum(s.written for s in sinks) >= 2 * N),
                         "every view written", limit=120)
        rows, ids, joined, events = await _state(database_url)
        assert all(s.written for s in sinks), "both sinks wrote part of the stream"
        assert (rows, ids, events) == (N, N, N)
        assert joined == N, f"{N - joined} of {N} messages lack their conversation link"
        assert sum(s.written for s in sinks) == 2 * N
    finally:
        stop.set()
        await asyncio.gather(*tasks)


async def test_a_message_past_retention_is_never_stored_without_its_conversation(
        topics: Settings, database_url: str) -> None:
    """Each ``omniroute sink`` runs retention when it starts. Views of messages older than
    retention arrive on both topics; a second sink starting in between expires the rows the
    first one stored. The late views must not bring back message rows without their link."""
    settings = topics
    old = datetime.now(UTC) - timedelta(days=DEFAULT_DAYS + 2)
    messages = [inbound(n, text=f"old message {n}", sender=f"+1415666{n:04d}", at=old)
                for n in range(40)]
    links = [added(m, conversation=f"old-{n}", customer=f"cust-old-{n}")
             for n, m in enumerate(messages)]
    stop = asyncio.Event()
    first = HistorySink(settings, database_url, batch_size=50)
    tasks = [asyncio.create_task(first.run(stop))]
    try:
        await produce(settings.kafka_bootstrap, settings.topic("omniroute.conversations.v1"),
                      [(e.conversation_id.encode(), e.to_json_bytes()) for e in links])
        await eventually(lambda: _true(first.written == len(links)), "message_added written")
        conn = await asyncpg.connect(database_url)  # a second sink starts: retention runs
        try:
            await run_retention(conn)
        finally:
            await conn.close()
        second = HistorySink(settings, database_url, batch_size=50)
        tasks.append(asyncio.create_task(second.run(stop)))
        await produce(settings.kafka_bootstrap, settings.topic("omniroute.inbound.v1"),
                      [(m.kafka_key.encode(), m.to_json_bytes()) for m in messages])
        await eventually(lambda: _true(first.written + second.written == 2 * len(links)),
                         "inbound views written")
        rows, _, joined, events = await _state(database_url)
        assert events == len(links)
        assert rows - joined == 0, f"{rows - joined} message rows without their conversation"
        assert rows == 0  # past retention: the next retention run would delete them anyway
    finally:
        stop.set()
        await asyncio.gather(*tasks)
