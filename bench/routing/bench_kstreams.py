"""Kafka's own exactly-once pace for the router's shape: a Kafka Streams application
(``bench/routing/kstreams/``, exactly_once_v2, two sub-topologies: re-key by pool
through a repartition topic, then one output record per input) measured beside a raw
Kafka produce -> consume round trip and omniroute's router, on the same broker, in
alternating bursts (every variant meets the same moments of a shared machine's load).

    .venv/bin/python bench/routing/bench_kstreams.py [--rate 200] [--count 1000] \
        [--bursts 10] [--warmup-s 10] [--commit-intervals-ms 20,100] [--no-router]

Latency: a request written (keyed by conversation id) -> its output record readable
with read_committed, p50/p99, using bench_e2e's sender and reader. Each Streams
application is its own JVM (one stream thread); its producer's transaction manager
logs which transactional requests it sends, which tells the transaction protocol the
Java client used (v2, KIP-890: no AddPartitionsToTxn nor AddOffsetsToTxn).
Uses ``OMNIROUTE_KAFKA_BOOTSTRAP`` when a broker answers there, else starts a private
local broker. Builds the application with Maven first (``kstreams/build.sh``).
Exits non-zero when anything fails.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import functools
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from bench_e2e import percentile, raw_burst, requests_for, round_trips, routed_burst, running

from omniroute.infra.broker import answering_broker
from omniroute.infra.topics import create_topics
from omniroute.settings import Settings

KSTREAMS = Path(__file__).parent / "kstreams"
MAIN = "dev.omniroute.bench.StreamsReference"
REQUEST = re.compile(r"Enqueuing transactional request (\w+?)(?:RequestData|Request)\b")
Burst = Callable[[str, int], Awaitable[tuple[list[float], list[float]]]]
"""Send a burst (id prefix, count); latencies (ms) to the output and to hop 1's record."""


def build() -> str:
    """Build the Streams application (mvn, progress on stderr); its classpath."""
    result = subprocess.run(["bash", str(KSTREAMS / "build.sh")], stdout=subprocess.PIPE,
                            text=True, check=False)
    if result.returncode != 0:
        sys.exit(f"building {KSTREAMS} failed (exit {result.returncode})")
    return result.stdout.strip().splitlines()[-1]


@dataclass
class StreamsApp:
    """A running Kafka Streams reference application and its topics."""

    name: str
    input: str
    output: str
    repartition: str
    process: asyncio.subprocess.Process
    log: Path
    transaction_version: str = "?"


@contextlib.asynccontextmanager
async def streams_app(classpath: str, bootstrap: str, state: Path, interval_ms: int
                      ) -> AsyncIterator[StreamsApp]:
    """One Streams application JVM, RUNNING (its partitions assigned) when entered."""
    ident = f"kstreams{interval_ms}ms{uuid.uuid4().hex[:6]}"
    java = shutil.which("java")
    if java is None:
        sys.exit("Java is not installed (make bootstrap)")
    app = StreamsApp(f"kstreams {interval_ms} ms", f"{ident}.requests", f"{ident}.assignments",
                     f"{ident}-pool-repartition", await asyncio.create_subprocess_exec(
                         java, "-Xms128m", "-Xmx256m", "-cp", classpath, MAIN,
                         "--bootstrap", bootstrap, "--application-id", ident,
                         "--input", f"{ident}.requests", "--output", f"{ident}.assignments",
                         "--commit-interval-ms", str(interval_ms), "--partitions", "3",
                         "--state-dir", str(state / ident),
                         "--log-transactions", str(state / f"{ident}.log"),
                         stdout=asyncio.subprocess.PIPE),
                     state / f"{ident}.log")
    assert app.process.stdout is not None
    drain: asyncio.Task[bytes] | None = None
    try:
        while True:
            line = (await asyncio.wait_for(app.process.stdout.readline(), 120)).decode()
            if not line:
                sys.exit(f"{app.name}: the Streams application exited "
                         f"({await app.process.wait()}) before it ran")
            if line.startswith("transaction.version"):
                app.transaction_version = line.strip()
            if line.strip() == "RUNNING":
                break
        drain = asyncio.create_task(app.process.stdout.read())  # later state changes
        yield app
        if app.process.returncode is not None:
            sys.exit(f"{app.name}: the Streams application exited ({app.process.returncode})")
    finally:
        if app.process.returncode is None:
            app.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(app.process.wait(), 60)
            except TimeoutError:
                app.process.kill()
                await app.process.wait()
        if drain is not None:
            drain.cancel()


