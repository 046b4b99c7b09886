"""Benchmark: how long a SIGKILLed worker's customers wait, with and without static membership.

Run: ``.venv/bin/python bench/identity/bench_restart.py [--rate 50] [--rounds 2]``

Two ``omniroute worker`` processes (the batch engine) share 3 partitions while
messages arrive at a steady rate from 300 SMS senders. After ``--warmup``
seconds worker 2 is SIGKILLed and started again 1 s later (``omniroute up``'s
first restart back-off); the traffic goes on for ``--after`` seconds. Each
message's latency is the time from its publication to its ``message_added``
event being readable (read committed). Printed per mode and round: the
messages sent from the kill on, how many were threaded once, their latency
p50 / p99 / max, and the longest time no message was threaded.

- baseline: dynamic membership (no ``OMNIROUTE_INSTANCE_ID``, how workers ran
  before 2026-12-06): the restarted process joins as a new member, the group
  waits until the dead member's session times out (10 s), and then every
  worker gives up its partitions and claims them again;
- omniroute: static membership (``OMNIROUTE_INSTANCE_ID``, which ``omniroute
  up`` sets): the restarted process takes its partitions back alone.

The modes alternate within each round, each on a fresh namespace. Uses the
broker at OMNIROUTE_KAFKA_BOOTSTRAP when it answers, else starts a temporary one.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import signal
import subprocess
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from bench_identity import start_worker, until_stable

from omniroute.contract import Address, Channel, ConversationEvent, InboundMessage
from omniroute.infra.broker import answering_broker, free_port
from omniroute.infra.topics import create_topics
from omniroute.settings import Settings

PARTITIONS = 3
SENDERS = 300
WORKSPACE = "restart"
RESTART_AFTER_S = 1.0
"""``omniroute up``'s first restart back-off."""


def start_member(settings: Settings, state: Path, index: int, static: bool
                 ) -> subprocess.Popen[bytes]:
    """Batch-engine worker ``index``; static member ``bench-worker<index>`` when ``static``."""
    home = state / f"w{index}"
    home.mkdir(exist_ok=True)
    return start_worker(settings, home, free_port(), engine="batch",
                        instance_id=f"bench-worker{index}" if static else None)


def message(n: int) -> InboundMessage:
    sender = f"+1 415-555-{n % SENDERS:04d}"
    return InboundMessage(
        event_id=f"restart:{n}", workspace=WORKSPACE, channel=Channel.SMS, provider="bench",
        channel_account="acct", sender=Address(value=sender), recipient=Address(value="acct"),
        provider_message_id=f"pm{n}", text=f"message {n}")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


