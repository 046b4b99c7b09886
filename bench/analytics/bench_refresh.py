"""Analytics refresh: full vs incremental, and what the dirty-marking triggers cost the sink.

    .venv/bin/python bench/analytics/bench_refresh.py [--conversations 5000] [--rounds 2]

Uses ``OMNIROUTE_DATABASE_URL`` or a private embedded PostgreSQL. Each round,
in a fresh migrated database: the sink's write path stores N handled
conversations (opened, customer message, assignment, agent reply, resolve,
completion, rating) with the analytics triggers enabled, and the same events
again in a second database with them disabled (the sink's cost before this
feature); then a first (full) refresh; then 1 % more conversations and an
incremental refresh; then a full recompute of everything (the baseline the
watermark avoids); then a one-week report.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

from omniroute.analytics.compute import refresh
from omniroute.analytics.report import build_report
from omniroute.contract import (
    Address,
    AssignmentEvent,
    AssignmentKind,
    Author,
    AuthorKind,
    Channel,
    ConversationEvent,
    ConversationEventKind,
    Direction,
    Envelope,
    MessageRef,
    OutboundMessage,
    Rating,
)
from omniroute.history.store import write_batch
from omniroute.infra.migrations import migrate

T0 = datetime(2026, 11, 16, tzinfo=UTC)
TRIGGERS = ("conversation_events", "conversations", "messages", "csat_ratings", "assignments",
            "agent_presence")


def conversation(i: int) -> list[tuple[str, Envelope]]:
    cid, at = f"conv-{i}", T0 + timedelta(seconds=i * 60)
    agent = f"agent-{i % 20}"

    def ev(kind: ConversationEventKind, s: float, **extra: object) -> ConversationEvent:
        return ConversationEvent(event_id=f"{cid}-{kind.value}", occurred_at=at + timedelta(
            seconds=s), conversation_id=cid, customer_id=f"cust-{i}", kind=kind, **extra)

    def asg(kind: AssignmentKind, s: float) -> AssignmentEvent:
        return AssignmentEvent(event_id=f"{cid}-{kind.value}", occurred_at=at + timedelta(
            seconds=s), agent_id=agent, kind=kind, conversation_id=cid, pool="support")

    return [
        ("conversations", ev(ConversationEventKind.OPENED, 0, channel=Channel.WEBCHAT,
                             pool="support", triage={"language": "en", "intent": "billing"})),
        ("conversations", ev(ConversationEventKind.MESSAGE_ADDED, 0, message=MessageRef(
            source_event_id=f"in-{cid}", direction=Direction.INBOUND, channel=Channel.WEBCHAT))),
        ("assignments", asg(AssignmentKind.ASSIGNED, 20 + i % 40)),
        ("outbound", OutboundMessage(
            event_id=f"out-{cid}", occurred_at=at + timedelta(seconds=60 + i % 90),
            conversation_id=cid, channel=Channel.WEBCHAT, channel_account="site",
            recipient=Address(value="v"), author=Author(kind=AuthorKind.AGENT, id=agent),
            text="hi")),
        ("conversations", ev(ConversationEventKind.RESOLVED, 600 + i % 300)),
        ("assignments", asg(AssignmentKind.COMPLETED, 600 + i % 300)),
        ("conversations", ev(ConversationEventKind.RATED, 700, rating=Rating(score=1 + i % 5))),
    ]


async def fresh(server: str) -> asyncpg.Connection:
    name = f"bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(server)
    await admin.execute(f"CREATE DATABASE {name}")
    await admin.close()
    base, sep, query = server.partition("?")
    conn = await asyncpg.connect(f"{base.rsplit('/', 1)[0]}/{name}{sep}{query}")
    await migrate(conn)
    return conn


async def write(conn: asyncpg.Connection, events: list[tuple[str, Envelope]]) -> float:
    started = time.perf_counter()
    for i in range(0, len(events), 2000):
        await write_batch(conn, events[i:i + 2000])
    return time.perf_counter() - started


async def one_round(server: str, n: int) -> dict[str, float]:
    events = [e for i in range(n) for e in conversation(i)]
    more = [e for i in range(n, n + max(1, n // 100)) for e in conversation(i)]
    plain = await fresh(server)
    for table in TRIGGERS:
        await plain.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
    out = {"sink_without_triggers": await write(plain, events)}
    await plain.close()
    conn = await fresh(server)
    out["sink_with_triggers"] = await write(conn, events)
    now = T0 + timedelta(days=7)
    started = time.perf_counter()
    await refresh(conn, now)
    out["first_refresh"] = time.perf_counter() - started
    await write(conn, more)
    started = time.perf_counter()
    await refresh(conn, now)
    out["incremental_refresh"] = time.perf_counter() - started
    await conn.execute("INSERT INTO analytics_dirty (subject, id, at) "
                       "SELECT 'conversation', conversation_id, now() FROM conversations")
    started = time.perf_counter()
    await refresh(conn, now)
    out["full_recompute"] = time.perf_counter() - started
    started = time.perf_counter()
    report = await build_report(conn, T0, now, ["pool", "channel"])
    out["week_report"] = time.perf_counter() - started
    assert report["total"]["conversations"] == n + max(1, n // 100)
    await conn.close()
    return out


async def run(server: str, n: int, rounds: int) -> None:
    results = [await one_round(server, n) for _ in range(rounds)]
    best = {k: min(r[k] for r in results) for k in results[0]}
    print(f"conversations: {n} (+{max(1, n // 100)} new), 7 events each, best of {rounds}")
    for key, seconds in best.items():
        print(f"{key:22s}: {seconds:8.3f} s")
    slowdown = best["sink_with_triggers"] / best["sink_without_triggers"]
    print(f"sink with/without triggers: x{slowdown:.2f}")
    print(f"full refresh rate         : {n / best['first_refresh']:.0f} conversations/s")
    print(f"incremental / full        : {best['incremental_refresh'] / best['full_recompute']:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    url = os.environ.get("OMNIROUTE_DATABASE_URL")
    if url:
        asyncio.run(run(url, args.conversations, args.rounds))
        return
    import pgserver

    with tempfile.TemporaryDirectory() as tmp:
        server = pgserver.get_server(Path(tmp) / "pg", cleanup_mode="stop")
        try:
            asyncio.run(run(server.get_uri(), args.conversations, args.rounds))
        finally:
            server.cleanup()


if __name__ == "__main__":
    main()
