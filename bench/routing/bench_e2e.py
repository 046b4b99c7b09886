"""End-to-end router latency: a routing request written to Kafka -> the assignment
readable by an agent app (read_committed), p50/p99 at a steady rate, beside a raw
Kafka produce -> consume round trip measured in the same run on the same broker.

    .venv/bin/python bench/routing/bench_e2e.py [--rate 200] [--count 2000] \
        [--commit-intervals 0,0.005,0.02]   # one router run per interval, same broker
        [--hops 1,2]   # requests written into their pool (as the worker does) / via the router
        [--previous /tmp/old/src --rounds 3]  # interleaved with another version's router

Uses ``OMNIROUTE_KAFKA_BOOTSTRAP`` when a broker answers there, else starts a
private local broker. The router runs as its own process (``omniroute router run``).
``--previous DIR`` also runs the router of another version (``DIR``: its ``src``
directory, e.g. ``git archive main src | tar -x -C /tmp/old``) on the same broker,
alternating with this one for ``--rounds`` rounds, and prints the medians of each.

Every router is warmed up before it is measured: ``--warmup`` seconds (default 15)
of requests at the rate, and as many raw probes, are sent and not counted. A
freshly started broker (a JVM) and router are 2-3x slower for their first
thousand records (measured 2026-12-03 on an idle machine: bursts of 1,000
requests gave p50 114, 59, 50, 50, 45, 38 ms one after the other); production
brokers are warm.
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
import tomllib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from omniroute.contract.agents import AgentEvent
from omniroute.infra.broker import answering_broker, free_port
from omniroute.infra.topics import create_topics
from omniroute.routing.config import parse_config
from omniroute.routing.entry import Entry
from omniroute.routing.live import LiveConfig
from omniroute.routing.requests import TOPIC as REQUESTS
from omniroute.routing.requests import RoutingRequest
from omniroute.routing.wire import POOL_TOPIC
from omniroute.settings import Settings

AGENTS = 50
CONFIG = "[pools.bench]\noffer_timeout_s = 3600\nheartbeat_grace_s = 3600\n" + "".join(
    f'[agents.a{i}]\npool = "bench"\ncapacity = 1000\nauto_accept = true\n'
    for i in range(AGENTS))
LIVE = LiveConfig(parse_config(tomllib.loads(CONFIG), "benchmark configuration"), 1)
LIVE.ready.set()  # the router publishes CONFIG as version 1 of each namespace at start


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


async def round_trips(settings: Settings, topic: str, payloads: list[tuple[str, bytes, bytes]],
                      rate: float, reply_topic: str, match: bytes,
                      hops: dict[str, float] | None = None,
                      times: dict[str, dict[str, float]] | None = None,
                      hop_topic: str | None = None, hop_match: bytes = b'"work_id":"'
                      ) -> list[float]:
    """Send payloads at ``rate``/s; latency until a record naming each id is readable.
    With ``hops``, also note when each id's pool-stream record (or ``hop_topic``'s record
    naming it after ``hop_match``) became readable; with ``times``, keep the perf_counter
    times (sent, hop, got) per id."""
    sent: dict[str, float] = {}
    got: dict[str, float] = {}
    watcher = None
    if hops is not None:
        watcher = asyncio.create_task(watch(
            settings, hop_topic or settings.topic("omniroute.internal.routing-pool-events"),
            hop_match, hops))
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
        if times is not None:
            times.update(sent=sent, got=got, hop=dict(hops))  # type: ignore[arg-type]
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


def requests_for(prefix: str, total: int, hops: int = 2) -> list[tuple[str, bytes, bytes]]:
    """``total`` route requests for conversations ``{prefix}{n}``: for the router's request
    topic (``hops`` 2), or written straight into the pool as the worker writes them
    (``hops`` 1, :class:`~omniroute.routing.entry.Entry` with the benchmark's
    configuration live)."""
    entry = Entry(LIVE) if hops == 1 else None
    out = []
    for n in range(total):
        req = RoutingRequest(event_id=f"rr-{prefix}{n}", kind="route",
                             conversation_id=f"{prefix}{n}", customer_id=f"u{n}",
                             channel="webchat")
        if entry is None:
            out.append((f"{prefix}{n}", req.conversation_id.encode(), req.to_json_bytes()))
        else:
            _, key, value = entry.record(req)
            out.append((f"{prefix}{n}", key, value))
    return out


def entry_topic(settings: Settings, hops: int) -> str:
    """Where requests are written: into the pool (1 hop) or the router's request topic."""
    return settings.topic(POOL_TOPIC if hops == 1 else REQUESTS)


