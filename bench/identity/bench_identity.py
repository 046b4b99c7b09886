"""Benchmark: identity + threading throughput through the real broker, beside a passthrough.

Run: ``.venv/bin/python bench/identity/bench_identity.py [--messages 5000] [--senders 500]``
(``PROFILE=/tmp/worker.prof`` runs the worker under cProfile). ``--previous DIR``
also measures another version of the worker on the same messages in the same
run, e.g. ``git archive fb93728 src | tar -x -C /tmp/old`` then
``--previous /tmp/old/src``. ``--engine batch`` also measures ``omniroute worker --engine batch``
(the transactional batch engine) on the same messages, and ratios it to the
passthrough and to faust's worker; with ``--previous`` the other version runs on
the batch engine too. ``--batch-only`` leaves faust out (its passthrough and its
worker) and interleaves ``--rounds N`` rounds of: the raw passthrough, this
batch worker, the previous version's batch worker (the order of the two
workers alternates), each on a fresh namespace holding the same messages;
it prints every round, each worker's CPU per message and its per-stage handler
time (``omniroute_processing_seconds``), and the best ratio of each.
``--scaling 3`` also runs 1, 2 and 3 worker processes on 6 partitions (each on
its own copy of the messages, produced once their consumer group is stable)
and checks their output.

The same pre-produced InboundMessages (SMS and WhatsApp senders, several
messages each, one topic of 3 partitions) are read twice in one run:

- baseline: a raw aiokafka consume-and-produce passthrough (a consumer group,
  acks=all idempotent producer, offsets committed after each batch's acks);
- for context, a one-hop faust passthrough with one table write per record
  (``faust_passthrough.py``): the floor of any faust processor here;
- omniroute: one ``omniroute worker`` process (validation, address
  normalization, de-duplication, identity lookup, threading, ConversationEvents
  and RoutingRequests, two hops through Kafka, changelog-backed tables).

Each rate is messages / (last output timestamp - first output timestamp), so
process start-up and group joins are not counted. Uses the broker at
OMNIROUTE_KAFKA_BOOTSTRAP when it answers, else starts a temporary local one.
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
import urllib.request
import uuid
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from omniroute.contract import Address, Channel, ConversationEvent, InboundMessage
from omniroute.infra.broker import answering_broker, free_port
from omniroute.infra.topics import TopicSpec, create_topics
from omniroute.settings import Settings
from omniroute.worker.app import APP_ID

PARTITIONS = 3
WORKSPACE = "bench"


def messages(count: int, senders: int) -> list[InboundMessage]:
    """``count`` messages from ``senders`` phones, alternating SMS and WhatsApp spellings."""
    found = []
    for i in range(count):
        n = i % senders
        whatsapp = (i // senders) % 2 == 1
        local = f"+82 10-{5000 + n // 10000:04d}-{n % 10000:04d}"
        sender = f"8210{5000_0000 + n}" if whatsapp else local
        found.append(InboundMessage(
            event_id=f"bench:{i}", workspace=WORKSPACE,
            channel=Channel.WHATSAPP if whatsapp else Channel.SMS, provider="bench",
            channel_account="acct", sender=Address(value=sender), recipient=Address(value="acct"),
            provider_message_id=f"pm{i}", text=f"message {i}",
        ))
    return found


async def publish(settings: Settings, batch: list[InboundMessage]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all",
                                enable_idempotence=True, linger_ms=5)
    await producer.start()
    try:
        topic = settings.topic("omniroute.inbound.v1")
        futures = [await producer.send(topic, m.to_json_bytes(), key=m.kafka_key.encode())
                   for m in batch]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def passthrough(settings: Settings, count: int) -> float:
    """Consume inbound, produce each record unchanged, commit after acks; messages/s."""
    consumer = AIOKafkaConsumer(
        settings.topic("omniroute.inbound.v1"), bootstrap_servers=settings.kafka_bootstrap,
        group_id=settings.topic("bench-passthrough"), auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all",
                                enable_idempotence=True, linger_ms=5)
    await consumer.start()
    await producer.start()
    done, first, last = 0, None, 0.0
    try:
        while done < count:
            batch = await consumer.getmany(timeout_ms=500)
            futures = []
            for records in batch.values():
                for record in records:
                    futures.append(await producer.send(
                        settings.topic("bench.passthrough"), record.value, key=record.key))
            metadata = await asyncio.gather(*futures)
            await consumer.commit()
            for meta in metadata:
                first = meta.timestamp if first is None else min(first, meta.timestamp)
                last = max(last, meta.timestamp)
            done += len(futures)
    finally:
        await producer.stop()
        await consumer.stop()
    return count / max((last - (first or last)) / 1000, 1e-3)


def start_faust_passthrough(settings: Settings, state: Path) -> subprocess.Popen[bytes]:
    log = (state / "faust-passthrough.log").open("wb")
    return subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("faust_passthrough.py")),
         settings.kafka_bootstrap, settings.topic_namespace, str(state / "faust-passthrough")],
        stdout=log, stderr=log, stdin=subprocess.DEVNULL)


async def faust_rate(settings: Settings, count: int, state: Path) -> float:
    """The one-hop faust passthrough's messages/s (first to last output timestamp)."""
    process = start_faust_passthrough(settings, state)
    consumer = AIOKafkaConsumer(settings.topic("bench.faust-passthrough"),
                                bootstrap_servers=settings.kafka_bootstrap,
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    stamps: list[int] = []
    deadline = time.monotonic() + 600
    try:
        while len(stamps) < count and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            stamps.extend(r.timestamp for records in batch.values() for r in records)
    finally:
        await consumer.stop()
        process.send_signal(signal.SIGTERM)
        process.wait(30)
    return len(stamps) / max((max(stamps) - min(stamps)) / 1000, 1e-3)


CHECKS: dict[str, str] = {}
"""Per measured worker version: what the output says about correctness."""


async def worker_rate(settings: Settings, count: int, timeout: float,
                      *processes: subprocess.Popen[bytes], senders: int = 0,
                      prefix: str = "bench:") -> float:
    """Wait for ``count`` message_added events; messages/s between the first and the last.

    Read committed (the worker publishes in transactions); also records in
    :data:`CHECKS` whether every message was added exactly once and each sender
    has one conversation.
    """
    consumer = AIOKafkaConsumer(
        settings.topic("omniroute.conversations.v1"), bootstrap_servers=settings.kafka_bootstrap,
        auto_offset_reset="earliest", enable_auto_commit=False, isolation_level="read_committed",
    )
    await consumer.start()
    seen: dict[str, int] = {}
    conversations: set[str] = set()
    stamps: list[int] = []
    deadline = time.monotonic() + timeout
    try:
        while len(seen) < count and time.monotonic() < deadline:
            for process in processes:
                if process.poll() is not None:
                    raise SystemExit(f"a worker exited with {process.returncode} (see its log)")
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                for record in records:
                    event = ConversationEvent.from_json_bytes(record.value)
                    if (event.kind == "message_added" and event.message
                            and event.message.source_event_id.startswith(prefix)):
                        source = event.message.source_event_id
                        seen[source] = seen.get(source, 0) + 1
                        conversations.add(event.conversation_id)
                        stamps.append(record.timestamp)
    finally:
        await consumer.stop()
    if len(seen) < count:
        raise SystemExit(f"only {len(seen)} of {count} messages threaded in {timeout:.0f}s")
    twice = sum(1 for n in seen.values() if n > 1)
    CHECKS[settings.topic_namespace] = (
        f"{twice} added twice, {len(conversations)} conversations for {senders or '?'} senders")
    return count / max((max(stamps) - min(stamps)) / 1000, 1e-3)


async def topic_rate(settings: Settings, topic: str) -> float:
    """Records/s written to ``topic`` (first to last record timestamp)."""
    consumer = AIOKafkaConsumer(settings.topic(topic), bootstrap_servers=settings.kafka_bootstrap,
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    stamps: list[int] = []
    try:
        while True:
            batch = await consumer.getmany(timeout_ms=1000)
            if not batch:
                break
            stamps.extend(r.timestamp for records in batch.values() for r in records)
    finally:
        await consumer.stop()
    return len(stamps) / max((max(stamps) - min(stamps)) / 1000, 1e-3) if stamps else 0.0


def handler_seconds(port: int) -> dict[str, float]:
    """Mean seconds per record in each stage (omniroute_processing_seconds), from /metrics."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    sums: dict[str, float] = {}
    counts: dict[str, float] = {}
    for line in text.splitlines():
        for suffix, into in (("_sum", sums), ("_count", counts)):
            if line.startswith(f"omniroute_processing_seconds{suffix}{{"):
                stage = line.split('stage="')[1].split('"')[0]
                into[stage] = float(line.rsplit(" ", 1)[1])
    return {p: sums[p] / counts[p] for p in sums if counts.get(p)}


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds the process ``pid`` used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_worker(settings: Settings, state: Path, port: int, source: Path | None = None,
                 engine: str = "faust", instance_id: str | None = None
                 ) -> subprocess.Popen[bytes]:
    """``omniroute worker`` (from the source tree ``source`` when given) on ``settings``; a
    static member of its group as ``instance_id`` when given, else a dynamic one (even with
    an OMNIROUTE_INSTANCE_ID in the shell, which several workers would share)."""
    python_path = {"PYTHONPATH": str(source)} if source else {}
    inherited = {k: v for k, v in os.environ.items() if k != "OMNIROUTE_INSTANCE_ID"}
    static = {"OMNIROUTE_INSTANCE_ID": instance_id} if instance_id else {}
    env = {**inherited, **python_path, **static,
           "OMNIROUTE_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
           "OMNIROUTE_WORKER_ENGINE": engine,
           "OMNIROUTE_TOPIC_NAMESPACE": settings.topic_namespace,
           "OMNIROUTE_STATE_DIR": str(state), "OMNIROUTE_METRICS_PORT": str(port),
           "OMNIROUTE_LOG_LEVEL": "warning", "OMNIROUTE_LOG_FORMAT": "json"}
    log = (state / f"worker-{settings.topic_namespace}log").open("ab")
    profile = ["-m", "cProfile", "-o", os.environ["PROFILE"]] if os.environ.get("PROFILE") else []
    return subprocess.Popen([sys.executable, *profile, "-m", "omniroute", "worker"], env=env,
                            stdout=log, stderr=log, stdin=subprocess.DEVNULL)


async def previous_rate(settings: Settings, batch: list[InboundMessage], state: Path,
                        source: Path, engine: str = "faust") -> float:
    """The rate of another version of the worker (``source``: its ``src`` directory)."""
    other = settings.model_copy(update={"topic_namespace": f"{settings.topic_namespace[:-1]}p."})
    await create_topics(other, partitions=PARTITIONS)
    await publish(other, batch)
    process = start_worker(other, state, free_port(), source, engine=engine)
    try:
        return await worker_rate(other, len(batch), 600, process)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)


SCALE_PARTITIONS = 6


WARMUP = [m.model_copy(update={"event_id": f"warm:{i}", "sender": Address(value=f"+1555{i:07d}")})
          for i, m in enumerate(messages(60, 60))]
"""Messages from 60 senders the measured batch does not use (every partition gets some)."""


async def engine_rate(settings: Settings, batch: list[InboundMessage], state: Path,
                      engine: str, senders: int, suffix: str = "e",
                      source: Path | None = None) -> tuple[float, float]:
    """The rate of ``omniroute worker --engine engine`` (own namespace, same messages),
    and its CPU microseconds per message."""
    ns = f"{settings.topic_namespace[:-1]}{suffix}."
    other = settings.model_copy(update={"topic_namespace": ns})
    await create_topics(other, partitions=PARTITIONS)
    await publish(other, batch)
    port = free_port()
    process = start_worker(other, state, port, source, engine=engine)
    try:
        rate = await worker_rate(other, len(batch), 600, process, senders=senders)
        cpu = cpu_seconds(process.pid) / len(batch) * 1e6
        STAGES[ns] = handler_seconds(port)
        return rate, cpu
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)


STAGES: dict[str, dict[str, float]] = {}
"""Per measured namespace: mean handler seconds per record of each stage."""


async def batch_rounds(settings: Settings, batch: list[InboundMessage], state: Path,
                       senders: int, previous: Path | None, rounds: int) -> None:
    """Interleaved rounds of passthrough, this batch worker and ``previous``'s (see doc)."""
    best: dict[str, float] = {}
    base_ns = settings.topic_namespace[:-1]
    for r in range(1, rounds + 1):
        pass_settings = settings.model_copy(update={"topic_namespace": f"{base_ns}r{r}."})
        await create_topics(pass_settings, partitions=PARTITIONS)
        await create_topics(pass_settings, [TopicSpec("bench.passthrough")],
                            partitions=PARTITIONS)
        await publish(pass_settings, batch)
        base = await passthrough(pass_settings, len(batch))
        versions: list[tuple[str, Path | None]] = [("this", None)]
        if previous is not None:
            versions.append(("previous", previous))
            if r % 2 == 0:
                versions.reverse()
        line = [f"round {r}: passthrough {base:7.0f} msg/s"]
        for name, source in versions:
            suffix = f"r{r}{name[0]}"
            rate, cpu = await engine_rate(settings, batch, state, "batch", senders, suffix,
                                          source)
            ratio = rate / base
            best[name] = max(best.get(name, 0.0), ratio)
            ns = f"{base_ns}{suffix}."
            stages = ", ".join(f"{stage} {seconds * 1e6:.0f}"
                               for stage, seconds in sorted(STAGES[ns].items()))
            line.append(f"  {name:8} batch worker {rate:7.0f} msg/s, ratio {ratio:.3f}, "
                        f"CPU {cpu:.0f} us/message (start-up included); handlers us/record: "
                        f"{stages}; {CHECKS.get(ns)}")
        line.append(f"  load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        print("\n".join(line), flush=True)
    print(f"messages: {len(batch)} from {senders} senders (SMS + WhatsApp), "
          f"{PARTITIONS} partitions")
    for name, ratio in best.items():
        where = previous if name == "previous" else "src"
        print(f"best ratio to the same round's passthrough, {name} ({where}): {ratio:.3f}")


async def until_stable(settings: Settings, members: int, timeout: float = 300,
                       engine: str = "faust") -> None:
    """Wait until the worker's consumer group is ``Stable`` with ``members`` members."""
    group_id = settings.topic(APP_ID if engine == "faust" else f"{APP_ID}.batch")
    deadline = time.monotonic() + timeout
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        while time.monotonic() < deadline:
            try:
                [response] = await admin.describe_consumer_groups([group_id])
                group = response.groups[0]  # (error, id, state, protocol type, protocol, members)
                if group[2] == "Stable" and len(group[5]) == members:
                    await asyncio.sleep(2)  # tables recovered from their (empty) changelogs
                    return
            except KafkaError:  # no coordinator for the group yet
                pass
            await asyncio.sleep(0.5)
    finally:
        await admin.close()
    raise SystemExit(f"{members} worker(s) never formed a stable group")


async def scaling(settings: Settings, batch: list[InboundMessage], state: Path, senders: int,
                  scale: int, engine: str = "faust") -> dict[int, tuple[float, str]]:
    """The worker's rate with 1..``scale`` processes on ``SCALE_PARTITIONS`` partitions."""
    found: dict[int, tuple[float, str]] = {}
    for workers in range(1, scale + 1):
        ns = f"{settings.topic_namespace[:-1]}s{workers}."
        other = settings.model_copy(update={"topic_namespace": ns})
        await create_topics(other, partitions=SCALE_PARTITIONS)
        processes = [start_worker(other, state, free_port(), engine=engine)
                     for _ in range(workers)]
        try:
            # joins and rebalances are not measured
            await until_stable(other, workers, engine=engine)
            # every partition's owner has restored its tables and is threading: warm-up
            # messages from other senders on every partition, threaded before the clock starts
            await publish(other, WARMUP)
            await worker_rate(other, len(WARMUP), 300, *processes, prefix="warm:")
            await publish(other, batch)
            rate = await worker_rate(other, len(batch), 900, *processes, senders=senders)
        finally:
            for process in processes:
                process.send_signal(signal.SIGTERM)
            for process in processes:
                process.wait(30)
        found[workers] = (rate, CHECKS[ns])
    return found


async def bench(settings: Settings, count: int, senders: int, state: Path,
                previous: Path | None, scale: int = 0, engine: str = "faust") -> None:
    await create_topics(settings, partitions=PARTITIONS)
    await create_topics(settings, [TopicSpec("bench.passthrough"),
                                   TopicSpec("bench.faust-passthrough")], partitions=PARTITIONS)
    batch = messages(count, senders)
    await publish(settings, batch)
    base = await passthrough(settings, count)
    floor = await faust_rate(settings, count, state)
    port = free_port()
    process = start_worker(settings, state, port)
    try:
        full = await worker_rate(settings, count, 600, process, senders=senders)
        cpu = cpu_seconds(process.pid)
        print(f"  worker CPU (start-up included): {cpu:.1f} s, {cpu / count * 1e6:.0f} us/message")
        for stage, seconds in sorted(handler_seconds(port).items()):
            print(f"  stage {stage}: {seconds * 1e6:8.0f} us/record in the handlers")
        for stage in ("omniroute.internal.customers",):
            print(f"  stage output {stage}: {await topic_rate(settings, stage):8.0f} records/s")
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)
    before = (await previous_rate(settings, batch, state, previous, engine)
              if previous else None)
    other = (await engine_rate(settings, batch, state, engine, senders)
             if engine != "faust" else None)
    scaled = await scaling(settings, batch, state, senders, scale, engine) if scale else {}
    print(f"messages: {count} from {senders} senders (SMS + WhatsApp), {PARTITIONS} partitions")
    print(f"  output checks (this worker): {CHECKS.get(settings.topic_namespace)}")
    print(f"baseline aiokafka consume+produce passthrough: {base:8.0f} messages/s")
    print(f"faust one-hop passthrough + table write:      {floor:8.0f} messages/s")
    print(f"omniroute worker identity + threading:         {full:8.0f} messages/s")
    if before:
        print(f"previous worker ({previous}, {engine}):  {before:8.0f} messages/s"
              f" (ratio {before / base:.3f}; this one x{full / before:.2f})")
    print(f"ratio worker/passthrough: {full / base:.3f} (cost x{base / full:.1f})")
    if other:
        rate, cpu = other
        ns = f"{settings.topic_namespace[:-1]}e."
        print(f"omniroute worker --engine {engine}:            {rate:8.0f} messages/s "
              f"(ratio {rate / base:.3f} of the passthrough; x{rate / full:.2f} of faust's; "
              f"CPU {cpu:.0f} us/message; {CHECKS.get(ns)})")
    print(f"load average (1, 5, 15 min): {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for workers, (rate, checks) in scaled.items():
        print(f"scaling ({engine}): {workers} worker process(es), {SCALE_PARTITIONS} "
              f"partitions: {rate:8.0f} "
              f"messages/s (x{rate / scaled[min(scaled)][0]:.2f} of one; {checks})")
    print(f"ratio worker/faust one-hop: {full / floor:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--senders", type=int, default=500)
    parser.add_argument("--previous", type=Path, default=None,
                        help="another version's src directory (e.g. from git archive), "
                             "measured after this one on the same messages")
    parser.add_argument("--scaling", type=int, default=0, metavar="N",
                        help=f"also measure 1..N worker processes on {SCALE_PARTITIONS} partitions")
    parser.add_argument("--engine", choices=("faust", "batch"), default="faust",
                        help="batch: also measure `omniroute worker --engine batch` on the same "
                             "messages (and use it for --scaling)")
    parser.add_argument("--batch-only", action="store_true",
                        help="leave faust out: interleaved rounds of the passthrough, the batch "
                             "worker and --previous's batch worker")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of --batch-only")
    args = parser.parse_args()
    env = Settings()
    state = Path(tempfile.mkdtemp(prefix="omniroute-bench-identity-"))
    with answering_broker(env.kafka_bootstrap, env.cache_dir, state / "kafka") as bootstrap:
        settings = Settings(kafka_bootstrap=bootstrap, state_dir=state,
                            topic_namespace=f"bench{uuid.uuid4().hex[:6]}.")
        if args.batch_only:
            asyncio.run(batch_rounds(settings, messages(args.messages, args.senders), state,
                                     args.senders, args.previous, args.rounds))
        else:
            asyncio.run(bench(settings, args.messages, args.senders, state, args.previous,
                              args.scaling, args.engine))


if __name__ == "__main__":
    main()