async def streams_burst(settings: Settings, app: StreamsApp, prefix: str, count: int,
                        rate: float) -> tuple[list[float], list[float]]:
    """Latencies (ms) request -> output readable, and request -> repartition record readable
    (hop 1; the one stream thread commits both hops in one transaction)."""
    requests, hop = requests_for(prefix, count), dict[str, float]()
    match = b'"conversation_id":"'
    latencies = await round_trips(settings, app.input, requests, rate, app.output, match, hop,
                                  hop_topic=app.repartition, hop_match=match)
    return latencies, [hop[ident] for ident, _key, _value in requests if ident in hop]


def transactional_requests(log: Path) -> tuple[dict[str, int], list[float]]:
    """How many transactional requests of each kind the Java client enqueued, and how
    long each commit took (ms, from sending the offsets to the transaction's end)."""
    text = log.read_text(errors="replace")
    commits, begun = [], None
    for line in text.splitlines():  # slf4j-simple: ms since the JVM started first
        if "Begin adding offsets" in line:
            begun = int(line.split(" ", 1)[0])
        elif "from state COMMITTING_TRANSACTION to READY" in line and begun is not None:
            commits.append(float(int(line.split(" ", 1)[0]) - begun))
            begun = None
    return dict(collections.Counter(REQUEST.findall(text))), commits or [0.0]


async def compare(classpath: str, bootstrap: str, state: Path, args: argparse.Namespace
                  ) -> None:
    """Warm every variant up, then send them alternating bursts; print the percentiles."""
    rate, count = args.rate, args.count
    settings = Settings(kafka_bootstrap=bootstrap, state_dir=state,
                        topic_namespace=f"kbench{uuid.uuid4().hex[:6]}.")
    await create_topics(settings, partitions=3)  # raw_burst's topic

    async def raw(prefix: str, n: int) -> tuple[list[float], list[float]]:
        return await raw_burst(settings, prefix, n, rate), []
    bursts: dict[str, Burst] = {"raw": raw}
    apps: list[StreamsApp] = []
    async with contextlib.AsyncExitStack() as stack:
        for ms in (int(v) for v in args.commit_intervals_ms.split(",")):
            app = await stack.enter_async_context(streams_app(classpath, bootstrap, state, ms))
            apps.append(app)
            bursts[app.name] = functools.partial(streams_burst, settings, app, rate=rate)
        if not args.no_router:
            spaced = Settings(kafka_bootstrap=bootstrap, state_dir=state,
                              topic_namespace=f"kbench{uuid.uuid4().hex[:6]}.")
            await stack.enter_async_context(running(spaced, state, rate, args.router_interval,
                                                    None))

            async def routed(prefix: str, n: int) -> tuple[list[float], list[float]]:
                return await routed_burst(spaced, requests_for(prefix, n), rate)
            bursts[f"omniroute {args.router_interval * 1000:g} ms"] = routed
        for app in apps[:1]:
            print(f"broker feature {app.transaction_version}", flush=True)
        warm = int(args.warmup_s * rate)
        for name, burst in bursts.items():
            latencies, _hop = await burst("warm", warm)
            print(f"warm-up {name}: {warm} requests, p50 {percentile(latencies, 50):.0f} "
                  f"p99 {percentile(latencies, 99):.0f} ms (discarded)", flush=True)
        results, hops, loads = await alternate(bursts, count, args.bursts)
    print(f"\n{args.bursts} bursts of {count} requests at {rate:.0f}/s per variant, load "
          f"average {min(loads):.1f}-{max(loads):.1f}; pooled percentiles (ms), and the "
          "median of the bursts' own")
    print_table(results, hops)
    for app in apps:
        sent, commits = transactional_requests(app.log)
        v2 = sent.get("EndTxn", 0) > 0 and not sent.get("AddPartitionsToTxn") \
            and not sent.get("AddOffsetsToTxn")
        print(f"{app.name}: transactional requests sent by the Java client: "
              + ", ".join(f"{k} {v}" for k, v in sorted(sent.items()))
              + f" -> transaction protocol {'v2 (KIP-890)' if v2 else 'v1'}; commit "
              f"(offsets sent -> transaction ended) p50 {percentile(commits, 50):.0f} "
              f"p99 {percentile(commits, 99):.0f} ms")
        if not sent.get("EndTxn"):
            sys.exit(f"{app.name}: no EndTxn in {app.log}: did it commit any transaction?")


