"""An existing deployment switches from the faust worker to the batch engine.

The batch engine's group has no offsets on such a deployment; it starts each
input where the faust worker's group committed (so nothing faust threaded is
threaded again and nothing after is skipped), and it waits, unready, while a
faust worker still runs.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient

from harness.kafka import consume
from omniroute.contract import Channel, InboundMessage, OutboundMessage
from omniroute.infra.topics import create_topics
from omniroute.settings import Settings
from omniroute.worker.app import APP_ID
from omniroute.worker.batchapp import GROUP

from .conftest import PARTITIONS, Pipeline

FAUST, BATCH = 1, 2
"""The two worker processes' indexes."""
INBOUND = "omniroute.inbound.v1"


async def new_pipeline(kafka_bootstrap: str, tmp_path: Path) -> Pipeline:
    settings = Settings(kafka_bootstrap=kafka_bootstrap, state_dir=tmp_path,
                        topic_namespace=f"s{uuid.uuid4().hex[:10]}.")
    await create_topics(settings, partitions=PARTITIONS)
    return Pipeline(settings=settings, logs=tmp_path, engine="faust")


def messages(make_inbound: Any, ws: str, round_: str) -> list[InboundMessage]:
    """One message from each of five customers (on several channels)."""
    senders = [(Channel.TELEGRAM, "810001"), (Channel.TELEGRAM, "810002"),
               (Channel.SMS, "+14155550101"), (Channel.WHATSAPP, "+14155550102"),
               (Channel.TELEGRAM, "810003")]
    return [make_inbound(ws, channel, sender, text=f"{round_} from {sender}")
            for channel, sender in senders]


async def committed(pipe: Pipeline, group: str) -> dict[str, int]:
    """A group's committed offsets, as ``topic:partition`` (without the namespace)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=pipe.settings.kafka_bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(pipe.settings.topic(group))
    finally:
        await admin.close()
    prefix = pipe.settings.topic_namespace
    return {f"{tp.topic.removeprefix(prefix)}:{tp.partition}": meta.offset
            for tp, meta in sorted(offsets.items()) if meta.offset >= 0}


def scrape(pipe: Pipeline, index: int, path: str) -> tuple[int, str]:
    """``GET path`` on worker ``index``'s operations port: status and body."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{pipe.ports[index]}{path}",
                                    timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def consumed(exposition: str, topic: str) -> float:
    """Records of ``topic`` the worker consumed (every channel)."""
    pattern = re.compile(r'^omniroute_messages_total\{([^}]*)\} ([0-9.e+]+)$', re.M)
    return sum(float(value) for labels, value in pattern.findall(exposition)
               if 'direction="in"' in labels and f'topic="{topic}"' in labels)


async def wait_for(probe: Any, timeout: float = 90.0) -> None:
    """Poll ``probe()`` (a blocking callable) until it is true."""
    deadline = time.monotonic() + timeout
    while not await asyncio.to_thread(probe):
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.5)


async def assert_threaded_once(pipe: Pipeline, ws: str, sent: list[InboundMessage],
                               customers: int) -> None:
    """Every message added exactly once; one conversation (opened once) per customer; no
    outbound message twice."""
    ids = {m.event_id for m in sent}
    await pipe.added(ws, ids)
    await asyncio.sleep(3.0)  # a replay would show up now
    added = await pipe.events_so_far(ws, kind="message_added")
    counts = Counter(e.message.source_event_id for e in added if e.message)
    assert set(counts) == ids
    assert [i for i, n in counts.items() if n > 1] == []
    opened = await pipe.events_so_far(ws, kind="opened")
    assert len(opened) == customers
    assert len({e.conversation_id for e in added}) == customers
    assert len({e.customer_id for e in added}) == customers
    outbound = await consume(pipe.settings.kafka_bootstrap, pipe.topic("omniroute.outbound.v1"),
                             10**6, timeout=2.0)
    replies = Counter(OutboundMessage.from_json_bytes(r.value).event_id for r in outbound)
    assert [i for i, n in replies.items() if n > 1] == []


def adopted_offsets(log: Path) -> dict[str, int]:
    """The offsets the batch worker logged as taken over from the faust group."""
    found: dict[str, int] = {}
    for line in log.read_text().splitlines():
        if '"worker.offsets_adopted"' in line:
            found.update(json.loads(line)["offsets"])
    return found


