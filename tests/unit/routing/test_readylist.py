"""The ready list is a sorted set whatever form it has (plain list or SortedList)."""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from omniroute.routing import readylist
from omniroute.routing.engine import decide, new_pool
from omniroute.routing.events import Kind, Resolve, Route, SetPresence
from omniroute.routing.policy import AgentCapacity, AgentProfile, ChannelRule, PoolPolicy
from omniroute.routing.readylist import ReadyList
from omniroute.routing.snapshot import dump, load
from omniroute.routing.state import PoolState
from unit.routing.test_properties import (
    _agents,
    capacities,
    materialize,
    ops,
    policies,
    skill_maps,
)


@pytest.mark.parametrize("seed", range(5))
def test_keeps_sort_order_across_both_forms(monkeypatch: pytest.MonkeyPatch, seed: int) -> None:
    """Random adds and removes that grow past LARGE and shrink below SMALL, several times:
    iteration, head and length always match a sorted reference."""
    monkeypatch.setattr(readylist, "LARGE", 40)
    monkeypatch.setattr(readylist, "SMALL", 10)
    rng = random.Random(seed)
    ready, reference = ReadyList(), set()
    forms = set()
    for step in range(3000):
        growing = (step // 500) % 2 == 0
        if reference and (rng.random() < (0.3 if growing else 0.7)):
            key = rng.choice(sorted(reference))
            ready.remove(key)
            reference.discard(key)
        else:
            key = (rng.random(), f"a{rng.randrange(10**6)}")
            ready.add(key)
            reference.add(key)
        forms.add(type(ready.keys).__name__)
        assert list(ready) == sorted(reference)
        assert len(ready) == len(reference) and bool(ready) == bool(reference)
        if reference:
            assert ready.keys[0] == min(reference)
    assert forms == {"list", "SortedList"}  # both forms were exercised


def index_matches_agents(state: PoolState) -> None:
    """Every ready list holds exactly the keys a scan of the agents says it should."""
    expected: dict[tuple[Any, ...], list[tuple[Any, ...]]] = {}
    for agent in state.agents.values():  # readiness, key and room recomputed, not cached
        ready = (agent.presence == "available" and not agent.lost
                 and agent.load < agent.profile.capacity.total)
        assert agent.ready_key == (state.selection_key(agent) if ready else None)
        if not ready:
            continue
        key, blocked = state.selection_key(agent), agent.blocked()
        if state.room_index:
            expected.setdefault(("room", blocked), []).append(key)
        for skill, level in agent.profile.skills.items():
            expected.setdefault((skill, level, blocked), []).append(key)
    found = {("room", blocked): list(ready) for blocked, ready in state.ready_by_room.items()}
    found.update({(skill, level, blocked): list(ready)
                  for skill, levels in state.ready_by_skill.items()
                  for level, rooms in levels.items() for blocked, ready in rooms.items()})
    assert {k: v for k, v in found.items() if v} == {k: sorted(v) for k, v in expected.items()}
    assert state.ready == sorted(a.ready_key for a in state.agents.values()
                                 if a.ready_key is not None)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(policies, st.integers(1, 4), st.lists(capacities, min_size=1, max_size=3),
       st.lists(skill_maps, min_size=1, max_size=3), ops)
def test_indexes_match_a_scan_and_a_restored_pool_decides_the_same(
        policy, n, caps, skills, script) -> None:
    """After every input the ready lists (the room index too, once a skill-less route
    started it) hold what a scan of the agents gives; a pool restored from a snapshot
    half-way (no room index yet) then decides exactly as the live one."""
    profiles = _agents(n, caps, skills, [False, True])
    state = new_pool(policy, profiles)
    at, restored = 1000.0, None
    logins = [("presence", i, 0, 0) for i in range(len(profiles))]
    for k, op in enumerate(logins + script):
        at += op[3]
        event = materialize(state, op, at, k, simple=False)
        _, out = decide(state, event)
        index_matches_agents(state)
        if restored is not None:
            assert decide(restored, event)[1] == out
            index_matches_agents(restored)
        elif k == len(logins) + len(script) // 2:
            snapshot = load(dump("p", 0, state))
            assert snapshot is not None
            restored = snapshot.state


def test_a_release_that_frees_room_for_email_moves_the_agent_in_the_room_index() -> None:
    """Capacity 3, email weighs 2: at load 2 (two chats) an agent has no room for email;
    a resolved chat gives the room back, and the next email is offered to them although
    their selection key (longest idle) did not change."""
    policy = PoolPolicy(pool="p", heartbeat_grace_s=1e9, offer_timeout_s=1e9)
    capacity = AgentCapacity(3, {"email": ChannelRule(2, 1)})
    state = new_pool(policy, (AgentProfile("a1", "p", capacity, {"billing": 2},
                                           auto_accept=True),))
    decide(state, SetPresence(at=1.0, event_id="p", agent_id="a1", presence="available"))
    for n in (1, 2):
        _, out = decide(state, Route(at=1.0 + n, event_id=f"r{n}", work_id=f"w{n}",
                                     customer_id=f"c{n}", channel="webchat",
                                     skills={"billing": 1}))
        assert [d.kind for d in out] == [Kind.ASSIGNED]
    decide(state, Resolve(at=4.0, event_id="x", agent_id="a1", work_id="w1"))
    _, out = decide(state, Route(at=5.0, event_id="r3", work_id="w3", customer_id="c3",
                                 channel="email", skills={"billing": 1}))
    assert [(d.kind, d.agent_id) for d in out] == [(Kind.ASSIGNED, "a1")]
    index_matches_agents(state)