Runs = dict[str, list[list[float]]]


async def alternate(bursts: dict[str, Burst], count: int, rounds: int
                    ) -> tuple[Runs, Runs, list[float]]:
    """``rounds`` rounds: a raw burst, then every other variant in a rotating order.
    Latencies and hop 1's per variant and burst, and the load average after each round."""
    results: Runs = {name: [] for name in bursts}
    hops: Runs = {name: [] for name in bursts}
    loads: list[float] = []
    others = [name for name in bursts if name != "raw"]
    for n in range(rounds):
        for name in ["raw", *(others[(n + k) % len(others)] for k in range(len(others)))]:
            latencies, hop = await bursts[name](f"b{n}x", count)
            results[name].append(latencies)
            hops[name].append(hop)
        loads.append(os.getloadavg()[0])
        print(f"burst {n + 1}/{rounds}: " + ", ".join(
            f"{name} p50 {percentile(runs[-1], 50):.0f} p99 {percentile(runs[-1], 99):.0f}"
            for name, runs in results.items()) + f" ms, load average {loads[-1]:.1f}",
            flush=True)
    return results, hops, loads


def print_table(results: Runs, hops: Runs) -> None:
    """Pooled percentiles per variant and of its hop 1, the medians of the bursts' own,
    the ratios to the raw baseline's."""
    raw = [v for burst in results["raw"] for v in burst]
    print(f"{'variant':<20} {'p50':>7} {'p99':>7} {'hop1 p50':>9} {'hop1 p99':>9} "
          f"{'burst p50':>10} {'burst p99':>10} {'p50/raw':>8} {'p99/raw':>8}")
    for name, runs in results.items():
        pooled = [v for burst in runs for v in burst]
        hop = [v for burst in hops[name] for v in burst]
        hop50, hop99 = (f"{percentile(hop, p):.1f}" if hop else "-" for p in (50, 99))
        print(f"{name:<20} {percentile(pooled, 50):>7.1f} {percentile(pooled, 99):>7.1f} "
              f"{hop50:>9} {hop99:>9} "
              f"{statistics.median(percentile(r, 50) for r in runs):>10.1f} "
              f"{statistics.median(percentile(r, 99) for r in runs):>10.1f} "
              f"{percentile(pooled, 50) / percentile(raw, 50):>7.1f}x "
              f"{percentile(pooled, 99) / percentile(raw, 99):>7.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--count", type=int, default=1000, help="requests per burst")
    parser.add_argument("--bursts", type=int, default=10)
    parser.add_argument("--warmup-s", type=float, default=10.0,
                        help="seconds of traffic per variant sent and discarded first")
    parser.add_argument("--commit-intervals-ms", default="20,100",
                        help="one Streams application per commit.interval.ms")
    parser.add_argument("--router-interval", type=float, default=0.02,
                        help="omniroute router's --commit-interval (seconds)")
    parser.add_argument("--no-router", action="store_true", help="leave omniroute's router out")
    args = parser.parse_args()
    classpath = build()
    env = Settings()
    state = Path(tempfile.mkdtemp(prefix="omniroute-bench-kstreams-"))
    with answering_broker(env.kafka_bootstrap, env.cache_dir, state / "kafka") as bootstrap:
        asyncio.run(compare(classpath, bootstrap, state, args))
    shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    main()
