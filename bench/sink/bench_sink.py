"""Sink write throughput (rows/s) beside a raw asyncpg COPY of the same rows, same run.

    .venv/bin/python bench/sink/bench_sink.py [--messages 20000] [--batch 1000] [--rounds 3]
        [--previous /tmp/old/src]   # another version, in the same interleaved rounds

Uses ``OMNIROUTE_DATABASE_URL`` or starts a private embedded PostgreSQL in a
temporary directory. Two fresh databases are migrated: in one the sink's
write path (:func:`omniroute.history.store.write_batch`: ledger, advisory
locks, COPY, customer/address upserts, in batches) stores N inbound messages
and their N ``message_added`` events (so N message rows, 2N events); in the
other a bare ``copy_records_to_table`` loads the same N final rows. Kafka is
not involved: this measures the database side, which is the sink's bottleneck.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

from omniroute.contract import (
    Address,
    Channel,
    ConversationEvent,
    ConversationEventKind,
    Direction,
    Envelope,
    InboundMessage,
    MessageRef,
)
from omniroute.history.partitions import ensure_partitions
from omniroute.history.projection import MessageRow, merge_message, message_from_inbound
from omniroute.history.store import _message_record, write_batch
from omniroute.infra.migrations import migrate

T0 = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)
"""Yesterday: within retention (the sink does not store messages already past it)."""


def events(n: int) -> list[tuple[str, Envelope]]:
    out: list[tuple[str, Envelope]] = []
    for i in range(n):
        sender = f"+1415555{i % 5000:04d}"
        message = InboundMessage(
            event_id=f"twilio:SM{i:030d}", occurred_at=T0 + timedelta(seconds=i * 7),
            channel=Channel.SMS, provider="twilio", channel_account="+14155559999",
            sender=Address(value=sender), recipient=Address(value="+14155559999"),
            provider_message_id=f"SM{i:030d}", text=f"message number {i} about order {i * 13}")
        link = ConversationEvent(
            event_id=f"added-{i}", occurred_at=message.occurred_at + timedelta(seconds=1),
            conversation_id=f"conv-{i % 5000}", customer_id=f"cust-{i % 5000}",
            kind=ConversationEventKind.MESSAGE_ADDED, channel=Channel.SMS,
            message=MessageRef(source_event_id=message.event_id, direction=Direction.INBOUND,
                               channel=Channel.SMS, text=message.text))
        out += [("inbound", message), ("conversations", link)]
    return out


def final_rows(batch: list[tuple[str, Envelope]]) -> list[MessageRow]:
    rows: dict[str, MessageRow] = {}
    for _, event in batch:
        if isinstance(event, InboundMessage):
            row = message_from_inbound(event)
            rows[row.message_id] = merge_message(rows[row.message_id], row) \
                if row.message_id in rows else row
    return list(rows.values())


async def fresh_database(server: str) -> str:
    name = f"bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(server)
    await admin.execute(f"CREATE DATABASE {name}")
    await admin.close()
    base, sep, query = server.partition("?")
    url = f"{base.rsplit('/', 1)[0]}/{name}{sep}{query}"
    conn = await asyncpg.connect(url)
    await migrate(conn)
    await conn.close()
    return url


CPU: dict[str, list[float]] = {"sink": [], "postgres": [], "copy": []}
"""CPU seconds per sink round: this process (the sink's client side) and its PostgreSQL
backend (read from /proc: the benchmark's server runs on this machine)."""


def backend_cpu(pid: int) -> float:
    """CPU seconds (user + system) a local process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def sink_round(server: str, stream: list[tuple[str, Envelope]], n: int,
                     batch: int) -> float:
    """Seconds the sink's write path takes to store the stream in a fresh database."""
    conn = await asyncpg.connect(await fresh_database(server))
    backend = conn.get_server_pid()
    started, cpu, pg = time.perf_counter(), time.process_time(), backend_cpu(backend)
    for i in range(0, len(stream), batch * 2):
        await write_batch(conn, stream[i:i + batch * 2])
    seconds = time.perf_counter() - started
    CPU["sink"].append(time.process_time() - cpu)
    CPU["postgres"].append(backend_cpu(backend) - pg)
    stored = await conn.fetchval("SELECT count(*) FROM messages WHERE conversation_id IS NOT NULL")
    await conn.close()
    assert stored == n, f"the sink stored {stored} joined rows of {n}"
    return seconds


async def copy_round(server: str, rows: list[MessageRow], batch: int) -> float:
    """Seconds a bare COPY of the same final rows takes in a fresh database."""
    conn = await asyncpg.connect(await fresh_database(server))
    async with conn.transaction():
        await ensure_partitions(conn, [r.created_at for r in rows])
    backend = conn.get_server_pid()
    started, cpu, pg = time.perf_counter(), time.process_time(), backend_cpu(backend)
    for i in range(0, len(rows), batch):
        await conn.copy_records_to_table("messages", columns=list(MessageRow.COLUMNS),
                                         records=[_message_record(r) for r in rows[i:i + batch]])
    seconds = time.perf_counter() - started
    CPU["copy"].append(time.process_time() - cpu + backend_cpu(backend) - pg)
    await conn.close()
    return seconds


def previous_round(source: Path, server: str, n: int, batch: int) -> float:
    """Seconds another version's write path (``source``: its src directory) takes."""
    result = subprocess.run(
        [sys.executable, __file__, "--messages", str(n), "--batch", str(batch),
         "--one-sink-round", server], env={**os.environ, "PYTHONPATH": str(source)},
        capture_output=True, text=True, check=True)
    return float(result.stdout.strip().splitlines()[-1])


async def run(server: str, n: int, batch: int, rounds: int, previous: Path | None) -> None:
    stream = events(n)
    rows = final_rows(stream)
    sink_times, copy_times, previous_times = [], [], []
    for _ in range(rounds):  # interleaved, best of each: a busy machine slows all alike
        sink_times.append(await sink_round(server, stream, n, batch))
        if previous:
            previous_times.append(await asyncio.to_thread(previous_round, previous, server, n,
                                                          batch))
        copy_times.append(await copy_round(server, rows, batch))
    sink_seconds, copy_seconds = min(sink_times), min(copy_times)
    sink_rate, copy_rate = n / sink_seconds, n / copy_seconds
    print(f"messages: {n} ({2 * n} events), batch {batch} messages, best of {rounds} rounds")
    print(f"sink write path : {sink_rate:10.0f} message rows/s "
          f"({2 * n / sink_seconds:.0f} events/s) in {sink_seconds:.2f} s")
    if previous_times:
        before = n / min(previous_times)
        print(f"previous sink ({previous}): {before:10.0f} message rows/s "
              f"(ratio {before / copy_rate:.3f}; this one x{sink_rate / before:.2f})")
    client, database = min(CPU["sink"]), min(CPU["postgres"])
    print(f"  CPU per message (least of the rounds): sink {client / n * 1e6:.0f} us, "
          f"its PostgreSQL backend {database / n * 1e6:.0f} us "
          f"(one core: ~{n / client:.0f} messages/s client-side, "
          f"~{n / database:.0f} in PostgreSQL)")
    print(f"raw asyncpg COPY: {copy_rate:10.0f} rows/s in {copy_seconds:.2f} s")
    print(f"ratio sink/COPY : {sink_rate / copy_rate:.3f}")
    copy_cpu = min(CPU["copy"])
    print(f"ratio in CPU time (client + PostgreSQL backend, least of the rounds; what a loaded "
          f"machine distorts least): {copy_cpu / (client + database):.3f} "
          f"(COPY {copy_cpu / n * 1e6:.0f} us/row, sink {(client + database) / n * 1e6:.0f} "
          f"us/message)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--previous", type=Path, default=None,
                        help="another version's src directory (e.g. from git archive), "
                             "measured in the same rounds")
    parser.add_argument("--one-sink-round", metavar="SERVER", help=argparse.SUPPRESS)
    args = parser.parse_args()
    try:  # as `omniroute sink` does (not in every version under --previous)
        from omniroute.infra.collector import tune_collector
        tune_collector()
    except ImportError:
        pass
    if args.one_sink_round:
        print(asyncio.run(sink_round(args.one_sink_round, events(args.messages), args.messages,
                                     args.batch)))
        return
    url = os.environ.get("OMNIROUTE_DATABASE_URL")
    if url:
        asyncio.run(run(url, args.messages, args.batch, args.rounds, args.previous))
        return
    import pgserver

    with tempfile.TemporaryDirectory() as tmp:
        server = pgserver.get_server(Path(tmp) / "pg", cleanup_mode="stop")
        try:
            asyncio.run(run(server.get_uri(), args.messages, args.batch, args.rounds,
                            args.previous))
        finally:
            server.cleanup()


if __name__ == "__main__":
    main()