@contextlib.asynccontextmanager
async def running(settings: Settings, state: Path, rate: float, interval: float,
                  source: Path | None, trace: Path | None = None,
                  warmup: float = 0.0, hops: int = 2) -> AsyncIterator[None]:
    """A router process on ``settings``' namespace, its agents logged in, and ``warmup``
    seconds of requests (and raw probes) at ``rate`` sent through it and the broker."""
    await create_topics(settings, partitions=3)
    config = state / "routing.toml"
    config.write_text(CONFIG)
    env = {**os.environ, "OMNIROUTE_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
           "OMNIROUTE_TOPIC_NAMESPACE": settings.topic_namespace,
           "OMNIROUTE_METRICS_PORT": str(free_port()), "OMNIROUTE_LOG_LEVEL": "warning"}
    if source is not None:
        env["PYTHONPATH"] = str(source)
    if trace is not None:
        env["OMNIROUTE_TRACE_OUT"] = str(trace)
    command = [str(Path(__file__).parent / "trace_router.py")] if trace else ["-m", "omniroute"]
    router = subprocess.Popen([sys.executable, *command, "router", "run", "--config",  # noqa: ASYNC220
                               str(config), "--tick", "1", "--commit-interval",
                               str(interval)], env=env)
    try:
        producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap)
        await producer.start()
        for i in range(AGENTS):
            login = AgentEvent(event_id=f"login-{i}", agent_id=f"a{i}", kind="presence",
                               presence="available")
            await producer.send_and_wait(settings.topic("omniroute.agent-events.v1"),
                                         login.to_json_bytes(), key=f"a{i}".encode())
        await producer.stop()
        # waits for the router to be up and assigned its partitions
        await round_trips(settings, entry_topic(settings, hops), requests_for("w", 50, hops),
                          rate, settings.topic("omniroute.assignments.v1"),
                          b'"conversation_id":"')
        if warmup > 0:
            count = int(warmup * rate)
            print(f"warming up: {count} requests and {count} raw probes at {rate:.0f}/s, "
                  "not counted", flush=True)
            await routed_burst(settings, requests_for("warm", count, hops), rate, hops=hops)
            await raw_burst(settings, "wr", count, rate)
        yield
    finally:
        router.send_signal(signal.SIGTERM)
        router.wait(timeout=60)


async def routed_burst(settings: Settings, requests: list[tuple[str, bytes, bytes]],
                       rate: float, times: dict[str, dict[str, float]] | None = None,
                       hops: int = 2) -> tuple[list[float], list[float]]:
    """Latencies (ms) request -> assignment readable, and request -> pool record readable."""
    hop1: dict[str, float] = {}
    routed = await round_trips(
        settings, entry_topic(settings, hops), requests, rate,
        settings.topic("omniroute.assignments.v1"), b'"conversation_id":"', hop1, times)
    return routed, [v for k, v in hop1.items() if not k.startswith("w")]


async def raw_burst(settings: Settings, prefix: str, count: int, rate: float) -> list[float]:
    """Latencies (ms) of plain produce -> consume on the same broker."""
    raw = [(f"{prefix}{n}", f"{prefix}{n}".encode(), f'{{"probe_id":"{prefix}{n}"}}'.encode())
           for n in range(count)]
    return await round_trips(settings, settings.topic("omniroute.outbound.v1"), raw, rate,
                             settings.topic("omniroute.outbound.v1"), b'"probe_id":"')


