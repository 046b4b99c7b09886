"""The sink process against the real Kafka broker and real PostgreSQL servers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import asyncpg
import pytest
from aiokafka.admin import AIOKafkaAdminClient
from prometheus_client import REGISTRY

from harness.kafka import consume, produce
from integration.history.factories import added, inbound
from omniroute.contract import DeadLetter
from omniroute.history.sink import GROUP, Backoff, HistorySink
from omniroute.infra.migrations import migrate
from omniroute.settings import Settings


async def eventually(check: Callable[[], Awaitable[bool]], what: str, limit: float = 60) -> None:
    """Wait until ``check`` holds; fail naming ``what`` if it never does."""
    deadline = time.monotonic() + limit
    while not await check():
        if time.monotonic() > deadline:
            pytest.fail(f"never happened: {what}")
        await asyncio.sleep(0.1)


async def count(url: str, sql: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        return int(await conn.fetchval(sql))
    finally:
        await conn.close()


async def committed(settings: Settings) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(settings.topic(GROUP))
        return sum(meta.offset for tp, meta in offsets.items()
                   if tp.topic == settings.topic("omniroute.inbound.v1") and meta.offset > 0)
    finally:
        await admin.close()


async def send_inbound(settings: Settings, first: int, last: int) -> None:
    messages = [inbound(n, text=f"message {n}") for n in range(first, last)]
    await produce(settings.kafka_bootstrap, settings.topic("omniroute.inbound.v1"),
                  [(m.kafka_key.encode(), m.to_json_bytes()) for m in messages])


@pytest.fixture
def private_postgres(tmp_path: Path) -> Iterator[object]:
    """A second embedded PostgreSQL for this test alone: it is stopped mid-test."""
    import pgserver

    server = pgserver.get_server(tmp_path / "pg", cleanup_mode="delete")
    yield server
    server.cleanup()


class TestSink:
    async def test_events_land_once_and_bad_records_are_dead_lettered(
            self, topics: Settings, database_url: str) -> None:
        """Events from two topics become rows; a record twice is one row; junk goes to the DLQ."""
        first = inbound(1, text="hello")
        link = added(first, conversation="c1", customer="cust-1")
        settings = topics
        await produce(settings.kafka_bootstrap, settings.topic("omniroute.inbound.v1"),
                      [(b"k", first.to_json_bytes()), (b"k", first.to_json_bytes()),
                       (b"k", b"{not json")])
        await produce(settings.kafka_bootstrap, settings.topic("omniroute.conversations.v1"),
                      [(b"c1", link.to_json_bytes())])
        sink = HistorySink(settings, database_url)
        before = shared_metrics()
        stop = asyncio.Event()
        task = asyncio.create_task(sink.run(stop))
        try:
            await eventually(lambda: count(
                database_url, "SELECT count(*) FROM messages WHERE conversation_id = 'c1' "
                "AND sender IS NOT NULL"), "the message joined to its conversation")
            letters = await consume(settings.kafka_bootstrap,
                                    settings.topic("omniroute.dlq.v1"), 1)
            letter = DeadLetter.from_json_bytes(letters[0].value)
            assert letter.processor == "history-sink" and "InboundMessage" in letter.error
            assert await count(database_url, "SELECT count(*) FROM messages") == 1
            await eventually(lambda: _true(shared_metrics()[3] > before[3]), "rebalance counted")
            await eventually(lambda: _true(shared_metrics()[4] - before[4] >= 5),
                             "the sink read back its own dead letter too")
            delta = [a - b for a, b in zip(shared_metrics(), before, strict=True)]
            # 3 inbound records (2 sms, 1 junk), 1 conversation event, 1 dead letter,
            # >= 1 rebalance, 5 records timed to durability (the sink also reads its dead letter)
            assert (delta[0], delta[1], delta[2], delta[4]) == (3, 1, 1, 5) and delta[3] >= 1
        finally:
            stop.set()
            await task

    async def test_database_outage_loses_nothing_and_recovers_by_itself(
            self, topics: Settings, private_postgres: object) -> None:
        """PostgreSQL stops mid-stream: offsets stay put, the sink retries, then catches up."""
        from pgserver._commands import pg_ctl  # type: ignore[import-untyped]

        server = private_postgres
        url = server.get_uri()  # type: ignore[attr-defined]
        conn = await asyncpg.connect(url)
        await migrate(conn)
        await conn.close()
        settings = topics
        sink = HistorySink(settings, url, backoff=Backoff(initial=0.05, cap=0.5))
        stop = asyncio.Event()
        task = asyncio.create_task(sink.run(stop))
        try:
            await send_inbound(settings, 0, 20)
            await eventually(lambda: _equals(count(url, "SELECT count(*) FROM messages"), 20),
                             "the first 20 messages stored")
            await eventually(lambda: _equals(committed(settings), 20), "offsets committed")
            await asyncio.to_thread(pg_ctl, ["-w", "-m", "fast", "stop"],
                                    pgdata=server.pgdata, user=server.system_user)  # type: ignore[attr-defined]
            retries_before = metric("omniroute_retries_total", component="sink",
                                    operation="database_write")
            await send_inbound(settings, 20, 40)
            await eventually(lambda: _true(metric(
                "omniroute_retries_total", component="sink", operation="database_write")
                > retries_before + 2),
                             "the sink retrying against the stopped database")
            assert await committed(settings) == 20  # nothing acknowledged past the outage
            await asyncio.to_thread(server.ensure_postgres_running)  # type: ignore[attr-defined]
            await eventually(lambda: _equals(count(url, "SELECT count(*) FROM messages"), 40),
                             "all 40 messages stored after the restart")
            await eventually(lambda: _equals(committed(settings), 40), "offsets caught up")
            ids = await _ids(url)
            assert ids == {f"twilio:SM{n:030d}" for n in range(40)}
        finally:
            stop.set()
            await task


def metric(name: str, **labels: str) -> float:
    """A sample of the process's Prometheus registry (0 before it was ever recorded)."""
    return REGISTRY.get_sample_value(name, labels) or 0.0


def shared_metrics() -> tuple[float, ...]:
    """(inbound records in, conversation records in, dead letters, rebalances, records timed)."""
    return (
        metric("omniroute_messages_total", component="sink", topic="omniroute.inbound.v1",
               channel="sms", direction="in")
        + metric("omniroute_messages_total", component="sink", topic="omniroute.inbound.v1",
                 channel="none", direction="in"),
        metric("omniroute_messages_total", component="sink", topic="omniroute.conversations.v1",
               channel="sms", direction="in"),
        metric("omniroute_dead_letters_total", processor="history-sink", reason="Rejected"),
        metric("omniroute_rebalances_total", component="sink"),
        metric("omniroute_processing_seconds_count", stage="history"),
    )


async def _equals(value: Awaitable[int], expected: int) -> bool:
    return await value == expected


async def _true(value: bool) -> bool:
    return value


async def _ids(url: str) -> set[str]:
    conn = await asyncpg.connect(url)
    try:
        return {r["message_id"] for r in await conn.fetch("SELECT message_id FROM messages")}
    finally:
        await conn.close()
