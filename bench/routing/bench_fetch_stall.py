"""What a loop that commits between polls costs a record in waiting, with and without
taking fetched records while it commits (``Loop.poll`` / ``Loop._draining``).

aiokafka fetches a partition again only once the records it fetched for it were handed
out. A loop that polls, then spends ``--busy`` ms committing, leaves the first records
that arrived for each partition in the fetcher's buffer, and everything after them waits
for the *next* cycle. This harness produces at ``--rate`` to a topic of ``--partitions``
partitions and measures produce -> poll latency of a loop that sleeps ``--busy`` ms per
cycle (a stand-in for its transactions), once with plain ``getmany`` and once with the
router's ``Loop``, which takes records while it is busy; rounds alternate.

    .venv/bin/python bench/routing/bench_fetch_stall.py [--busy 23] [--rounds 2]

Uses ``OMNIROUTE_KAFKA_BOOTSTRAP`` when a broker answers there, else a throwaway one.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
import uuid
from pathlib import Path

from aiokafka import AIOKafkaProducer

from omniroute.infra.broker import answering_broker
from omniroute.infra.topics import TopicSpec, create_topics
from omniroute.routing.transactions import Loop
from omniroute.settings import Settings


async def measure(settings: Settings, busy: float, taking: bool, rate: float,
                  count: int, partitions: int) -> tuple[float, float]:
    """p50 and p99 (ms) of produce -> handed to the loop, after a 20 % warm-up."""
    topic = f"bench.fetch-stall-{uuid.uuid4().hex[:8]}"
    await create_topics(settings, [TopicSpec(topic, partitions)])
    loop = Loop(settings, f"fetch-stall-{uuid.uuid4().hex[:6]}", [topic], "bench")
    loop.consumer.subscribe([settings.topic(topic)])
    await loop.consumer.start()
    while not loop.consumer.assignment():
        await loop.consumer.getmany(timeout_ms=100)
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    await producer.start()
    sent: dict[int, float] = {}
    got: dict[int, float] = {}

    async def send() -> None:
        for n in range(count):
            sent[n] = time.perf_counter()
            await producer.send(settings.topic(topic), str(n).encode(), key=str(n).encode())
            await asyncio.sleep(1 / rate)

    async def consume() -> None:
        while len(got) < count:
            if taking:
                batch = await loop.poll(0.0, 0.0)
            else:
                batch = await loop.consumer.getmany(timeout_ms=100, max_records=500)
            now = time.perf_counter()
            for records in batch.values():
                for record in records:
                    got.setdefault(int(record.value), now)
            if batch:
                work = asyncio.sleep(busy)
                await (loop._draining(work) if taking else work)

    try:
        await asyncio.gather(send(), consume())
    finally:
        await producer.stop()
        await loop.consumer.stop()
    waits = sorted((got[n] - sent[n]) * 1000 for n in range(count // 5, count))
    return waits[len(waits) // 2], waits[int(len(waits) * 0.99)]


async def bench(bootstrap: str, args: argparse.Namespace) -> None:
    settings = Settings(kafka_bootstrap=bootstrap, topic_namespace=f"b{uuid.uuid4().hex[:6]}.")
    print(f"{args.rate:.0f} records/s on {args.partitions} partitions, loop busy "
          f"{args.busy:g} ms per cycle, {args.count} records per run", flush=True)
    results: dict[bool, list[tuple[float, float]]] = {False: [], True: []}
    for n in range(args.rounds):
        for taking in (False, True):
            p50, p99 = await measure(settings, args.busy / 1000, taking, args.rate,
                                     args.count, args.partitions)
            results[taking].append((p50, p99))
            print(f"round {n + 1}: {'taking while busy' if taking else 'plain getmany':<18} "
                  f"p50 {p50:6.1f} ms  p99 {p99:6.1f} ms  (load average "
                  f"{os.getloadavg()[0]:.1f})", flush=True)
    plain = sorted(p for p, _ in results[False])[len(results[False]) // 2]
    taking = sorted(p for p, _ in results[True])[len(results[True]) // 2]
    print(f"median p50: plain {plain:.1f} ms, taking {taking:.1f} ms "
          f"(x{plain / taking:.1f} shorter wait); a busy period of {args.busy:g} ms alone "
          f"would give ~{args.busy / 2:.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--busy", type=float, default=23.0, help="ms per cycle (a commit)")
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--count", type=int, default=1500)
    parser.add_argument("--partitions", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    env = Settings()
    home = Path(tempfile.mkdtemp(prefix="omniroute-bench-fetch-"))
    with answering_broker(env.kafka_bootstrap, env.cache_dir, home) as bootstrap:
        asyncio.run(bench(bootstrap, args))


if __name__ == "__main__":
    main()
