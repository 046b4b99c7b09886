"""The router through the real broker: routing requests and agent events in,
assignments and conversation events out, exactly once."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from harness.kafka import consume, produce
from omniroute.contract.agents import AgentEvent
from omniroute.contract.assignments import AssignmentEvent
from omniroute.contract.conversations import ConversationEvent
from omniroute.routing import engine
from omniroute.routing.config import load_config
from omniroute.routing.entry import Entry
from omniroute.routing.events import OFFER_RENEWED
from omniroute.routing.live import publish_config
from omniroute.routing.processor import run_decide, run_repartition
from omniroute.routing.requests import RoutingRequest
from omniroute.routing.wire import POOL_TOPIC
from omniroute.settings import Settings

CONFIG = """
[routing]
default_pool = "support"
[[routing.rules]]
skill = "billing"
pool = "billing"

[pools.support]
offer_timeout_s = 3600
heartbeat_grace_s = 3600
[pools.billing]
heartbeat_grace_s = 3600

[agents.ann]
pool = "support"
capacity = 1
[agents.ben]
pool = "support"
capacity = 1
[agents.cat]
pool = "billing"
capacity = 2
auto_accept = true
skills = { billing = 3 }
"""


def request(n: int, **fields: object) -> tuple[bytes, bytes]:
    """A routing request for conversation ``conv-n``."""
    req = RoutingRequest(event_id=f"rr-{n}", kind="route", conversation_id=f"conv-{n}",
                         customer_id=f"cust-{n}", channel="webchat",
                         waiting_since=datetime(2026, 1, 1, tzinfo=UTC), **fields)
    return req.conversation_id.encode(), req.to_json_bytes()


def _pool_agent(value: bytes) -> str | None:
    """The agent of a pool-stream ``agent`` record (None for other records)."""
    record = json.loads(value)
    return str(record["body"]["agent_id"]) if record["t"] == "agent" else None


def agent_event(n: int, agent: str, kind: str, **fields: object) -> tuple[bytes, bytes]:
    """An agent event from ``agent``."""
    event = AgentEvent(event_id=f"ae-{n}", agent_id=agent, kind=kind, **fields)
    return agent.encode(), event.to_json_bytes()


class Router:
    """The router's two loops running in this test's event loop."""

    def __init__(self, settings: Settings, config_file: Path) -> None:
        self.settings = settings
        self.config = load_config(config_file)
        self.stop = asyncio.Event()
        self.tasks: list[asyncio.Task[None]] = []

    async def __aenter__(self) -> Router:
        await publish_config(self.settings, self.config, actor="test")
        self.tasks = [
            asyncio.create_task(run_repartition(self.settings, "t", self.stop)),
            asyncio.create_task(run_decide(self.settings, "t", self.stop, tick_interval=0.2))]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.stop.set()
        await asyncio.gather(*self.tasks)


async def assignments(settings: Settings, count: int) -> list[AssignmentEvent]:
    records = await consume(settings.kafka_bootstrap, settings.topic("omniroute.assignments.v1"),
                            count, timeout=40)
    return [AssignmentEvent.from_json_bytes(r.value) for r in records]


async def test_offers_accept_decline_resolve_transfer_and_rejections(
        topics: Settings, tmp_path: Path) -> None:
    """Offers go to agents by pool and skill; accept, decline with reason, resolve frees
    capacity for the backlog, transfer crosses pools; bad events are rejected or dead-lettered,
    and an accept or resolve the app sent twice is not refused the second time."""
    settings = topics
    config_file = tmp_path / "routing.toml"
    config_file.write_text(CONFIG)
    boot = settings.kafka_bootstrap
    agents_topic = settings.topic("omniroute.agent-events.v1")
    requests_topic = settings.topic("omniroute.internal.routing-requests")
    async with Router(settings, config_file):
        await produce(boot, agents_topic, [
            agent_event(1, "ann", "presence", presence="available"),
            agent_event(2, "ben", "presence", presence="available"),
            agent_event(3, "cat", "presence", presence="available"),
            agent_event(4, "ghost", "presence", presence="available"),
            (b"ann", b"{not json")])
        await produce(boot, requests_topic, [request(1), request(2), request(3),
                                             request(4, skills={"billing": 2})])
        seen = await assignments(settings, 4)
        earlier = {e.event_id for e in seen}
        offers = {e.conversation_id: e for e in seen if e.kind == "offered"}
        assert len(offers) == 2 and set(offers) < {"conv-1", "conv-2", "conv-3"}, seen
        assert {e.agent_id for e in offers.values()} == {"ann", "ben"}
        assert any(e.kind == "assigned" and e.agent_id == "cat" and e.conversation_id == "conv-4"
                   for e in seen)
        assert any(e.kind == "rejected" and e.agent_id == "ghost" for e in seen)
        first, second = sorted(offers.values(), key=lambda e: e.agent_id)
        x, y = first.conversation_id, second.conversation_id
        (z,) = {"conv-1", "conv-2", "conv-3"} - {x, y}
        await produce(boot, agents_topic, [
            agent_event(5, first.agent_id, "accept", offer_id=first.offer_id, conversation_id=x),
            agent_event(6, first.agent_id, "accept", offer_id=second.offer_id,
                        conversation_id=y),
            # the app's retry of 5 (a new event id): ignored, not refused
            agent_event(10, first.agent_id, "accept", offer_id=first.offer_id, conversation_id=x)])
        await assignments(settings, 6)
        await produce(boot, agents_topic, [
            agent_event(7, second.agent_id, "decline", offer_id=second.offer_id,
                        conversation_id=y, reason="on a call")])
        seen = await assignments(settings, 8)
        phase2 = {(e.kind.value, e.agent_id, e.conversation_id) for e in seen
                  if e.event_id not in earlier}
        earlier |= {e.event_id for e in seen}
        assert phase2 == {("assigned", first.agent_id, x), ("rejected", first.agent_id, y),
                          ("rescinded", second.agent_id, y), ("offered", second.agent_id, z)}
        await produce(boot, agents_topic, [
            agent_event(8, first.agent_id, "resolve", conversation_id=x),
            agent_event(11, first.agent_id, "resolve", conversation_id=x),  # retried
            agent_event(9, "cat", "transfer", conversation_id="conv-4", target_pool="support")])
        seen = await assignments(settings, 11)
    refused = next(e for e in seen if e.kind == "rejected" and e.agent_id == first.agent_id)
    assert refused.reason == "offer belongs to another agent"
    assert refused.decision.policy_version == 1
    declined = next(e for e in seen if e.kind == "rescinded")
    assert declined.reason == "declined: on a call"
    # resolve frees capacity: the backlog drains to the freed agent, never to the decliner
    phase3 = {(e.kind.value, e.agent_id, e.conversation_id) for e in seen
              if e.event_id not in earlier}
    assert phase3 == {("completed", first.agent_id, x), ("offered", first.agent_id, y),
                      ("revoked", "cat", "conv-4")}
    assert len(seen) == 11 == len({e.event_id for e in seen})
    conversations = await consume(boot, settings.topic("omniroute.conversations.v1"), 4,
                                  timeout=20)
    kinds = {(ConversationEvent.from_json_bytes(r.value).kind.value, r.key.decode())
             for r in conversations}
    assert kinds == {("assigned", "conv-4"), ("assigned", x), ("resolved", x),
                     ("transferred", "conv-4")}
    # the transfer names the pool the conversation went to (history's pool: the board)
    (moved,) = [e for e in map(ConversationEvent.from_json_bytes, (r.value for r in conversations))
                if e.kind == "transferred"]
    assert (moved.pool, moved.agent_id) == ("support", None)
    dead = await consume(boot, settings.topic("omniroute.dlq.v1"), 1, timeout=20)
    assert json.loads(dead[0].value)["processor"] == "router"
    # the shared pipeline metrics (this process's registry; counters only grow)
    for labels, at_least in (({"pool": "support", "outcome": "offered"}, 3),
                             ({"pool": "support", "outcome": "accepted"}, 1),
                             ({"pool": "support", "outcome": "declined"}, 1),
                             ({"pool": "billing", "outcome": "accepted"}, 1)):
        assert (REGISTRY.get_sample_value("omniroute_offers_total", labels) or 0) >= at_least
    assert (REGISTRY.get_sample_value("omniroute_end_to_end_seconds_count",
                                      {"milestone": "assigned", "channel": "webchat"}) or 0) >= 2
    assert (REGISTRY.get_sample_value("omniroute_dead_letters_total",
                                      {"processor": "router", "reason": "ValidationError"})
            or 0) >= 1


TIMED_CONFIG = """
[pools.skills]
heartbeat_grace_s = 3600
offer_timeout_s = 3600
relaxation = [{ after_s = 1, lower_by = 1 }]
[pools.first]
heartbeat_grace_s = 3600
overflow = { after_s = 1, pool = "second" }
[pools.second]
heartbeat_grace_s = 3600
[pools.sticky]
heartbeat_grace_s = 3600
sticky_s = 1
[pools.closed]
heartbeat_grace_s = 3600
ttl_s = 1
business_hours = { timezone = "UTC" }
[pools.capped]
queue_cap = 1
[pools.lost]
heartbeat_grace_s = 8
input_stall_s = 0
requeue_on_lost = true
[pools.vip]
heartbeat_grace_s = 3600
vip_boost = 10
sla_s = 60
sla_boost = 20

