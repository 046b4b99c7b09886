"""End-to-end router latency: a routing request written to Kafka -> the assignment
readable by an agent app (read_committed), p50/p99 at a steady rate, beside a raw
Kafka produce -> consume round trip measured in the same run on the same broker.

    .venv/bin/python bench/routing/bench_e2e.py [--rate 200] [--count 2000] \
        [--commit-intervals 0,0.005,0.02]   # one router run per interval, same broker
        [--previous /tmp/old/src --rounds 3]  # interleaved with another version's router

Uses ``OMNIROUTE_KAFKA_BOOTSTRAP`` when a broker answers there, else starts a
private local broker. The router runs as its own process (``omniroute router run``).
``--previous DIR`` also runs the router of another version (``DIR``: its ``src``
directory, e.g. ``git archive main src | tar -x -C /tmp/old``) on the same broker,
alternating with this one for ``--rounds`` rounds, and prints the medians of each.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from omniroute.contract.agents import AgentEvent
from omniroute.infra.broker import answering_broker, free_port
from omniroute.infra.topics import create_topics
from omniroute.routing.requests import RoutingRequest
from omniroute.settings import Settings

AGENTS = 50
CONFIG = "[pools.bench]\noffer_timeout_s = 3600\nheartbeat_grace_s = 3600\n" + "".join(
    f'[agents.a{i}]\npool = "bench"\ncapacity = 1000\nauto_accept = true\n'
    for i in range(AGENTS))


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


async def round_trips(settings: Settings, topic: str, payloads: list[tuple[str, bytes, bytes]],
                      rate: float, reply_topic: str, match: bytes,
                      hops: dict[str, float] | None = None) -> list[float]:
    """Send payloads at ``rate``/s; latency until a record naming each id is readable.
    With ``hops``, also note when each id's pool-stream record became readable."""
    sent: dict[str, float] = {}
    got: dict[str, float] = {}
    watcher = None
    if hops is not None:
        watcher = asyncio.create_task(watch(
            settings, settings.topic("omniroute.internal.routing-pool-events"),
            b'"work_id":"', hops))
    consumer = AIOKafkaConsumer(reply_topic, bootstrap_servers=settings.kafka_bootstrap,
                                group_id=None, auto_offset_reset="latest",
                                isolation_level="read_committed", fetch_max_wait_ms=10)
    await consumer.start()
    await consumer.seek_to_end()
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all",
                                enable_idempotence=True)
    await producer.start()

    async def read() -> None:
        while len(got) < len(payloads):
            batch = await consumer.getmany(timeout_ms=50)
            now = time.perf_counter()
            for records in batch.values():
                for record in records:
                    if match in record.value:
                        key = record.value.split(match, 1)[1].split(b'"', 1)[0].decode()
                        got.setdefault(key, now)

    reader = asyncio.create_task(read())
    start = time.perf_counter()
    for n, (ident, key, value) in enumerate(payloads):
        delay = start + n / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        sent[ident] = time.perf_counter()
        await producer.send(topic, value, key=key)
    await asyncio.wait_for(reader, timeout=120)
    if watcher is not None:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
        for ident in sent:
            if ident in hops:  # type: ignore[operator]
                hops[ident] = (hops[ident] - sent[ident]) * 1000  # type: ignore[index]
    await producer.stop()
    await consumer.stop()
    return [(got[i] - sent[i]) * 1000 for i in sent]


