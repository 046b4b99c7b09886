"""The batch engine's loop on a real broker, with a processor written for the test.

A counter per key (a changelog-backed table) and one output record per input
carrying the count show what happened exactly once: a retriable failure
(Kafka or a database away) aborts the partition's batch and re-reads it onto
the restored table, so the output holds each count once, in order; a record
the handler refuses is a dead letter and the partition goes on; a second loop
(a restart) restores the counts from the changelog and continues them.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

from harness.cli import omniroute_env, run_omniroute
from harness.kafka import consume, produce
from harness.ports import free_port
from omniroute.contract import DeadLetter
from omniroute.contract.topics import DLQ
from omniroute.errors import DatabaseError
from omniroute.infra.topics import TopicSpec, create_topics
from omniroute.settings import Settings
from omniroute.worker.batchapp import GROUP, BatchWorker
from omniroute.worker.engine import BatchLoop
from omniroute.worker.topology import CUSTOMERS, changelog_topic, ensure_changelogs

PARTITIONS = 3
IN, OUT = "test.batch-in", "test.batch-out"


def counter(settings: Settings, failures: Counter[str]) -> BatchWorker:
    """A worker whose processor counts records per key; ``failures[key]`` retriable
    failures are raised for ``key`` (after its table write) before it succeeds."""
    worker = BatchWorker(settings=settings, partitions=PARTITIONS)
    counts = worker.table("test-counts")

    async def handle(event: Any) -> str | None:
        if event.value == b"poison":
            raise ValueError("not a count")
        key = event.key.decode()
        counts[key] = (counts.get(key) or 0) + 1
        if failures[key] > 0:
            failures[key] -= 1
            raise DatabaseError("the database is away")
        await worker.send(OUT, key, f"{key}={counts[key]}".encode())
        return None

    worker.agent(IN, "test.counter", handle, stage="test")
    return worker


async def run_until(settings: Settings, worker: BatchWorker, outputs: int) -> list[bytes]:
    """Run a loop of ``worker`` until ``outputs`` records are on the output topic."""
    loop = BatchLoop(settings, settings.topic(GROUP), sorted(worker.agents),
                     list(worker.app.tables.values()), worker.handle)
    stop = asyncio.Event()
    task = asyncio.create_task(loop.run(stop))
    try:
        records = await consume(settings.kafka_bootstrap, settings.topic(OUT), outputs,
                                timeout=120.0)
        await asyncio.sleep(2.0)  # anything more (a replay) would show up now
        records = await consume(settings.kafka_bootstrap, settings.topic(OUT), 10**6,
                                timeout=3.0)
    finally:
        stop.set()
        await asyncio.wait_for(task, 60)
    return [record.value for record in records]


async def test_retries_dead_letters_and_restarts_give_every_count_once(
        kafka_bootstrap: str, namespace: str, tmp_path: Path) -> None:
    settings = Settings(kafka_bootstrap=kafka_bootstrap, topic_namespace=namespace,
                        state_dir=tmp_path)
    await create_topics(settings, [TopicSpec(IN), TopicSpec(OUT), TopicSpec(DLQ.name)],
                        partitions=PARTITIONS)
    await ensure_changelogs(settings, ["test-counts"], PARTITIONS)
    keys = [f"k{n}" for n in range(6)]
    records = [(key.encode(), b"+1") for _ in range(5) for key in keys]
    records.insert(7, (b"k1", b"poison"))
    await produce(kafka_bootstrap, settings.topic(IN), records)

    failures: Counter[str] = Counter({"k2": 2, "k4": 1})
    first = await run_until(settings, counter(settings, failures), 30)
    assert failures == Counter({"k2": 0, "k4": 0})  # the failures happened
    assert sorted(first) == sorted(f"{k}={n}".encode() for n in range(1, 6) for k in keys)
    for key in keys:  # each key's counts in order, once each
        assert [v for v in first if v.startswith(f"{key}=".encode())] == [
            f"{key}={n}".encode() for n in range(1, 6)]
    letters = await consume(kafka_bootstrap, settings.topic(DLQ.name), 10, timeout=3.0)
    assert len(letters) == 1
    letter = DeadLetter.from_json_bytes(letters[0].value)
    assert letter.processor == "test.counter" and "not a count" in letter.error
    assert (await consume(kafka_bootstrap, changelog_topic_of(settings), 1,
                          timeout=10.0)) != []

    await produce(kafka_bootstrap, settings.topic(IN), [(key.encode(), b"+1") for key in keys])
    second = await run_until(settings, counter(settings, Counter()), 36)
    assert len(second) == 36 and Counter(second) - Counter(first) == Counter(
        f"{k}=6".encode() for k in keys)  # the counts were restored, not started over


def changelog_topic_of(settings: Settings) -> str:
    return settings.topic(changelog_topic("test-counts"))


async def test_the_batch_worker_refuses_topics_that_are_not_co_partitioned(
        kafka_bootstrap: str, namespace: str, tmp_path: Path) -> None:
    """An input with fewer partitions than inbound: the batch worker says so and exits."""
    settings = Settings(kafka_bootstrap=kafka_bootstrap, topic_namespace=namespace,
                        state_dir=tmp_path)
    await create_topics(settings, [TopicSpec(CUSTOMERS)], partitions=2)
    await create_topics(settings, partitions=PARTITIONS)
    env = omniroute_env(OMNIROUTE_KAFKA_BOOTSTRAP=kafka_bootstrap,
                        OMNIROUTE_TOPIC_NAMESPACE=namespace, OMNIROUTE_STATE_DIR=str(tmp_path),
                        OMNIROUTE_METRICS_PORT=str(free_port()))
    done = await asyncio.to_thread(run_omniroute, "worker", "--engine", "batch", env=env)
    assert done.returncode != 0
    assert "needs 3 partitions on every input and changelog topic" in done.stderr
    assert f"'{CUSTOMERS}': 2" in done.stderr
