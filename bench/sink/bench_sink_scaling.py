"""Sink scaling: 1, 2 and 3 ``omniroute sink`` processes on 6 partitions, through real Kafka.

    .venv/bin/python bench/sink/bench_sink_scaling.py [--messages 20000] [--processes 3]
        [--rounds 2]

The same N inbound messages and their N ``message_added`` events (from
``bench_sink.events``) are produced to a fresh topic namespace (6 partitions)
for each process count, and k sink processes write them into a fresh
database. The k processes start first; once their consumer group is stable
the stream is produced in one Kafka transaction, and the rate is N / (time from
that commit to the last message joined), so neither start-up, group joins nor the
producer's pace are counted. Each run is
checked (the run fails otherwise): exactly N message rows, every one joined to its
conversation, and N conversation events. Uses the
broker at OMNIROUTE_KAFKA_BOOTSTRAP when it answers (else a temporary one) and
a private embedded PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from bench_sink import backend_cpu, events, fresh_database

from omniroute.history.sink import GROUP
from omniroute.infra.broker import answering_broker, free_port
from omniroute.infra.topics import create_topics
from omniroute.settings import Settings

PARTITIONS = 6
TOPICS = {"inbound": "omniroute.inbound.v1", "conversations": "omniroute.conversations.v1"}


async def publish(settings: Settings, n: int) -> float:
    """Produce the stream in one Kafka transaction; return when it committed (monotonic).

    The sinks read committed records only, so all of it becomes readable at once: the
    clock starts then, and neither the producer's pace nor the group's joins are measured.
    """
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all",
                                enable_idempotence=True, linger_ms=5,
                                transactional_id=f"{settings.topic_namespace}bench",
                                transaction_timeout_ms=300_000)
    await producer.start()
    try:
        async with producer.transaction():
            for slug, event in events(n):
                key = getattr(event, "conversation_id", None) or event.kafka_key  # type: ignore[attr-defined]
                await producer.send(settings.topic(TOPICS[slug]), event.to_json_bytes(),
                                    key=key.encode())
        return time.monotonic()
    finally:
        await producer.stop()


async def group_is_stable(settings: Settings, members: int) -> bool:
    """Whether the sinks' consumer group is ``Stable`` with ``members`` members."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        [response] = await admin.describe_consumer_groups([settings.topic(GROUP)])
        group = response.groups[0]  # (error, id, state, protocol type, protocol, members)
        return bool(group[2] == "Stable" and len(group[5]) == members)
    except KafkaError:  # no coordinator for the group yet
        return False
    finally:
        await admin.close()


async def measure(settings: Settings, server: str, n: int, processes: int,
                  state: Path) -> tuple[float, str]:
    url = await fresh_database(server)
    await create_topics(settings, partitions=PARTITIONS)
    inherited = {k: v for k, v in os.environ.items()  # several sinks never share one id
                 if k != "OMNIROUTE_INSTANCE_ID"}
    env = {**inherited, "OMNIROUTE_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
           "OMNIROUTE_TOPIC_NAMESPACE": settings.topic_namespace, "OMNIROUTE_DATABASE_URL": url,
           "OMNIROUTE_STATE_DIR": str(state), "OMNIROUTE_LOG_LEVEL": "warning"}
    log = (state / f"sink-{settings.topic_namespace}log").open("ab")
    started = [subprocess.Popen([sys.executable, "-m", "omniroute", "sink"],  # noqa: ASYNC220
                                env={**env, "OMNIROUTE_METRICS_PORT": str(free_port())},
                                stdout=log, stderr=log, stdin=subprocess.DEVNULL)
               for _ in range(processes)]
    conn = await asyncpg.connect(url)
    last = None
    try:
        deadline = time.monotonic() + 300
        while not await group_is_stable(settings, processes):
            if time.monotonic() > deadline:
                raise SystemExit(f"{processes} sink(s) never formed a stable group")
            await asyncio.sleep(0.5)
        await asyncio.sleep(2)  # each sink's first retention round and connection, then quiet
        first = await publish(settings, n)
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline:
            joined = await conn.fetchval(
                "SELECT count(*) FROM messages WHERE conversation_id IS NOT NULL")
            if joined >= n:
                last = time.monotonic()
                break
            await asyncio.sleep(0.1)
        events_stored = await conn.fetchval("SELECT count(*) FROM conversation_events")
        rows = await conn.fetchval("SELECT count(*) FROM messages")
        cpu = sum(backend_cpu(process.pid) for process in started)
    finally:
        await conn.close()
        for process in started:
            process.send_signal(signal.SIGTERM)
        for process in started:
            process.wait(30)
    if last is None:
        raise SystemExit(f"{processes} sink(s) did not store {n} joined messages in time")
    check = (f"{rows} message rows, {events_stored} conversation events for {n} messages; "
             f"sink CPU {cpu / n * 1e6:.0f} us/message, start-up included")
    if (rows, events_stored) != (n, n):
        raise SystemExit(f"{processes} sink(s): wrong output: {check}")
    return n / max(last - first, 1e-3), check


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20000)
    parser.add_argument("--processes", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    env = Settings()
    state = Path(tempfile.mkdtemp(prefix="omniroute-bench-sink-scaling-"))
    import pgserver

    server = pgserver.get_server(state / "pg", cleanup_mode="stop")
    try:
        with answering_broker(env.kafka_bootstrap, env.cache_dir, state / "kafka") as bootstrap:
            rates: dict[int, list[float]] = {k: [] for k in range(1, args.processes + 1)}
            for round_ in range(args.rounds):  # interleaved: a busy machine slows all alike
                for k in rates:
                    settings = Settings(kafka_bootstrap=bootstrap, state_dir=state,
                                        topic_namespace=f"sinkscale{uuid.uuid4().hex[:6]}.")
                    rate, check = asyncio.run(measure(settings, server.get_uri(),
                                                      args.messages, k, state))
                    rates[k].append(rate)
                    print(f"round {round_ + 1}: {k} sink process(es), {PARTITIONS} partitions: "
                          f"{rate:8.0f} message rows/s ({check})", flush=True)
            for k, measured in rates.items():
                print(f"best of {args.rounds}: {k} sink process(es): {max(measured):8.0f} "
                      f"message rows/s (x{max(measured) / max(rates[1]):.2f} of one)")
    finally:
        server.cleanup()


if __name__ == "__main__":
    main()
