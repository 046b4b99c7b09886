"""The router through the real broker: routing requests and agent events in,
assignments and conversation events out, exactly once."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

from harness.kafka import consume, produce
from omniroute.contract.agents import AgentEvent
from omniroute.contract.assignments import AssignmentEvent
from omniroute.contract.conversations import ConversationEvent
from omniroute.routing.config import load_config
from omniroute.routing.processor import publish_configuration, run_decide, run_repartition
from omniroute.routing.requests import RoutingRequest
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
        await publish_configuration(self.settings, self.config)
        self.tasks = [
            asyncio.create_task(run_repartition(self.settings, self.config, "t", self.stop)),
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
    capacity for the backlog, transfer crosses pools; bad events are rejected or dead-lettered."""
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
                        conversation_id=y)])
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
    dead = await consume(boot, settings.topic("omniroute.dlq.v1"), 1, timeout=20)
    assert json.loads(dead[0].value)["processor"] == "router"