async def watch(settings: Settings, topic: str, match: bytes, seen: dict[str, float]) -> None:
    """Note when a record naming each id becomes readable (read_committed) on ``topic``."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=settings.kafka_bootstrap,
                                group_id=None, auto_offset_reset="latest",
                                isolation_level="read_committed", fetch_max_wait_ms=10)
    await consumer.start()
    await consumer.seek_to_end()
    try:
        while True:
            batch = await consumer.getmany(timeout_ms=50)
            now = time.perf_counter()
            for records in batch.values():
                for record in records:
                    if match in record.value:
                        key = record.value.split(match, 1)[1].split(b'"', 1)[0].decode()
                        seen.setdefault(key, now)
    finally:
        await consumer.stop()


async def bench(settings: Settings, rate: float, count: int, state: Path,
                interval: float = 0.0, source: Path | None = None) -> dict[str, float]:
    """One router run (``source``: another version's src directory); its percentiles."""
    await create_topics(settings, partitions=3)
    config = state / "routing.toml"
    config.write_text(CONFIG)
    env = {**os.environ, "OMNIROUTE_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
           "OMNIROUTE_TOPIC_NAMESPACE": settings.topic_namespace,
           "OMNIROUTE_METRICS_PORT": str(free_port()), "OMNIROUTE_LOG_LEVEL": "warning"}
    if source is not None:
        env["PYTHONPATH"] = str(source)
    router = subprocess.Popen([sys.executable, "-m", "omniroute", "router", "run", "--config",  # noqa: ASYNC220
                               str(config), "--tick", "1", "--commit-interval",
                               str(interval)], env=env)
    try:
        logins = [(f"l{i}", f"a{i}".encode(), AgentEvent(
            event_id=f"login-{i}", agent_id=f"a{i}", kind="presence",
            presence="available").to_json_bytes()) for i in range(AGENTS)]
        producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap)
        await producer.start()
        for _, key, value in logins:
            await producer.send_and_wait(settings.topic("omniroute.agent-events.v1"), value,
                                         key=key)
        await producer.stop()
        def requests_for(prefix: str, total: int) -> list[tuple[str, bytes, bytes]]:
            out = []
            for n in range(total):
                req = RoutingRequest(event_id=f"rr-{prefix}{n}", kind="route",
                                     conversation_id=f"{prefix}{n}", customer_id=f"u{n}",
                                     channel="webchat")
                out.append((f"{prefix}{n}", req.conversation_id.encode(), req.to_json_bytes()))
            return out

        requests = requests_for("c", count)
        warm = requests_for("w", 50)  # waits for the router to be up and assigned its partitions
        await round_trips(settings, settings.topic("omniroute.internal.routing-requests"), warm,
                          rate, settings.topic("omniroute.assignments.v1"),
                          b'"conversation_id":"')
        hop1: dict[str, float] = {}
        routed = await round_trips(
            settings, settings.topic("omniroute.internal.routing-requests"), requests, rate,
            settings.topic("omniroute.assignments.v1"), b'"conversation_id":"', hop1)
        raw = [(f"r{n}", f"r{n}".encode(), f'{{"probe_id":"r{n}"}}'.encode())
               for n in range(count)]
        baseline = await round_trips(settings, settings.topic("omniroute.outbound.v1"), raw,
                                     rate, settings.topic("omniroute.outbound.v1"),
                                     b'"probe_id":"')
    finally:
        router.send_signal(signal.SIGTERM)
        router.wait(timeout=60)
    first = [v for k, v in hop1.items() if k.startswith("c")]
    result = {"raw50": percentile(baseline, 50), "raw99": percentile(baseline, 99),
              "p50": percentile(routed, 50), "p99": percentile(routed, 99),
              "hop50": percentile(first, 50), "hop99": percentile(first, 99),
              "load": os.getloadavg()[0]}
    print(f"steady rate {rate:.0f}/s, {count} requests, 1 pool of {AGENTS} auto-accepting agents"
          f", router {source or 'of this checkout'} --commit-interval {interval * 1000:g} ms"
          f", load average {result['load']:.1f}")
    print(f"{'path':<44} {'p50 ms':>8} {'p99 ms':>8}")
    print(f"{'raw Kafka produce -> consume (baseline)':<44} "
          f"{result['raw50']:>8.1f} {result['raw99']:>8.1f}")
    print(f"{'routing request -> assignment readable':<44} "
          f"{result['p50']:>8.1f} {result['p99']:>8.1f}")
    print(f"{'  of which: request -> pool record readable':<44} "
          f"{result['hop50']:>8.1f} {result['hop99']:>8.1f}")
    print(f"ratio p50 {result['p50'] / result['raw50']:.1f}x, "
          f"p99 {result['p99'] / result['raw99']:.1f}x", flush=True)
    return result


def summary(results: dict[str, list[dict[str, float]]]) -> None:
    """Medians over the rounds of each variant, with the ratio to its runs' baselines."""
    print(f"\nmedians over rounds (ms) {'runs':>5} {'raw p50':>8} {'raw p99':>8} {'hop1 p50':>9}"
          f" {'hop1 p99':>9} {'p50':>7} {'p99':>7} {'p99/raw':>8} {'load':>5}")
    for name, runs in results.items():
        def med(key: str, runs: list[dict[str, float]] = runs) -> float:
            return statistics.median(r[key] for r in runs)
        ratio = statistics.median(r["p99"] / r["raw99"] for r in runs)
        print(f"{name:<24} {len(runs):>5} {med('raw50'):>8.1f} {med('raw99'):>8.1f} "
              f"{med('hop50'):>9.1f} {med('hop99'):>9.1f} {med('p50'):>7.1f} {med('p99'):>7.1f} "
              f"{ratio:>7.1f}x {med('load'):>5.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--commit-intervals", default="0.02",
                        help="comma-separated seconds; one router run for each")
    parser.add_argument("--previous", type=Path, default=None,
                        help="src directory of another version; its router runs too")
    parser.add_argument("--previous-intervals", default=None,
                        help="commit intervals of the --previous runs (default: the same)")
    parser.add_argument("--rounds", type=int, default=1,
                        help="rounds of runs, interleaved (this version, then --previous)")
    args = parser.parse_args()
    env = Settings()
    state = Path(tempfile.mkdtemp(prefix="omniroute-bench-routing-"))
    results: dict[str, list[dict[str, float]]] = {}
    with answering_broker(env.kafka_bootstrap, env.cache_dir, state / "kafka") as bootstrap:
        runs = [(None, float(v)) for v in args.commit_intervals.split(",")]
        if args.previous:
            runs += [(args.previous, float(v)) for v in
                     (args.previous_intervals or args.commit_intervals).split(",")]
        for _ in range(args.rounds):
            for source, interval in runs:
                settings = Settings(kafka_bootstrap=bootstrap, state_dir=state,
                                    topic_namespace=f"bench{uuid.uuid4().hex[:6]}.")
                name = f"{'previous' if source else 'this'} {interval * 1000:g} ms"
                results.setdefault(name, []).append(asyncio.run(
                    bench(settings, args.rate, args.count, state, interval, source)))
    summary(results)


if __name__ == "__main__":
    main()