[agents.sk1]
pool = "skills"
skills = { billing = 1 }
[agents.ov1]
pool = "second"
auto_accept = true
[agents.st1]
pool = "sticky"
[agents.st2]
pool = "sticky"
auto_accept = true
[agents.cl1]
pool = "closed"
auto_accept = true
[agents.lo1]
pool = "lost"
auto_accept = true
[agents.lo2]
pool = "lost"
[agents.lo3]
pool = "lost"
capacity = 2
auto_accept = true
[agents.vi1]
pool = "vip"
capacity = 3
auto_accept = true
"""


def routed(name: str, pool: str, **fields: object) -> tuple[bytes, bytes]:
    """A routing request for conversation ``name`` in ``pool``."""
    req = RoutingRequest(event_id=f"rr-{name}", kind="route", conversation_id=name,
                         customer_id=f"cust-{name}", channel="webchat", pool=pool, **fields)
    return name.encode(), req.to_json_bytes()


async def test_timed_semantics_relaxation_overflow_sticky_hours_limits_lost_priority(
        topics: Settings, tmp_path: Path) -> None:
    """Driven by ticks through one router: skills relax, work overflows to another pool,
    sticky work waits for the last agent then goes to anyone, a closed pool queues until
    its time-to-live drops the work, a full queue drops, a lost agent's offer is rescinded
    and assigned work revoked and requeued, and VIP/SLA raise priority."""
    settings = topics
    config_file = tmp_path / "routing.toml"
    config_file.write_text(TIMED_CONFIG)
    boot = settings.kafka_bootstrap
    agents_topic = settings.topic("omniroute.agent-events.v1")
    requests_topic = settings.topic("omniroute.internal.routing-requests")
    assignments_topic = settings.topic("omniroute.assignments.v1")
    now = datetime.now(UTC)

    async def events_of(agents: set[str], count: int) -> list[AssignmentEvent]:
        records = await consume(boot, assignments_topic, count, timeout=40,
                                where=lambda r: r.key.decode() in agents)
        return [AssignmentEvent.from_json_bytes(r.value) for r in records]

    async with Router(settings, config_file):
        logins = ["sk1", "ov1", "st2", "cl1", "lo1", "lo2"]
        await produce(boot, agents_topic, [
            agent_event(n, a, "presence", presence="available") for n, a in enumerate(logins)]
            + [agent_event(90, "st1", "presence", presence="busy")])
        # requests and agent events arrive on different topics: wait until every
        # presence sits in its pool's stream so the requests are ordered after them
        present = set(logins) | {"st1"}
        await consume(boot, settings.topic(POOL_TOPIC), len(present), timeout=40,
                      where=lambda r: _pool_agent(r.value) in present)
        await produce(boot, requests_topic, [
            routed("sk-1", "skills", skills={"billing": 2}),
            routed("ov-1", "first"),
            routed("st-1", "sticky", last_agent_id="st1"),
            routed("cl-1", "closed"),
            routed("cap-1", "capped"), routed("cap-2", "capped"),
            routed("lo-1", "lost"), routed("lo-2", "lost"),
            routed("vi-a", "vip", priority=5, waiting_since=now),
            routed("vi-b", "vip", waiting_since=now - timedelta(hours=1)),
            routed("vi-c", "vip", vip=True, waiting_since=now)])
        lost = await events_of({"lo1", "lo2"}, 4)
        await produce(boot, agents_topic, [
            agent_event(91, "lo3", "presence", presence="available"),
            agent_event(92, "vi1", "presence", presence="available")])
        # sk-1, ov-1, st-1, lo-1 and lo-2 requeued to lo3, vi-a, vi-b, vi-c
        seen = await events_of({"sk1", "ov1", "st1", "st2", "cl1", "lo3", "vi1"}, 8)
        closed = await consume(boot, settings.topic("omniroute.conversations.v1"), 2,
                               timeout=40, where=lambda r: r.key in (b"cl-1", b"cap-1", b"cap-2"))
    by_work = {e.conversation_id: e for e in seen}
    # skills: offered only after the relaxation step lowered billing 2 -> 1
    assert by_work["sk-1"].kind == "offered" and by_work["sk-1"].agent_id == "sk1"
    assert by_work["sk-1"].decision.inputs["needs"] == {"billing": 1}
    # overflow: forwarded from the agentless pool, assigned in the other, age kept
    assert (by_work["ov-1"].pool, by_work["ov-1"].agent_id) == ("second", "ov1")
    assert by_work["ov-1"].decision.inputs["waited_s"] >= 1
    # sticky: waited for busy st1, then went to st2 (never to st1)
    assert by_work["st-1"].agent_id == "st2" and by_work["st-1"].decision.inputs["waited_s"] >= 1
    assert not [e for e in seen if e.agent_id in ("st1", "cl1")]
    # lost agents: offer rescinded, assigned work revoked, both requeued to the next agent
    assert sorted((e.agent_id, e.kind.value) for e in lost) == [
        ("lo1", "assigned"), ("lo1", "revoked"), ("lo2", "offered"), ("lo2", "rescinded")]
    assert {e.reason for e in lost if e.kind in ("revoked", "rescinded")} == {
        "agent lost (no heartbeat)"}
    assert {(e.agent_id, e.conversation_id) for e in seen if e.agent_id == "lo3"} == {
        ("lo3", "lo-1"), ("lo3", "lo-2")}
    # priority: SLA breach (+20) before VIP (+10) before priority 5
    vip = [e for e in seen if e.agent_id == "vi1"]
    assert [(e.conversation_id, e.priority) for e in vip] == [
        ("vi-b", 20), ("vi-c", 10), ("vi-a", 5)]
    # business hours + TTL, queue cap: dropped with the reason, never offered
    reasons = {r.key.decode(): ConversationEvent.from_json_bytes(r.value) for r in closed}
    assert reasons["cl-1"].kind == "parked"
    assert reasons["cl-1"].reason == "queue time-to-live expired"
    # the two capped requests may reach the pool in either order: the second is dropped
    assert [e.reason for k, e in sorted(reasons.items()) if k != "cl-1"] == ["queue full"]


async def test_a_request_whose_pool_its_producer_knows_is_routed_in_one_hop(
        topics: Settings, tmp_path: Path) -> None:
    """A producer following the live configuration (the worker does) writes the request
    straight into the pool its rules choose; the decide loop routes it from there, once,
    and nothing crosses the router's request topic."""
    settings = topics
    config_file = tmp_path / "routing.toml"
    config_file.write_text(CONFIG)
    boot = settings.kafka_bootstrap
    async with Router(settings, config_file):
        await produce(boot, settings.topic("omniroute.agent-events.v1"),
                      [agent_event(1, "cat", "presence", presence="available")])
        entry = Entry()
        follower = asyncio.create_task(entry.follow(settings))
        await asyncio.wait_for(entry.live.ready.wait(), 30)
        follower.cancel()
        records = [entry.record(RoutingRequest(
            event_id=f"rr-{n}", kind="route", conversation_id=f"conv-{n}",
            customer_id=f"cust-{n}", channel="webchat", skills={"billing": 1}))
            for n in (1, 2)]
        assert {(topic, key) for topic, key, _ in records} == {(POOL_TOPIC, b"billing")}
        for topic, key, value in [*records, records[0]]:  # the first one twice
            await produce(boot, settings.topic(topic), [(key, value)])
        await assignments(settings, 2)
        seen = [AssignmentEvent.from_json_bytes(r.value) for r in await consume(
            boot, settings.topic("omniroute.assignments.v1"), 3, timeout=5)]
    assert sorted((e.kind.value, e.agent_id, e.conversation_id) for e in seen) == [
        ("assigned", "cat", "conv-1"), ("assigned", "cat", "conv-2")], seen
    assert await consume(boot, settings.topic("omniroute.internal.routing-requests"), 1,
                         timeout=2) == []


