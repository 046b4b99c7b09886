"""Restore after a snapshot: the latest snapshot plus only the tail of the pool stream."""

from __future__ import annotations

import asyncio
import pickle

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from harness.kafka import consume, produce
from omniroute.contract.agents import AgentEvent
from omniroute.routing.config import parse_config
from omniroute.routing.engine import decide
from omniroute.routing.events import Tick
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
    stop = asyncio.Event()
    await publish_config(settings, CONFIG, actor="test")
    tasks = [asyncio.create_task(run_repartition(settings, "s", stop)),
             asyncio.create_task(run_decide(settings, "s", stop, tick_interval=0.5,
                                            snapshot_every=10))]
    try:
        await produce(boot, settings.topic("omniroute.agent-events.v1"), [(b"ann", AgentEvent(
            event_id="login", agent_id="ann", kind="presence",
            presence="available").to_json_bytes())])
        await produce(boot, settings.topic("omniroute.internal.routing-requests"), [
            (f"c{n}".encode(), RoutingRequest(
                event_id=f"rr-{n}", kind="route", conversation_id=f"c{n}", customer_id="u",
                channel="webchat").to_json_bytes()) for n in range(40)])
        await consume(boot, settings.topic("omniroute.assignments.v1"), 5, timeout=40)
        await consume(boot, settings.topic(SNAPSHOTS), 2, timeout=40)
    finally:
        stop.set()
        await asyncio.gather(*tasks)
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
    reader_logs: list[int] = []
    original_replay = decider.replay

    async def counting_replay(*args: object) -> int:
        replayed = await original_replay(*args)  # type: ignore[arg-type]
        reader_logs.append(replayed)
        return replayed

    decider.replay = counting_replay  # type: ignore[method-assign]
    pools = await decider.restore(tp, until)
    assert 0 <= reader_logs[0] < inputs - 10, (reader_logs, inputs)
    assert projection(pools["solo"]) == projection(full["solo"])
    later = Tick(at=pools["solo"].now + 7200, event_id="later")
    twin = pickle.loads(pickle.dumps(full["solo"]))
    assert decide(pools["solo"], later)[1] == decide(twin, later)[1]