async def one_run(bootstrap: str, state: Path, static: bool, rate: float, warmup: float,
                  after: float) -> dict[str, float]:
    """One kill and restart under steady traffic; the figures of the messages sent after it."""
    settings = Settings(kafka_bootstrap=bootstrap, state_dir=state,
                        topic_namespace=f"restart{uuid.uuid4().hex[:6]}.")
    await create_topics(settings, partitions=PARTITIONS)
    workers = {i: start_member(settings, state, i, static) for i in (1, 2)}
    sent: dict[str, float] = {}
    threaded: dict[str, float] = {}
    counts: Counter[str] = Counter()
    reader = AIOKafkaConsumer(settings.topic("omniroute.conversations.v1"),
                              bootstrap_servers=bootstrap, group_id=None,
                              isolation_level="read_committed", auto_offset_reset="earliest")
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all",
                                enable_idempotence=True, linger_ms=1)
    sending = True
    caught_up = asyncio.Event()

    async def read() -> None:
        while not caught_up.is_set():
            batches = await reader.getmany(timeout_ms=200)
            now = time.monotonic()
            for records in batches.values():
                for record in records:
                    event = ConversationEvent.from_json_bytes(record.value)
                    if event.kind == "message_added" and event.message is not None:
                        counts[event.message.source_event_id] += 1
                        threaded.setdefault(event.message.source_event_id, now)
            if not sending and len(threaded) >= len(sent):
                caught_up.set()

    try:
        await until_stable(settings, 2, engine="batch")
        await reader.start()
        await producer.start()
        reading = asyncio.create_task(read())
        topic = settings.topic("omniroute.inbound.v1")
        start = time.monotonic()
        killed_at = start + warmup
        killed = restarted = False
        n = 0
        while time.monotonic() < killed_at + after:
            now = time.monotonic()
            if not killed and now >= killed_at:
                workers.pop(2).send_signal(signal.SIGKILL)
                killed = True
            if killed and not restarted and now >= killed_at + RESTART_AFTER_S:
                workers[2] = start_member(settings, state, 2, static)
                restarted = True
            m = message(n)
            await producer.send_and_wait(topic, m.to_json_bytes(), key=m.kafka_key.encode())
            sent[m.event_id] = time.monotonic()
            n += 1
            await asyncio.sleep(max(0.0, start + n / rate - time.monotonic()))
        sending = False
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(caught_up.wait(), 60)
        caught_up.set()
        await reading
    finally:
        await producer.stop()
        await reader.stop()
        for worker in workers.values():
            worker.send_signal(signal.SIGTERM)
        for worker in workers.values():
            worker.wait(30)
    watched = [e for e, t in sent.items() if t >= killed_at]
    latencies = [threaded[e] - sent[e] for e in watched if e in threaded]
    moments = sorted(threaded[e] for e in watched if e in threaded)
    gaps = [b - a for a, b in itertools.pairwise(moments)]
    return {"sent": len(watched), "once": sum(counts[e] == 1 for e in watched),
            "duplicated": sum(counts[e] > 1 for e in sent),
            "p50": percentile(latencies, 0.5), "p99": percentile(latencies, 0.99),
            "max": max(latencies), "gap": max(gaps, default=0.0)}


def line(label: str, f: dict[str, float]) -> str:
    return (f"{label:<22} {f['sent']:>5.0f} sent, {f['once']:>5.0f} threaded once, "
            f"{f['duplicated']:.0f} twice | latency p50 {f['p50'] * 1000:>6.0f} ms, "
            f"p99 {f['p99'] * 1000:>6.0f} ms, max {f['max'] * 1000:>6.0f} ms | "
            f"longest gap {f['gap'] * 1000:>6.0f} ms")


async def bench(bootstrap: str, state: Path, rate: float, warmup: float, after: float,
                rounds: int) -> None:
    best: dict[bool, dict[str, float]] = {}
    for round_ in range(1, rounds + 1):
        for static in ((False, True) if round_ % 2 else (True, False)):
            label = "static (omniroute up)" if static else "dynamic (baseline)"
            print(f"round {round_}: {label}: {warmup:.0f} s of traffic, kill, "
                  f"{after:.0f} s more...", flush=True)
            figures = await one_run(bootstrap, state, static, rate, warmup, after)
            print(f"round {round_}: {line(label, figures)}", flush=True)
            if static not in best or figures["max"] < best[static]["max"]:
                best[static] = figures
    dynamic, static_ = best[False], best[True]
    print()
    print(f"best of {rounds} round(s), {rate:.0f} msg/s, worker 2 SIGKILLed and restarted "
          f"after {RESTART_AFTER_S:.0f} s:")
    print(line("dynamic (baseline)", dynamic))
    print(line("static (omniroute up)", static_))
    print(f"ratio (static / dynamic): max latency {static_['max'] / dynamic['max']:.2f}, "
          f"p99 {static_['p99'] / dynamic['p99']:.2f}, "
          f"longest gap {static_['gap'] / dynamic['gap']:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=50.0, help="messages per second")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds before the kill")
    parser.add_argument("--after", type=float, default=20.0, help="seconds after the kill")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    env = Settings()
    state = Path(tempfile.mkdtemp(prefix="omniroute-bench-restart-"))
    with answering_broker(env.kafka_bootstrap, env.cache_dir, state / "kafka") as bootstrap:
        asyncio.run(bench(bootstrap, state, args.rate, args.warmup, args.after, args.rounds))


if __name__ == "__main__":
    main()