async def bench(settings: Settings, rate: float, count: int, state: Path,
                interval: float = 0.0, source: Path | None = None, trace: bool = False,
                warmup: float = 0.0, hops: int = 1) -> dict[str, float]:
    """One router run (``source``: another version's src directory); its percentiles."""
    traced = state / f"trace-{settings.topic_namespace}json"
    times: dict[str, dict[str, float]] = {}
    async with running(settings, state, rate, interval, source, traced if trace else None,
                       warmup, hops):
        routed, first = await routed_burst(settings, requests_for("c", count, hops), rate,
                                           times, hops)
        baseline = await raw_burst(settings, "r", count, rate)
    result = {"raw50": percentile(baseline, 50), "raw99": percentile(baseline, 99),
              "p50": percentile(routed, 50), "p99": percentile(routed, 99),
              "hop50": percentile(first, 50), "hop99": percentile(first, 99),
              "load": os.getloadavg()[0]}
    print(f"steady rate {rate:.0f}/s, {count} requests, 1 pool of {AGENTS} auto-accepting agents"
          f", router {source or 'of this checkout'} --commit-interval {interval * 1000:g} ms, "
          + ("requests written into the pool (1 hop)" if hops == 1 else
             "requests through the router's repartition hop (2 hops)")
          + f", load average {result['load']:.1f}")
    print(f"{'path':<44} {'p50 ms':>8} {'p99 ms':>8}")
    print(f"{'raw Kafka produce -> consume (baseline)':<44} "
          f"{result['raw50']:>8.1f} {result['raw99']:>8.1f}")
    print(f"{'routing request -> assignment readable':<44} "
          f"{result['p50']:>8.1f} {result['p99']:>8.1f}")
    print(f"{'  of which: request -> pool record readable':<44} "
          f"{result['hop50']:>8.1f} {result['hop99']:>8.1f}")
    print(f"ratio p50 {result['p50'] / result['raw50']:.1f}x, "
          f"p99 {result['p99'] / result['raw99']:.1f}x", flush=True)
    if trace:
        sys.path.insert(0, str(Path(__file__).parent))
        from trace_router import report
        report(str(traced), times["sent"], times["hop"], times["got"])
    return result


async def alternate(bootstrap: str, state: Path, rate: float, count: int, bursts: int,
                    variants: list[tuple[Path | None, float, int]], warmup: float = 0.0) -> None:
    """Every variant's router runs at once (each on its own namespace, idle but for its
    bursts); bursts of ``count`` requests go to one variant after the other, in a rotating
    order, each round after a raw produce -> consume burst: every variant meets the same
    moments of a shared machine's load."""
    names = [name_of(*variant) for variant in variants]
    spaces = [Settings(kafka_bootstrap=bootstrap, state_dir=state,
                       topic_namespace=f"bench{uuid.uuid4().hex[:6]}.") for _ in variants]
    routed: dict[str, list[list[float]]] = {name: [] for name in ["raw", *names]}
    hops: dict[str, list[list[float]]] = {name: [] for name in names}
    loads: list[float] = []
    async with contextlib.AsyncExitStack() as stack:
        for settings, (source, interval, entry) in zip(spaces, variants, strict=True):
            await stack.enter_async_context(running(settings, state, rate, interval, source,
                                                    warmup=warmup, hops=entry))
        for n in range(bursts):
            routed["raw"].append(await raw_burst(spaces[0], f"r{n}x", count, rate))
            for k in range(len(variants)):
                i = (n + k) % len(variants)
                entry = variants[i][2]
                latencies, hop = await routed_burst(
                    spaces[i], requests_for(f"c{n}x", count, entry), rate, hops=entry)
                routed[names[i]].append(latencies)
                hops[names[i]].append(hop)
            loads.append(os.getloadavg()[0])
            print(f"burst {n + 1}/{bursts}: " + ", ".join(
                f"{name} p50 {percentile(runs[-1], 50):.0f} p99 {percentile(runs[-1], 99):.0f}"
                for name, runs in routed.items()) + f" ms, load average {loads[-1]:.1f}",
                flush=True)
    raw = [v for burst in routed["raw"] for v in burst]
    print(f"\n{bursts} bursts of {count} requests at {rate:.0f}/s per variant, load average "
          f"{min(loads):.1f}-{max(loads):.1f}; pooled percentiles (ms), and the median of "
          "the bursts' own")
    print(f"{'variant':<22} {'p50':>7} {'p99':>7} {'hop1 p50':>9} {'hop1 p99':>9} "
          f"{'burst p50':>10} {'burst p99':>10} {'p99/raw p99':>12}")
    for name, runs in routed.items():
        pooled = [v for burst in runs for v in burst]
        hop = [v for burst in hops.get(name, []) for v in burst] or [0.0]
        print(f"{name:<22} {percentile(pooled, 50):>7.1f} {percentile(pooled, 99):>7.1f} "
              f"{percentile(hop, 50):>9.1f} {percentile(hop, 99):>9.1f} "
              f"{statistics.median(percentile(r, 50) for r in runs):>10.1f} "
              f"{statistics.median(percentile(r, 99) for r in runs):>10.1f} "
              f"{percentile(pooled, 99) / percentile(raw, 99):>11.1f}x")


