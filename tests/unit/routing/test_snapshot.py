"""Pool-state snapshots restore a pool that decides exactly like the original."""

from __future__ import annotations

import json
import zlib

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from omniroute.routing import snapshot
from omniroute.routing.engine import decide, new_pool
from omniroute.routing.events import (
    Heartbeat,
    Kind,
    Resolve,
    Route,
    SetPresence,
    Tick,
    Transfer,
)
from omniroute.routing.policy import AgentCapacity, AgentProfile, PoolPolicy, RelaxStep
from unit.routing.test_properties import _agents, capacities, ops, policies, run, skill_maps

POLICY = PoolPolicy(pool="p", offer_timeout_s=10, relaxation=(RelaxStep(5, lower_by=1),),
                    ttl_s=100)
AGENTS = (AgentProfile("a", "p", AgentCapacity(1), {"x": 1}),
          AgentProfile("b", "p", AgentCapacity(2), {"x": 2}))


def feed(state, events):
    return [d for e in events for d in decide(state, e)[1]]


def history():
    yield SetPresence(at=1, event_id="e1", agent_id="a", presence="available")
    for n in range(6):
        yield Route(at=2 + n, event_id=f"r{n}", work_id=f"w{n}", customer_id="c",
                    channel="webchat", skills={"x": 2})
    yield SetPresence(at=9, event_id="e2", agent_id="b", presence="available")


def tail():
    yield Tick(at=20, event_id="t1")
    yield Route(at=21, event_id="r9", work_id="w9", customer_id="c", channel="email")
    yield Tick(at=40, event_id="t2")


class TestSnapshot:
    def test_restored_pool_makes_the_same_decisions_as_the_original(self) -> None:
        """Timers, queues and ready agents survive: the tail decides identically."""
        original = new_pool(POLICY, AGENTS)
        feed(original, history())
        restored = snapshot.load(snapshot.dump("p", 42, original))
        assert restored is not None and (restored.pool, restored.offset) == ("p", 42)
        want = feed(original, tail())
        got = feed(restored.state, tail())
        assert want and got == want

    def test_restored_pool_remembers_transfers_and_closed_work(self) -> None:
        """A transfer or a resolve repeated after a restore is still ignored, and a resolve
        of transferred work still refused; completions keep their [agent, at] shape."""
        original = new_pool(PoolPolicy(pool="p"), (AgentProfile("a", "p", AgentCapacity(2),
                                                                 auto_accept=True),))
        feed(original, [
            SetPresence(at=1, event_id="e1", agent_id="a", presence="available"),
            Route(at=2, event_id="r1", work_id="w1", customer_id="c", channel="webchat"),
            Route(at=3, event_id="r2", work_id="w2", customer_id="c", channel="webchat"),
            Transfer(at=4, event_id="e2", agent_id="a", work_id="w1", target_pool="billing"),
            Resolve(at=5, event_id="e3", agent_id="a", work_id="w2")])
        value = snapshot.dump("p", 7, original)
        assert b'"closed":{"w1":["a",4,null,"billing"],"w2":["a",5]}' in zlib.decompress(
            value.partition(b"\n")[2])
        restored = snapshot.load(value)
        assert restored is not None and restored.state.closed == original.closed
        out = feed(restored.state, [
            Transfer(at=6, event_id="e4", agent_id="a", work_id="w1", target_pool="billing"),
            Resolve(at=7, event_id="e5", agent_id="a", work_id="w2"),
            Resolve(at=8, event_id="e6", agent_id="a", work_id="w1")])
        assert [(d.kind, d.work_id) for d in out] == [
            (Kind.IGNORED, "w1"), (Kind.IGNORED, "w2"), (Kind.REJECTED, "w1")]

    def test_whether_the_pool_heard_an_agents_presence_survives_a_restore(self) -> None:
        """An agent put back by a configuration (not heard) still takes the presence her
        next heartbeat carries after a restore; in a snapshot written before the fact was
        kept, none counts as heard: an agent whose presence is what her app shows keeps it,
        one put back while her app said "available" takes it at her next heartbeat."""
        original = new_pool(POLICY, AGENTS)
        feed(original, [SetPresence(at=1, event_id="e1", agent_id="a", presence="available")])
        value = snapshot.dump("p", 3, original)
        restored = snapshot.load(value)
        assert restored is not None
        assert {n: a.heard for n, a in restored.state.agents.items()} == {"a": True, "b": False}
        out = feed(restored.state, [Heartbeat(at=2, event_id="h1", agent_id="b",
                                              presence="available")])
        assert restored.state.agents["b"].presence == "available" and out == feed(
            original, [Heartbeat(at=2, event_id="h1", agent_id="b", presence="available")])
        head, _, body = value.partition(b"\n")
        raw = json.loads(zlib.decompress(body))
        for _profile, facts in raw["agents"]:
            del facts[-1]  # as written before "heard"
        older = snapshot.load(head + b"\n" + zlib.compress(json.dumps(raw).encode()))
        assert older is not None
        assert not any(a.heard for a in older.state.agents.values())
        assert feed(older.state, [Heartbeat(at=2, event_id="h2", agent_id="a",
                                            presence="available")]) == []
        assert older.state.agents["a"].heard
        feed(older.state, [Heartbeat(at=3, event_id="h3", agent_id="b", presence="available")])
        assert older.state.agents["b"].presence == "available"

    def test_other_format_or_damage_means_no_snapshot(self) -> None:
        """A snapshot the core cannot trust is ignored (the stream is replayed instead)."""
        value = snapshot.dump("p", 1, new_pool(POLICY))
        assert snapshot.load(value.replace(b'"format":2', b'"format":9')) is None
        assert snapshot.load(value[:-5]) is None
        assert snapshot.load(b"garbage") is None


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(policies, st.integers(1, 4), st.lists(capacities, min_size=1, max_size=2),
       st.lists(skill_maps, min_size=1, max_size=2), ops, st.integers(0, 80))
def test_a_snapshot_anywhere_decides_like_the_full_replay(policy, n, caps, skills, script,
                                                           split) -> None:
    """JSON facts in, indexes rebuilt: the rest of the log decides byte for byte the same."""
    profiles = _agents(n, caps, skills, [False, True])
    events, decisions = run(policy, profiles, script)
    split = min(split, len(events))
    state = new_pool(policy, profiles)
    head = [d for event in events[:split] for d in decide(state, event)[1]]
    restored = snapshot.load(snapshot.dump("p", split, state))
    assert restored is not None
    tail = [d for event in events[split:] for d in decide(restored.state, event)[1]]
    assert head + tail == decisions
