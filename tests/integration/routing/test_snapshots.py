"""Restore after a snapshot: the latest snapshot plus only the tail of the pool stream."""

from __future__ import annotations

import asyncio
import pickle

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, RecordsToDelete

from harness.kafka import consume, produce
from omniroute.contract.agents import AgentEvent
from omniroute.routing.config import parse_config
from omniroute.routing.engine import decide
from omniroute.routing.events import Route, Tick
from omniroute.routing.live import publish_config
from omniroute.routing.processor import (
    POOL_TOPIC,
    SNAPSHOTS,
    Decider,
    Loop,
    run_decide,
    run_repartition,
)
from omniroute.routing.requests import RoutingRequest
from omniroute.routing.state import PoolState
from omniroute.routing.wire import to_core
from omniroute.settings import Settings

CONFIG = parse_config({
    "pools": {"solo": {"offer_timeout_s": 3600, "heartbeat_grace_s": 3600}},
    "agents": {"ann": {"pool": "solo", "capacity": 5}}})


async def committed(settings: Settings) -> tuple[TopicPartition, int]:
    """The decide group's committed offset of the one pool-stream partition it used."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(
            settings.topic("omniroute-router-decide"))
    finally:
        await admin.close()
    (found,) = [(tp, meta.offset) for tp, meta in offsets.items() if meta.offset > 0]
    return found


def route_requests(count: int) -> list[tuple[bytes, bytes]]:
    """``count`` route requests for conversations c0, c1, ... (keyed by conversation)."""
    return [(f"c{n}".encode(), RoutingRequest(
        event_id=f"rr-{n}", kind="route", conversation_id=f"c{n}", customer_id="u",
        channel="webchat").to_json_bytes()) for n in range(count)]


async def route_to_ann(settings: Settings, requests: int, snapshots: int = 0,
                       **decide: int) -> None:
    """Run a router until ann, signed in, holds five of ``requests`` conversations (and
    ``snapshots`` snapshot records were written meanwhile), then stop it cleanly."""
    boot = settings.kafka_bootstrap
    stop = asyncio.Event()
    await publish_config(settings, CONFIG, actor="test")
    tasks = [asyncio.create_task(run_repartition(settings, "s", stop)),
             asyncio.create_task(run_decide(settings, "s", stop, tick_interval=0.5, **decide))]
    try:
        await produce(boot, settings.topic("omniroute.agent-events.v1"), [(b"ann", AgentEvent(
            event_id="login", agent_id="ann", kind="presence",
            presence="available").to_json_bytes())])
        await produce(boot, settings.topic("omniroute.internal.routing-requests"),
                      route_requests(requests))
        await consume(boot, settings.topic("omniroute.assignments.v1"), 5, timeout=40)
        if snapshots:
            await consume(boot, settings.topic(SNAPSHOTS), snapshots, timeout=40)
    finally:
        stop.set()
        await asyncio.gather(*tasks)


def count_replays(decider: Decider) -> list[int]:
    """The number of inputs each replay of ``decider``'s restores goes through, as they run."""
    counts: list[int] = []
    original_replay = decider.replay

    async def counting_replay(*args: object) -> int:
        replayed = await original_replay(*args)  # type: ignore[arg-type]
        counts.append(replayed)
        return replayed

    decider.replay = counting_replay  # type: ignore[method-assign]
    return counts


def projection(state):
    """What a pool's state means: clock, sequence, version, work and agent loads."""
    return (state.now, state.seq, state.version, state.queued,
            {w: (i.status, i.agent_id, i.offer_id) for w, i in state.work.items()},
            {a: (s.load, s.presence, s.idle_since) for a, s in state.agents.items()})


async def test_restore_loads_the_snapshot_and_replays_only_the_tail(topics: Settings) -> None:
    """With snapshots every 10 inputs, a restore replays fewer inputs than the partition
    holds, and yields the same pool (and the same next decisions) as a full replay."""
    settings = topics
    boot = settings.kafka_bootstrap
    await route_to_ann(settings, 40, snapshots=2, snapshot_every=10)
    tp, until = await committed(settings)
    assert tp.topic == settings.topic(POOL_TOPIC)
    decider = Decider(settings, Loop(settings, "decide", [POOL_TOPIC], "probe"))
    full: dict[str, PoolState] = {}
    reader = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap,
                              isolation_level="read_committed")
    await reader.start()
    try:  # the model: every committed input from the beginning
        inputs = await decider.replay(reader, tp, full, {}, 0, until)
    finally:
        await reader.stop()
    reader_logs = count_replays(decider)
    pools, _ = await decider.restore(tp, until)
    replayed = reader_logs[0] if reader_logs else 0  # none: the snapshot is at the commit
    assert 0 <= replayed < inputs - 10, (reader_logs, inputs)
    assert projection(pools["solo"]) == projection(full["solo"])
    later = Tick(at=pools["solo"].now + 7200, event_id="later")
    twin = pickle.loads(pickle.dumps(full["solo"]))
    assert decide(pools["solo"], later)[1] == decide(twin, later)[1]
    # committed offsets expired (or a new group): the latest snapshot round says where the
    # router was; its pools equal a full replay up to there, and consuming resumes there
    resumed, position = await decider.restore(tp, None)
    assert position is not None and 0 < position <= until
    reader = AIOKafkaConsumer(bootstrap_servers=boot, group_id=None, enable_auto_commit=False,
                              isolation_level="read_committed")
    await reader.start()
    try:
        upto: dict[str, PoolState] = {}
        await decider.replay(reader, tp, upto, {}, 0, position)
    finally:
        await reader.stop()
    assert projection(resumed["solo"]) == projection(upto["solo"])