def name_of(source: Path | None, interval: float, hops: int) -> str:
    """A variant's name: whose router, its commit interval, how requests enter."""
    return f"{source.parent.name if source else 'this'} {interval * 1000:g} ms {hops}-hop"


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
    parser.add_argument("--hops", default="1",
                        help="comma-separated; how this checkout's requests enter: 1 = written "
                             "into their pool as the worker writes them, 2 = through the "
                             "router's repartition hop (one run or variant each; --previous "
                             "routers always get 2)")
    parser.add_argument("--previous", type=Path, action="append", default=[],
                        help="src directory of another version; its router runs too "
                             "(may be given more than once; DIR@0.02 gives its own "
                             "commit intervals)")
    parser.add_argument("--previous-intervals", default=None,
                        help="commit intervals of the --previous runs (default: the same)")
    parser.add_argument("--trace", action="store_true",
                        help="run the routers under trace_router.py and print where the "
                             "time went (per transaction, per request)")
    parser.add_argument("--bursts", type=int, default=0,
                        help="run every variant's router at once and send them this many "
                             "alternating bursts of --count requests (the fairest comparison "
                             "on a shared machine)")
    parser.add_argument("--warmup", type=float, default=15.0,
                        help="seconds of requests and raw probes sent through each router "
                             "and the broker before measuring, not counted (0: none)")
    parser.add_argument("--rounds", type=int, default=1,
                        help="rounds of runs, interleaved (this version, then --previous)")
    args = parser.parse_args()
    env = Settings()
    state = Path(tempfile.mkdtemp(prefix="omniroute-bench-routing-"))
    results: dict[str, list[dict[str, float]]] = {}
    with answering_broker(env.kafka_bootstrap, env.cache_dir, state / "kafka") as bootstrap:
        runs: list[tuple[Path | None, float, int]] = [
            (None, float(v), int(h)) for v in args.commit_intervals.split(",")
            for h in args.hops.split(",")]
        for previous in args.previous:  # DIR, or DIR@intervals
            where, _, own = str(previous).partition("@")
            runs += [(Path(where), float(v), 2) for v in
                     (own or args.previous_intervals or args.commit_intervals).split(",")]
        if args.bursts:
            asyncio.run(alternate(bootstrap, state, args.rate, args.count, args.bursts,
                                  runs, args.warmup))
            return
        for _ in range(args.rounds):
            for source, interval, hops in runs:
                settings = Settings(kafka_bootstrap=bootstrap, state_dir=state,
                                    topic_namespace=f"bench{uuid.uuid4().hex[:6]}.")
                results.setdefault(name_of(source, interval, hops), []).append(asyncio.run(
                    bench(settings, args.rate, args.count, state, interval, source,
                          args.trace, args.warmup, hops)))
    summary(results)


if __name__ == "__main__":
    main()