async def test_work_of_merged_customers_is_assigned_under_the_surviving_customer(
        topics: Settings, tmp_path: Path) -> None:
    """A user run: WhatsApp opened a conversation for one customer id, a verified web chat
    message merged that customer into the visitor's, and the worker sent the router an
    ``update`` naming the survivor. The router kept the old customer on the work, so the
    assignment's ConversationEvent moved the conversation back to the merged-away id, and
    the console showed it without the web chat address or the visitor's name."""
    settings = topics
    config_file = tmp_path / "routing.toml"
    config_file.write_text(CONFIG)
    boot = settings.kafka_bootstrap
    requests_topic = settings.topic("omniroute.internal.routing-requests")
    async with Router(settings, config_file):
        route = RoutingRequest(event_id="rr-1", kind="route", conversation_id="conv-1",
                               customer_id="cust-merged-away", channel="whatsapp")
        await produce(boot, requests_topic, [(b"conv-1", route.to_json_bytes())])
        update = RoutingRequest(event_id="rr-1-update", kind="update", conversation_id="conv-1",
                                customer_id="cust-survivor", channel="whatsapp",
                                reason="customers merged")
        await produce(boot, requests_topic, [(b"conv-1", update.to_json_bytes())])
        await asyncio.sleep(1)  # the update is decided before anyone is offered the work
        await produce(boot, settings.topic("omniroute.agent-events.v1"),
                      [agent_event(1, "ann", "presence", presence="available")])
        [offer] = await assignments(settings, 1)
        await produce(boot, settings.topic("omniroute.agent-events.v1"), [agent_event(
            2, "ann", "accept", offer_id=offer.offer_id, conversation_id="conv-1")])
        records = await consume(boot, settings.topic("omniroute.conversations.v1"), 1,
                                timeout=40)
    [assigned] = [ConversationEvent.from_json_bytes(r.value) for r in records]
    assert (assigned.kind.value, assigned.agent_id, assigned.customer_id) == (
        "assigned", "ann", "cust-survivor")


