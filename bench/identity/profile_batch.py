"""CPU per message of the batch engine's handlers, in process, without a broker.

Run: ``.venv/bin/python bench/identity/profile_batch.py [--messages 5000] [--senders 500]
[--rounds 3] [--profile /tmp/batch.prof]``.

Drives :class:`~omniroute.worker.batchapp.BatchWorker` the way
:class:`~omniroute.worker.engine.BatchLoop` does, on the messages of
``bench_identity.py``: batches of inbound records (``MAX_RECORDS``) handled per
partition number with :data:`~omniroute.worker.state.CURRENT` set, then the
records they sent to ``omniroute.internal.customers`` (partitioned as the
producer would) as the next batch, and so on until nothing is sent; each
batch ends with what a commit encodes (every table's changes). Kafka's own
cost (fetch, produce, transactions) is not in these figures: the bench's
passthrough measures that. Prints microseconds of CPU per inbound message
(best of ``--rounds``, each on a fresh worker) and, with ``--profile``, writes
a cProfile of the last round.

``--dump FILE`` writes every record the handlers sent and every changelog
record, in order, to ``FILE`` (fixed times, and the texts of the triage golden
file in turn, so more of automation runs). Run it with ``PYTHONPATH`` at
another version's ``src`` and compare the two files: the same bytes mean the
same behaviour on these inputs.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import json
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiokafka import ConsumerRecord
from aiokafka.partitioner import murmur2

import omniroute.worker.batchapp as batchapp
from omniroute.observability.logs import configure_logging
from omniroute.settings import LogFormat, Settings
from omniroute.worker.batchapp import BatchWorker
from omniroute.worker.engine import MAX_RECORDS
from omniroute.worker.state import CURRENT, Pending

sys.path.insert(0, str(Path(__file__).parent))
from bench_identity import PARTITIONS, messages

Sent = tuple[str, bytes | None, bytes]
START = datetime(2026, 12, 3, 6, 0, tzinfo=UTC)
"""Every message's time in a dump (one millisecond apart), and the records' timestamps."""
GOLDEN = Path(__file__).parents[2] / "tests" / "unit" / "triage" / "golden_triage.jsonl"


def partition_of(key: bytes | None) -> int:
    """The partition aiokafka's default partitioner picks for ``key``."""
    assert key is not None
    return (murmur2(key) & 0x7FFFFFFF) % PARTITIONS


async def handle_batch(worker: BatchWorker, records: list[ConsumerRecord],
                       dump: list[bytes] | None = None) -> list[Sent]:
    """One batch as the loop handles it; what it sent (unprefixed topic, key, value)."""
    by_number: dict[int, list[ConsumerRecord]] = {}
    for record in records:
        by_number.setdefault(record.partition, []).append(record)
    worker.prepare_batch(records)
    sent: list[Sent] = []
    for partition, mine in sorted(by_number.items()):
        pending = Pending(partition)
        token = CURRENT.set(pending)
        try:
            for record in mine:
                await worker.handle(record)
        finally:
            CURRENT.reset(token)
        for table in worker.app.tables.values():
            changes = table.changes(partition)
            if dump is not None:
                dump.extend(b"%s %d %r %r" % (table.name.encode(), partition, key, value)
                            for key, value in changes)
        if dump is not None:
            dump.extend(b"%s %r %r" % (name.encode(), key, value)
                        for name, key, value, _ in pending.records)
        sent.extend((name, key, value) for name, key, value, _ in pending.records)
    finish = getattr(worker, "finish_batch", None)  # not in every version
    if finish is not None:
        finish()
    return sent


def as_records(worker: BatchWorker, sent: list[Sent], offsets: dict[str, int],
               stamp: int) -> list[ConsumerRecord]:
    """The records ``sent`` as a consumer would read them back."""
    found = []
    for name, key, value in sent:
        topic = worker.topic(name)
        if topic not in worker.agents:
            continue
        offset = offsets[topic] = offsets.get(topic, -1) + 1
        found.append(ConsumerRecord(topic, partition_of(key), offset, stamp, 0, key, value,
                                    None, len(key or b""), len(value), ()))
    return found


