"""SIGKILL the router during a burst, restart it, and compare what it published with
the pure core replaying the committed pool streams: equal, byte for byte."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import urllib.request
from collections import defaultdict
from pathlib import Path

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from harness.kafka import consume, produce
from harness.ports import free_port
from omniroute.contract.agents import AgentEvent
from omniroute.contract.assignments import AssignmentEvent
from omniroute.routing.config import BUILTIN
from omniroute.routing.engine import decide, new_pool
from omniroute.routing.entry import Entry
from omniroute.routing.events import Route
from omniroute.routing.live import LiveConfig
from omniroute.routing.policy import PoolPolicy
from omniroute.routing.requests import RoutingRequest
from omniroute.routing.state import PoolState
from omniroute.routing.wire import POOL_TOPIC, outputs, to_core
from omniroute.settings import Settings

POOLS = ("p0", "p1", "p2", "p3")
AGENTS = {f"{pool}-a{i}": pool for pool in POOLS for i in range(3)}
CONFIG = "\n".join(
    [f"[pools.{p}]\noffer_timeout_s = 3600\nheartbeat_grace_s = 3600\n" for p in POOLS]
    + [f'[agents.{a}]\npool = "{p}"\ncapacity = 3\nauto_accept = {str(i % 2 == 0).lower()}\n'
       for i, (a, p) in enumerate(AGENTS.items())])
BURST = 600


def start_router(settings: Settings, config: Path, tmp: Path,
                 metrics_port: int = 0) -> subprocess.Popen[bytes]:
    env = dict(os.environ, OMNIROUTE_KAFKA_BOOTSTRAP=settings.kafka_bootstrap,
               OMNIROUTE_TOPIC_NAMESPACE=settings.topic_namespace,
               OMNIROUTE_METRICS_PORT=str(metrics_port or free_port()),
               OMNIROUTE_LOG_FORMAT="json", OMNIROUTE_STATE_DIR=str(tmp))
    log = (tmp / "router.log").open("ab")
    return subprocess.Popen([sys.executable, "-m", "omniroute", "router", "run", "--config",
                             str(config), "--tick", "0.2", "--snapshot-every", "40"],
                            env=env, stdout=log, stderr=log)


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics") as response:
        return response.read().decode()


def inputs(start: int, stop: int) -> tuple[list[tuple[bytes, bytes]], list[tuple[bytes, bytes]],
                                          list[tuple[bytes, bytes]]]:
    """Requests for conversations start..stop: through the router's repartition hop (even
    ones) and written straight into their pools as the worker writes them (odd ones); and
    resolves aimed at earlier conversations."""
    entry = Entry(LiveConfig(BUILTIN, 1))
    entry.live.ready.set()
    requests, direct, agent_events = [], [], []
    for n in range(start, stop):
        pool = POOLS[n % len(POOLS)]
        req = RoutingRequest(event_id=f"rr-{n}", kind="route", conversation_id=f"c{n}",
                             customer_id=f"u{n}", channel="webchat", pool=pool,
                             priority=n % 3)
        if n % 2:
            _, key, value = entry.record(req)
            direct.append((key, value))
        else:
            requests.append((req.conversation_id.encode(), req.to_json_bytes()))
        if n % 5 == 0 and n >= 20:
            agent = f"{POOLS[(n - 20) % len(POOLS)]}-a{n % 3}"
            event = AgentEvent(event_id=f"res-{n}", agent_id=agent, kind="resolve",
                               conversation_id=f"c{n - 20}")
            agent_events.append((agent.encode(), event.to_json_bytes()))
    return requests, direct, agent_events


async def committed_offsets(settings: Settings) -> dict[TopicPartition, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(
            settings.topic("omniroute-router-decide"))
    finally:
        await admin.close()
    return {tp: meta.offset for tp, meta in offsets.items()}


async def model(settings: Settings, committed: dict[TopicPartition, int]) -> tuple[
        dict[str, list[bytes]], dict[str, PoolState], set[str]]:
    """Replay every committed pool-stream input through the pure core: the assignment
    records it publishes per agent, the final pools, and the conversations routed."""
    expected: dict[str, list[bytes]] = defaultdict(list)
    pools: dict[str, PoolState] = {}
    routed: set[str] = set()
    reader = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, group_id=None,
                              isolation_level="read_committed", enable_auto_commit=False)
    await reader.start()
    try:
        for tp, until in sorted(committed.items()):
            reader.assign([tp])
            await reader.seek_to_beginning(tp)
            while await reader.position(tp) < until:
                for records in (await reader.getmany(tp, timeout_ms=500)).values():
                    for record in (r for r in records if r.offset < until):
                        pool, event = to_core(record.value)
                        state = pools.setdefault(pool, new_pool(PoolPolicy(pool=pool)))
                        if isinstance(event, Route):
                            routed.add(event.work_id)
                        for decision in decide(state, event)[1]:
                            for topic, key, value in outputs(decision, settings.workspace):
                                if topic == "omniroute.assignments.v1":
                                    expected[key.decode()].append(value)
    finally:
        await reader.stop()
    return expected, pools, routed


async def test_sigkill_during_burst_loses_and_duplicates_nothing(
        topics: Settings, tmp_path: Path) -> None:
    """After SIGKILL and restart, the assignments topic equals the model's decisions exactly,
    and every agent's load equals the conversations the topic says they hold; half the
    requests came through the repartition hop, half were written straight into their pools."""
    settings = topics
    config = tmp_path / "routing.toml"
    config.write_text(CONFIG)
    boot = settings.kafka_bootstrap
    requests_topic = settings.topic("omniroute.internal.routing-requests")
    pools_topic = settings.topic(POOL_TOPIC)
    agents_topic = settings.topic("omniroute.agent-events.v1")
    assignments_topic = settings.topic("omniroute.assignments.v1")
    router = start_router(settings, config, tmp_path)
    try:
        await produce(boot, agents_topic, [
            (a.encode(), AgentEvent(event_id=f"login-{a}", agent_id=a, kind="presence",
                                    presence="available").to_json_bytes()) for a in AGENTS])
        requests, direct, resolves = inputs(0, BURST // 2)
        await asyncio.gather(produce(boot, requests_topic, requests),
                             produce(boot, pools_topic, direct),
                             produce(boot, agents_topic, resolves))
        await consume(boot, assignments_topic, 30, timeout=60)
        await consume(boot, settings.topic("omniroute.internal.routing-snapshots"), 1, timeout=60)
        router.send_signal(signal.SIGKILL)
        router.wait()
        requests, direct, resolves = inputs(BURST // 2, BURST)
        await asyncio.gather(produce(boot, requests_topic, requests),
                             produce(boot, pools_topic, direct),
                             produce(boot, agents_topic, resolves))
        port = free_port()
        router = start_router(settings, config, tmp_path, port)
        for _ in range(120):
            _, _, routed = await model(settings, await committed_offsets(settings))
            if len(routed) == BURST:
                break
            await asyncio.sleep(0.5)
        assert len(routed) == BURST
        for _ in range(40):  # gauges refresh every two seconds, partitions restore apart
            exposed = await asyncio.to_thread(scrape, port)
            if all(f'omniroute_queue_depth{{pool="{p}"}}' in exposed for p in POOLS):
                break
            await asyncio.sleep(0.5)
        assert "omniroute_router_decisions_total{" in exposed
        assert "omniroute_router_decision_duration_seconds_count" in exposed
        # the shared pipeline metrics, with the expected labels
        for sample in ('omniroute_queue_depth{pool="p0"}',
                       'omniroute_queue_oldest_age_seconds{pool="p0"}',
                       'omniroute_agents{pool="p0",presence="available"} 3.0',
                       'omniroute_messages_total{channel="webchat",component="router",'
                       'direction="in",topic="omniroute.internal.routing-requests"}',
                       'omniroute_messages_total{channel="none",component="router",'
                       'direction="out",topic="omniroute.assignments.v1"}',
                       'omniroute_processing_seconds_count{stage="router"}',
                       'omniroute_rebalances_total{component="router"}'):
            assert sample in exposed, sample
        assert "omniroute_router_queue_depth" not in exposed
    finally:
        router.send_signal(signal.SIGTERM)
        router.wait(timeout=60)
    expected, pools, _ = await model(settings, await committed_offsets(settings))
    total = sum(len(v) for v in expected.values())
    published = await consume(boot, assignments_topic, total + 1, timeout=15)
    actual: dict[str, list[bytes]] = defaultdict(list)
    for record in sorted(published, key=lambda r: (r.partition, r.offset)):
        actual[record.key.decode()].append(record.value)
    assert len(published) == total
    for agent in sorted(expected):
        for got, want in zip(actual[agent], expected[agent], strict=False):
            assert got == want, (agent, got, want)
    assert actual == expected
    loads: dict[str, int] = defaultdict(int)
    for record in published:
        event = AssignmentEvent.from_json_bytes(record.value)
        auto = event.decision is not None and event.decision.rule.endswith("auto-accept")
        if event.kind == "offered" or (event.kind == "assigned" and auto):
            loads[event.agent_id] += 1
        elif event.kind in ("rescinded", "revoked", "completed"):
            loads[event.agent_id] -= 1
    model_loads = {a: s.load for p in pools.values() for a, s in p.agents.items()}
    assert {a: loads.get(a, 0) for a in AGENTS} == model_loads
    assert any(v > 0 for v in model_loads.values())
    restored = [json.loads(line) for line in (tmp_path / "router.log").read_text().splitlines()
                if '"router.restored"' in line]
    # the restart rebuilt state from snapshots (plus the inputs after them)
    assert any(e["snapshots"] > 0 and e["replay_from"] > 0 for e in restored), restored