async def test_work_that_overflows_is_announced_with_its_new_pool(
        topics: Settings, tmp_path: Path) -> None:
    """A user run: an admin removed billing's only agent while he held a conversation; it
    went back to billing's queue and overflowed to support at once (it had waited longer
    than billing's overflow time). The router said nothing public about the move, so
    history and the supervisor board kept listing it in billing, with nobody to take it.
    A forward is a ``rerouted`` ConversationEvent naming the new pool."""
    settings = topics
    boot = settings.kafka_bootstrap
    with_cat = tmp_path / "routing.toml"
    with_cat.write_text(CONFIG.replace(
        "[pools.billing]\n", "[pools.billing]\noverflow = { after_s = 2, pool = \"support\" }\n",
    ).replace('[agents.ann]\npool = "support"\n',
              '[agents.ann]\npool = "support"\nskills = { billing = 2 }\n'))
    without_cat = tmp_path / "without-cat.toml"
    without_cat.write_text(with_cat.read_text().split("[agents.cat]")[0])
    async with Router(settings, with_cat):
        await produce(boot, settings.topic("omniroute.agent-events.v1"), [
            agent_event(1, "cat", "presence", presence="available"),
            agent_event(2, "ann", "presence", presence="available")])
        await produce(boot, settings.topic("omniroute.internal.routing-requests"),
                      [request(1, skills={"billing": 2})])
        [assigned] = await assignments(settings, 1)
        assert (assigned.kind.value, assigned.agent_id) == ("assigned", "cat")
        await asyncio.sleep(3)  # cat holds it longer than billing's overflow time
        await publish_config(settings, load_config(without_cat), actor="test")
        seen = await assignments(settings, 3)
        records = await consume(boot, settings.topic("omniroute.conversations.v1"), 3,
                                timeout=40)
    assert [(e.kind.value, e.agent_id, e.pool) for e in seen[1:]] == [
        ("revoked", "cat", "billing"), ("offered", "ann", "support")], seen
    events = [ConversationEvent.from_json_bytes(r.value) for r in records]
    # (assigned as cat's presence arrived, or on arrival: the two hops race)
    assert [(e.kind.value, e.pool, e.reason) for e in events[1:]] == [
        ("unassigned", "billing", "agent removed"),
        ("rerouted", "support", "overflow timeout")], events
    assert (events[0].kind.value, events[0].pool, events[0].agent_id) == (
        "assigned", "billing", "cat"), events