async def test_trimming_deletes_what_snapshots_cover_and_restore_still_works(
        topics: Settings) -> None:
    """With --trim-stream, the pool stream starts after the previous snapshot round, and a
    restore from the snapshots yields the pool without the deleted records."""
    settings = topics
    boot = settings.kafka_bootstrap
    stop = asyncio.Event()
    await publish_config(settings, CONFIG, actor="test")
    tasks = [asyncio.create_task(run_repartition(settings, "t", stop)),
             asyncio.create_task(run_decide(settings, "t", stop, tick_interval=0.5,
                                            snapshot_every=10, trim=True))]
    try:
        await produce(boot, settings.topic("omniroute.internal.routing-requests"),
                      route_requests(60))
        await consume(boot, settings.topic(SNAPSHOTS), 3, timeout=40)
        await asyncio.sleep(3)
    finally:
        stop.set()
        await asyncio.gather(*tasks)
    tp, until = await committed(settings)
    reader = AIOKafkaConsumer(bootstrap_servers=boot, group_id=None)
    await reader.start()
    try:
        log_start = (await reader.beginning_offsets([tp]))[tp]
    finally:
        await reader.stop()
    assert 0 < log_start <= until
    decider = Decider(settings, Loop(settings, "decide", [POOL_TOPIC], "probe"))
    pools, _ = await decider.restore(tp, until)
    assert pools["solo"].queued == 60


async def test_a_stream_that_expired_under_its_snapshots_restores_what_is_left(
        topics: Settings) -> None:
    """The pool stream is bounded by the personal-data retention: when its start has
    passed everything restore would need (a router stopped for longer than the bound),
    the pool is rebuilt from the records that are left and routing goes on.

    Failed before: restore raised "no usable snapshot" and the router could not start."""
    settings = topics
    boot = settings.kafka_bootstrap
    stop = asyncio.Event()
    await publish_config(settings, CONFIG, actor="test")
    tasks = [asyncio.create_task(run_repartition(settings, "t", stop)),
             asyncio.create_task(run_decide(settings, "t", stop, tick_interval=0.5,
                                            snapshot_every=1_000_000))]
    try:
        await produce(boot, settings.topic("omniroute.internal.routing-requests"),
                      route_requests(40))
        await consume(boot, settings.topic(POOL_TOPIC), 40, timeout=60,
                      where=lambda record: isinstance(to_core(record.value)[1], Route))
        await asyncio.sleep(3)  # decided and committed
    finally:
        tasks[1].cancel()  # dies: no snapshot on the way out (a clean stop writes one)
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
    tp, until = await committed(settings)
    cut = until // 2
    admin = AIOKafkaAdminClient(bootstrap_servers=boot)
    await admin.start()
    try:  # what Kafka's retention does to the oldest segments
        await admin.delete_records({tp: RecordsToDelete(cut)})
    finally:
        await admin.close()
    left = [record for record in await consume(boot, tp.topic, 10**6, timeout=10)
            if record.partition == tp.partition and record.offset < until]
    assert left and min(record.offset for record in left) >= cut  # (cut: maybe a marker)
    routes_left = sum(isinstance(to_core(record.value)[1], Route) for record in left)
    decider = Decider(settings, Loop(settings, "decide", [POOL_TOPIC], "probe"))
    pools, _ = await decider.restore(tp, until)
    assert pools["solo"].queued == routes_left < 40


async def test_a_clean_stop_leaves_a_snapshot_at_the_committed_offset(topics: Settings) -> None:
    """A router stopped cleanly (SIGTERM, Ctrl-C of ``omniroute up``) snapshots what it
    decided, so the next one, possibly a new version with other rules, restores that state
    and replays nothing. Without it a user run's upgraded router replayed the whole stream
    with its new rules and believed an agent held three conversations the old router had
    taken back, so she was offered nothing."""
    settings = topics
    boot = settings.kafka_bootstrap
    await route_to_ann(settings, 8)
    tp, until = await committed(settings)
    snapshots = await consume(boot, settings.topic(SNAPSHOTS), 1, timeout=10)
    assert snapshots, "no snapshot on a clean stop (default snapshot_every: 5000 inputs)"
    decider = Decider(settings, Loop(settings, "decide", [POOL_TOPIC], "probe"))
    replays = count_replays(decider)
    pools, _ = await decider.restore(tp, until)
    assert sum(replays) == 0, replays
    assert pools["solo"].agents["ann"].load == 5