def inbound(count: int, senders: int, varied: bool) -> list[Sent]:
    """The bench's messages as records (``varied``: fixed times, the golden file's texts)."""
    found = messages(count, senders)
    if varied:
        texts = [json.loads(line)["text"] or "x" for line in GOLDEN.read_text().splitlines()]
        found = [m.model_copy(update={"occurred_at": START + timedelta(milliseconds=i),
                                      "text": texts[i % len(texts)]})
                 for i, m in enumerate(found)]
    return [("omniroute.inbound.v1", m.kafka_key.encode(), m.to_json_bytes()) for m in found]


class Collections:
    """CPU seconds the garbage collector took while :attr:`on`."""

    def __init__(self) -> None:
        self.on = False
        self.seconds = 0.0
        self.started = 0.0
        gc.callbacks.append(self.observe)

    def observe(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self.started = time.process_time()
        elif self.on:
            self.seconds += time.process_time() - self.started


COLLECTIONS = Collections()


async def run(count: int, senders: int, dump: list[bytes] | None = None
              ) -> tuple[float, dict[str, int]]:
    """Seconds of CPU to take ``count`` inbound messages through every hop, and the records
    sent per topic."""
    state = Path(tempfile.mkdtemp(prefix="omniroute-profile-batch-"))
    settings = Settings(state_dir=state, topic_namespace="prof.")
    worker = batchapp.build(settings, PARTITIONS)
    entry = worker.components.get("routing-entry")  # since 2026-12-03
    if entry is not None:
        # nothing follows the configuration topic here: the built-in configuration is the
        # live one (as in `omniroute up` before any change); without this, every routing
        # request waited routes.READY_TIMEOUT for a version (the bench hung since the
        # bot's gate of 2026-12-05 waits for it)
        entry.live.ready.set()
    try:  # as `omniroute worker` does (where, depends on the version under PYTHONPATH)
        from omniroute.infra.collector import tune_collector
    except ImportError:
        tune_collector = getattr(batchapp, "tune_collector", lambda: None)
    tune_collector()
    stamp = int((START if dump is not None else datetime.now(UTC)).timestamp() * 1000)
    records = inbound(count, senders, dump is not None)
    offsets: dict[str, int] = {}
    totals: dict[str, int] = {}
    gc.collect()  # the previous round's worker
    started = time.process_time()
    COLLECTIONS.on, COLLECTIONS.seconds = True, 0.0
    for first in range(0, len(records), MAX_RECORDS):
        todo = as_records(worker, records[first:first + MAX_RECORDS], offsets, stamp)
        while todo:
            sent = await handle_batch(worker, todo, dump)
            for name, _, _ in sent:
                totals[name] = totals.get(name, 0) + 1
            todo = as_records(worker, sent, offsets, stamp)
    COLLECTIONS.on = False
    return time.process_time() - started, totals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--senders", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", type=Path, default=None)
    parser.add_argument("--dump", type=Path, default=None)
    args = parser.parse_args()
    configure_logging("warning", LogFormat.JSON)  # as the bench runs the worker
    if args.dump:
        dump: list[bytes] = []
        asyncio.run(run(args.messages, args.senders, dump))
        args.dump.write_bytes(b"\n".join(dump) + b"\n")
        print(f"{len(dump)} records written to {args.dump}")
        return
    best = float("inf")
    for r in range(args.rounds):
        profiler = cProfile.Profile() if args.profile and r == args.rounds - 1 else None
        if profiler:
            profiler.enable()
        seconds, totals = asyncio.run(run(args.messages, args.senders))
        if profiler:
            profiler.disable()
            profiler.dump_stats(str(args.profile))
        best = min(best, seconds)
        print(f"round {r + 1}: {seconds / args.messages * 1e6:.1f} us CPU/message (garbage "
              f"collection {COLLECTIONS.seconds / args.messages * 1e6:.1f}); sent {totals}",
              flush=True)
    print(f"best: {best / args.messages * 1e6:.1f} us CPU/message "
          f"({args.messages} messages, {args.senders} senders)")


if __name__ == "__main__":
    main()