async def test_an_agents_heartbeat_just_past_the_grace_keeps_their_work(
        topics: Settings, tmp_path: Path) -> None:
    """A user run restarted the whole stack: an agent's console missed two heartbeats, and
    the first one after came 60.0004 s after the last (the grace was 60 s). The router
    fired the agent's deadline before reading the heartbeat that met it, marked them lost
    and took back their three conversations. Here the grace is 4 s and the heartbeat comes
    0.4 ms past it; the agent keeps the conversation."""
    settings = topics
    boot = settings.kafka_bootstrap
    config_file = tmp_path / "routing.toml"
    config_file.write_text(CONFIG.replace(
        "[pools.billing]\nheartbeat_grace_s = 3600\n",
        "[pools.billing]\nheartbeat_grace_s = 4\ninput_stall_s = 3600\n"))
    async with Router(settings, config_file):
        await produce(boot, settings.topic("omniroute.agent-events.v1"), [
            agent_event(1, "cat", "presence", presence="available")])
        await produce(boot, settings.topic("omniroute.internal.routing-requests"),
                      [request(1, skills={"billing": 2})])
        [assigned] = await assignments(settings, 1)
        assert (assigned.kind.value, assigned.agent_id) == ("assigned", "cat")
        beat = datetime.now(UTC)
        await produce(boot, settings.topic("omniroute.agent-events.v1"), [
            agent_event(2, "cat", "heartbeat", occurred_at=beat)])
        await asyncio.sleep(max(0.0, beat.timestamp() + 4.5 - time.time()))
        await produce(boot, settings.topic("omniroute.agent-events.v1"), [agent_event(
            3, "cat", "heartbeat", occurred_at=beat + timedelta(seconds=4.0004))])
        records = await consume(boot, settings.topic("omniroute.assignments.v1"), 2, timeout=5)
    seen = [AssignmentEvent.from_json_bytes(r.value) for r in records]
    assert [(e.kind.value, e.agent_id) for e in seen] == [("assigned", "cat")], seen