async def test_a_switch_threads_every_message_once_starting_where_faust_committed(
        kafka_bootstrap: str, tmp_path: Path, make_inbound: Any) -> None:
    """faust threads the first messages and stops; the batch engine threads only the later
    ones, starting each input at faust's commit, which it commits as its own."""
    pipe = await new_pipeline(kafka_bootstrap, tmp_path)
    ws = "switch"
    first, later = messages(make_inbound, ws, "first"), messages(make_inbound, ws, "later")
    try:
        pipe.start(FAUST)
        await pipe.send(*first)
        await pipe.added(ws, {m.event_id for m in first})
        pipe.stop_all()
        faust = await committed(pipe, APP_ID)
        assert sum(faust.get(f"{INBOUND}:{p}", 0) for p in range(PARTITIONS)) == len(first)

        await pipe.send(*later)
        pipe.engine = "batch"
        pipe.start(BATCH)
        await assert_threaded_once(pipe, ws, first + later, customers=5)
        exposition = (await asyncio.to_thread(scrape, pipe, BATCH, "/metrics"))[1]
        assert consumed(exposition, INBOUND) == len(later)  # none of faust's again
        assert 'omniroute_legacy_group_active{component="worker"} 0.0' in exposition
        batch = await committed(pipe, GROUP)
        # nothing can adopt from the faust group now: it is deleted, so its frozen
        # offsets no longer show as lag growing with every record
        deadline = time.monotonic() + 60
        while (await pipe.group_state(pipe.settings.topic(APP_ID)))[0] != "Dead":
            assert time.monotonic() < deadline, "the faust group was never retired"
            await asyncio.sleep(1.0)
        assert await committed(pipe, APP_ID) == {}
        after = messages(make_inbound, ws, "after")  # still threaded, once, after it
        await pipe.send(*after)
        await assert_threaded_once(pipe, ws, first + later + after, customers=5)
    finally:
        pipe.stop_all()
    adopted = adopted_offsets(pipe.logs / f"worker{BATCH}.log")
    print(f"\nfaust group: {faust}\nadopted by the batch engine: {adopted}\n"
          f"batch group after: {batch}")
    prefix = pipe.settings.topic_namespace
    assert {key.removeprefix(prefix): offset for key, offset in adopted.items()} == faust
    for key, offset in faust.items():  # adopted, committed, and moved on where records came
        assert batch[key] >= offset
    assert sum(batch.get(f"{INBOUND}:{p}", 0) for p in range(PARTITIONS)) == len(first + later)


async def test_the_batch_engine_waits_while_a_faust_worker_runs(
        kafka_bootstrap: str, tmp_path: Path, make_inbound: Any) -> None:
    """Started beside a running faust worker, the batch worker processes nothing and is not
    ready; once faust stops it takes over where faust committed."""
    pipe = await new_pipeline(kafka_bootstrap, tmp_path)
    ws = "beside"
    first, later = messages(make_inbound, ws, "first"), messages(make_inbound, ws, "later")
    log = pipe.logs / f"worker{BATCH}.log"
    try:
        pipe.start(FAUST)
        await pipe.send(*first[:2])
        await pipe.added(ws, {m.event_id for m in first[:2]})
        pipe.engine = "batch"
        pipe.start(BATCH)
        await wait_for(lambda: log.exists() and "worker.legacy_group_active" in log.read_text())
        await pipe.send(*first[2:])  # faust's alone
        await pipe.added(ws, {m.event_id for m in first})
        status, body = await asyncio.to_thread(scrape, pipe, BATCH, "/readyz")
        assert status == 503 and "legacy_worker" in body
        exposition = (await asyncio.to_thread(scrape, pipe, BATCH, "/metrics"))[1]
        assert 'omniroute_legacy_group_active{component="worker"} 1.0' in exposition
        assert consumed(exposition, INBOUND) == 0
        line = next(json.loads(text) for text in log.read_text().splitlines()
                    if '"worker.legacy_group_active"' in text)
        assert line["group"] == pipe.settings.topic(APP_ID) and line["level"] == "error"

        faust = pipe.processes.pop(FAUST)
        faust.terminate()
        faust.wait(30)
        await pipe.send(*later)
        await assert_threaded_once(pipe, ws, first + later, customers=5)
        await wait_for(lambda: scrape(pipe, BATCH, "/readyz")[0] == 200)
        exposition = (await asyncio.to_thread(scrape, pipe, BATCH, "/metrics"))[1]
        assert consumed(exposition, INBOUND) == len(later)
        assert 'omniroute_legacy_group_active{component="worker"} 0.0' in exposition
    finally:
        pipe.stop_all()