async def test_an_offer_open_while_the_router_was_stopped_is_announced_again_and_taken(
        topics: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A user run stopped the whole stack for 72 s with an offer open. The router kept the
    offer's remaining time, but the deadline it had announced was past, so the console hid
    the offer, the agent never saw it, and it then timed out and set her away. Now the
    router announces the offer again (same id, the new deadline) and it can be accepted.
    (The stop threshold is 3 s here instead of 30 s, the offer time 8 s.)"""
    monkeypatch.setattr(engine, "CLOCK_STOPPED_S", 3.0)
    settings = topics
    boot = settings.kafka_bootstrap
    config_file = tmp_path / "routing.toml"
    config_file.write_text(CONFIG.replace("[pools.support]\noffer_timeout_s = 3600\n",
                                          "[pools.support]\noffer_timeout_s = 8\n"))
    async with Router(settings, config_file):
        await produce(boot, settings.topic("omniroute.agent-events.v1"), [
            agent_event(1, "ann", "presence", presence="available")])
        await produce(boot, settings.topic("omniroute.internal.routing-requests"),
                      [request(1)])
        [first] = await assignments(settings, 1)
    assert (first.kind.value, first.agent_id) == ("offered", "ann")
    await asyncio.sleep(5)
    async with Router(settings, config_file):
        seen = await assignments(settings, 2)
        renewed = seen[1]
        assert (renewed.kind.value, renewed.offer_id, renewed.decision.rule) == (
            "offered", first.offer_id, OFFER_RENEWED), seen
        assert first.expires_at is not None and renewed.expires_at is not None
        assert renewed.expires_at - first.expires_at >= timedelta(seconds=5)
        await produce(boot, settings.topic("omniroute.agent-events.v1"), [agent_event(
            2, "ann", "accept", offer_id=first.offer_id, conversation_id="conv-1")])
        seen = await assignments(settings, 3)
    assert [(e.kind.value, e.agent_id) for e in seen] == [
        ("offered", "ann"), ("offered", "ann"), ("assigned", "ann")], seen
