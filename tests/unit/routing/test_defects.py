"""One test per defect found by the model-based review of the routing core (issue 18);
each failed before its fix."""

from __future__ import annotations

from typing import Any

import pytest

from omniroute.routing.engine import InputFailed, decide
from omniroute.routing.events import (
    OFFER_RENEWED,
    Accept,
    Configure,
    Heartbeat,
    Kind,
    Resolve,
    Route,
    SetPresence,
    Tick,
    Transfer,
    Update,
    WrapUp,
)
from omniroute.routing.policy import (
    AgentCapacity,
    AgentProfile,
    BusinessHours,
    Overflow,
    PoolPolicy,
    Selection,
)
from unit.routing.test_semantics import Pool, kinds


def profiles(**agents: Any) -> tuple[AgentProfile, ...]:
    return tuple(AgentProfile(n, "p", spec.get("cap", AgentCapacity(1)), {},
                              spec.get("auto", False)) for n, spec in agents.items())


class TestAtomicApply:
    def test_changing_the_selection_rule_at_runtime_keeps_the_pool_usable(self) -> None:
        """round_robin <-> least_occupied with a roster re-applies cleanly, then routes."""
        pool = Pool(PoolPolicy(pool="p", selection=Selection.ROUND_ROBIN),
                    a=dict(auto=True), b=dict(auto=True))
        pool.login("a", "b")
        for selection in (Selection.LEAST_OCCUPIED, Selection.ROUND_ROBIN,
                          Selection.LONGEST_IDLE, Selection.LEAST_OCCUPIED):
            pool(Configure, policy=PoolPolicy(pool="p", selection=selection),
                 agents=profiles(a=dict(auto=True), b=dict(auto=True)),
                 fingerprint=selection.value)
        assert kinds(pool.route("w1")) == [("assigned", "a", "w1")]

    def test_an_input_that_fails_leaves_the_pool_exactly_as_before(self) -> None:
        """A configuration that fails half-way (unknown time zone) changes nothing."""
        pool = Pool(a=dict(auto=True))
        pool.login("a")
        before = (pool.state.version, pool.state.policy, pool.state.seq)
        bad = PoolPolicy(pool="p", business_hours=BusinessHours("Nowhere/Atlantis", {}))
        with pytest.raises(InputFailed) as failed:
            decide(pool.state, Configure(at=pool.now + 1, event_id="bad", policy=bad,
                                         agents=(), fingerprint="bad"))
        kept = failed.value.state
        assert (kept.version, kept.policy, kept.seq) == before
        assert "a" in kept.agents and kept.ready


class TestWrapUpReopen:
    def test_a_conversation_reopened_during_wrap_up_goes_back_to_its_agent(self) -> None:
        """The customer writes after wrap-up began: the agent gets it back, assigned; it is
        neither ignored nor forgotten at resolve."""
        pool = Pool(PoolPolicy(pool="p", heartbeat_grace_s=7200), a=dict(auto=True))
        pool.login("a")
        pool.route("w1")
        pool(WrapUp, agent_id="a", work_id="w1")
        out = pool.route("w1")
        assert kinds(out) == [("assigned", "a", "w1")]
        assert pool.state.work["w1"].status == "assigned"
        assert kinds(pool(Tick, dt=3600)) == []  # the wrap-up timeout no longer closes it


class TestTimeLimitsFromPoolEntry:
    def test_a_same_pool_transfer_after_the_ttl_keeps_its_pin(self) -> None:
        """Assigned work transferred after the TTL is neither parked nor unpinned."""
        pool = Pool(PoolPolicy(pool="p", ttl_s=10, overflow=Overflow(5, "other"),
                               heartbeat_grace_s=3600),
                    a=dict(auto=True), b=dict(auto=True))
        pool.login("a", "b")
        pool.route("w1")
        holder = pool.state.work["w1"].agent_id
        other = "b" if holder == "a" else "a"
        pool(Tick, dt=60)
        pool(Heartbeat, agent_id=holder)
        pool(Heartbeat, agent_id=other)
        out = pool(Transfer, agent_id=holder, work_id="w1", target_agent=other)
        assert kinds(out)[-1] == ("assigned", other, "w1")

    def test_a_lost_agents_revoked_work_after_the_ttl_is_requeued(self) -> None:
        """Work revoked from a lost agent long after its TTL goes back to the queue."""
        pool = Pool(PoolPolicy(pool="p", ttl_s=10, heartbeat_grace_s=30),
                    a=dict(auto=True), b=dict(auto=True))
        pool.login("a")
        pool.route("w1")
        pool(SetPresence, dt=20, agent_id="b", presence="available")
        pool(Heartbeat, dt=20, agent_id="b")
        pool(Heartbeat, dt=20, agent_id="b")
        assert ("revoked", "a", "w1") in kinds(pool.log)
        assert pool.state.work["w1"].agent_id == "b"


class TestIdempotencyAndOwnership:
    def test_a_repeated_route_request_does_not_reassign_a_resolved_conversation(self) -> None:
        """The same event id again (a replay upstream) is ignored."""
        pool = Pool(a=dict(auto=True))
        pool.login("a")
        fields = dict(work_id="w1", customer_id="c", channel="webchat")
        decide(pool.state, Route(at=pool.now + 1, event_id="req-1", **fields))
        pool(Resolve, agent_id="a", work_id="w1")
        _, out = decide(pool.state, Route(at=pool.now + 1, event_id="req-1", **fields))
        assert [d.kind for d in out] == [Kind.IGNORED]
        assert "w1" not in pool.state.work

    def test_after_an_overflow_the_first_pool_forwards_the_conversation(self) -> None:
        """A later request for a conversation that moved on goes where it lives now."""
        pool = Pool(PoolPolicy(pool="p", overflow=Overflow(5, "other")))
        pool.route("w1")
        out = pool(Tick, dt=10)
        assert out[-1].kind is Kind.FORWARDED and out[-1].target_pool == "other"
        out = pool.route("w1")
        assert [(d.kind, d.target_pool) for d in out] == [(Kind.FORWARDED, "other")]
        out = pool(Update, work_id="w1", priority=5)
        assert [(d.kind, d.target_pool) for d in out] == [(Kind.FORWARDED, "other")]
        assert "w1" not in pool.state.work


class TestStalls:
    def test_a_stall_of_the_input_stream_marks_nobody_lost(self) -> None:
        """Ticks alone (the repartition hop stalled) never make agents lost; their own
        delayed events, stamped with their own time, keep them alive."""
        pool = Pool(PoolPolicy(pool="p", heartbeat_grace_s=60), a=dict(auto=True))
        pool.login("a")
        pool.route("w1")
        start = pool.now
        for _ in range(65):
            assert pool(Tick, dt=1) == []
        _, out = decide(pool.state, Heartbeat(at=start + 30, event_id="late", agent_id="a"))
        assert out == [] and not pool.state.agents["a"].lost

    def test_an_agents_own_heartbeat_at_the_deadline_keeps_them(self) -> None:
        """The router runs (a tick each second) and a's next heartbeat comes 0.4 ms past the
        grace: their own input proves them there, so they keep their conversation. It made
        them lost and took the conversation back at the moment it arrived (a user run)."""
        pool = Pool(PoolPolicy(pool="p", heartbeat_grace_s=60), a=dict(auto=True))
        pool.login("a")
        pool.route("w1")
        assert pool.state.work["w1"].status == "assigned"
        seen = pool.state.agents["a"].last_seen
        while pool.now < seen + 59:
            pool(Tick, dt=1)
        _, out = decide(pool.state, Heartbeat(at=seen + 60.0004, event_id="hb", agent_id="a"))
        assert out == [] and not pool.state.agents["a"].lost
        assert pool.state.work["w1"].agent_id == "a"

    def test_time_the_router_was_not_running_is_not_the_agents_silence(self) -> None:
        """The stack stopped for 90 s (no ticks, no inputs): b's first heartbeat after it
        does not make a lost; a silent a still is, 60 s of running clock later."""
        pool = Pool(PoolPolicy(pool="p", heartbeat_grace_s=60), a=dict(auto=True),
                    b=dict(auto=True))
        pool.login("a", "b")
        pool.route("w1")
        holder = pool.state.work["w1"].agent_id
        other = "b" if holder == "a" else "a"
        pool(Heartbeat, dt=1, agent_id=holder)
        pool(Heartbeat, dt=0, agent_id=other)
        out = pool(Heartbeat, dt=90, agent_id=other)
        assert out == [] and not pool.state.agents[holder].lost
        assert pool.state.work["w1"].agent_id == holder
        for _ in range(4):  # the holder stays silent while the other keeps beating
            for _ in range(20):
                pool(Tick, dt=1)
            pool(Heartbeat, dt=0, agent_id=other)
        assert pool.state.agents[holder].lost
        assert ("revoked", holder, "w1") in kinds(pool.log)

    def test_an_offer_outstanding_while_the_router_was_not_running_keeps_its_time(self) -> None:
        """An offer made 10 s before the stack stopped for 90 s does not time out when the
        router comes back (its agent was not set away for time nobody could answer in):
        it is announced again with its new deadline and times out after the rest of its
        45 s of running clock, as any offer does."""
        pool = Pool(PoolPolicy(pool="p", offer_timeout_s=45, heartbeat_grace_s=600),
                    a=dict(auto=False))
        pool.login("a")
        pool.route("w1")
        assert pool.state.work["w1"].status == "offered"
        first = pool.offer_of("w1")
        pool(Tick, dt=10)
        out = pool(Heartbeat, dt=90, agent_id="a")
        assert pool.state.agents["a"].presence == "available"
        # announced again, same offer, with its new deadline: agent apps hide an offer
        # whose announced deadline has passed (the user run's agent never saw it)
        assert [(d.kind, d.offer_id, d.rule) for d in out] == [
            (Kind.OFFERED, first.offer_id, OFFER_RENEWED)]
        assert out[0].expires_at == first.expires_at + 90 == pool.now + 35
        for _ in range(34):
            assert pool(Tick, dt=1) == []
        out = pool(Tick, dt=1.5)
        assert [(d.kind, d.work_id) for d in out][:1] == [(Kind.RESCINDED, "w1")]
        assert pool.state.agents["a"].presence == "away"

    @pytest.mark.parametrize("direct", [True, False])
    def test_requests_written_straight_into_the_pool_say_nothing_of_the_agents_hop(
            self, direct: bool) -> None:
        """Conversations keep arriving straight from the worker while the repartition hop,
        which carries the agents' heartbeats, stalls: nobody is marked lost before the
        input stall time. The same requests through the hop do date the agent's silence."""
        pool = Pool(PoolPolicy(pool="p", heartbeat_grace_s=60), a=dict(auto=True))
        pool.login("a")
        for n in range(70):
            pool.route(f"w{n}", direct=direct)
        assert pool.state.agents["a"].lost is not direct


class TestSmaller:
    def test_a_silent_agent_loses_the_pin_and_their_other_offers(self) -> None:
        """Offer time-out: the agent goes away, every pending offer of theirs is rescinded,
        and a sticky pin to them is dropped."""
        pool = Pool(PoolPolicy(pool="p", offer_timeout_s=10, sticky_s=600),
                    a=dict(cap=AgentCapacity(2)), b={})
        pool.login("a")
        pool.route("w1")
        pool.route("w2", last_agent="a")
        pool(SetPresence, agent_id="b", presence="available")
        out = pool(Tick, dt=11)
        rescinded = {d.work_id for d in out if d.kind is Kind.RESCINDED}
        assert rescinded == {"w1", "w2"}
        assert pool.state.work["w2"].pin_agent is None

    def test_batch_requeues_keep_priority_order(self) -> None:
        """A lost agent's work goes back highest priority first."""
        pool = Pool(PoolPolicy(pool="p", heartbeat_grace_s=30),
                    a=dict(cap=AgentCapacity(2), auto=True), b=dict(auto=True))
        pool.login("a")
        pool.route("w0", priority=1)
        pool.route("w1", priority=9)
        pool(SetPresence, agent_id="b", presence="available")
        pool(Heartbeat, dt=25, agent_id="b")
        out = pool(Heartbeat, dt=25, agent_id="b")
        assert [d.work_id for d in out if d.kind is Kind.ASSIGNED] == ["w1"]

    def test_sticky_pin_ends_when_the_agent_goes_offline(self) -> None:
        """Work waiting for its last agent goes to anyone once that agent is offline."""
        pool = Pool(PoolPolicy(pool="p", sticky_s=600), a=dict(auto=True), b=dict(auto=True))
        pool.login("a", "b")
        pool.route("w0")
        pool.route("w9")
        holder = pool.state.work["w0"].agent_id
        pool.route("w1", last_agent=holder)
        other = "b" if holder == "a" else "a"
        pool(Resolve, agent_id=other, work_id="w9")
        out = pool(SetPresence, agent_id=holder, presence="offline")
        assert ("assigned", other, "w1") in kinds(out)

    def test_timers_follow_a_new_policy(self) -> None:
        """A TTL removed at runtime parks nothing; one shortened applies from pool entry."""
        pool = Pool(PoolPolicy(pool="p", ttl_s=100))
        pool.route("w1")
        pool(Configure, policy=PoolPolicy(pool="p"), fingerprint="no-ttl")
        assert pool(Tick, dt=200) == []
        pool.route("w2")
        pool(Configure, policy=PoolPolicy(pool="p", ttl_s=5), fingerprint="short")
        pool(Tick, dt=6)
        assert {d.work_id for d in pool.log if d.kind is Kind.PARKED} == {"w1", "w2"}

    def test_timers_fire_at_their_own_time(self) -> None:
        """A timer's decisions carry its due time, not the input that moved the clock."""
        pool = Pool(PoolPolicy(pool="p", offer_timeout_s=10), a={})
        pool.login("a")
        pool.route("w1")
        offered = pool.offer_of("w1")
        out = pool(Tick, dt=25)
        assert out[0].kind is Kind.RESCINDED and out[0].at == offered.expires_at

    def test_configuration_below_load_is_reported_and_gives_nothing_new(self) -> None:
        """Capacity lowered below what the agent holds: noted, no new work."""
        pool = Pool(a=dict(cap=AgentCapacity(3), auto=True))
        pool.login("a")
        for n in range(3):
            pool.route(f"w{n}")
        out = pool(Configure, policy=PoolPolicy(pool="p"),
                   agents=profiles(a=dict(cap=AgentCapacity(1), auto=True)), fingerprint="small")
        assert out[0].inputs["over_capacity"] == ["a"]
        assert kinds(pool.route("w9")) == [("queued", None, "w9")]

    def test_accept_is_untouched(self) -> None:
        """(Control) accepting an offer still assigns."""
        pool = Pool(a={})
        pool.login("a")
        pool.route("w1")
        offer = pool.offer_of("w1")
        out = pool(Accept, agent_id="a", offer_id=offer.offer_id, work_id="w1")
        assert kinds(out) == [("assigned", "a", "w1")]


class TestPresenceOfAnAgentPutBack:
    """User run 20 (2026-12-06): an admin removed jun, then restored the version naming him;
    his console still said "available" and heartbeated, the pool had him offline, and the
    customer waiting in his pool was offered to nobody."""

    def put_back(self) -> Pool:
        pool = Pool(PoolPolicy(pool="p", heartbeat_grace_s=3600), a=dict())
        pool.login("a")
        pool(Configure, agents=(), fingerprint="without a")
        assert "a" not in pool.state.agents
        pool.route("w1")
        pool(Configure, agents=profiles(a=dict()), fingerprint="a again")
        return pool

    def test_the_presence_his_heartbeat_carries_is_taken_by_a_pool_that_has_not_heard_his(
            self) -> None:
        pool = self.put_back()
        assert pool.state.agents["a"].presence == "offline"
        assert kinds(pool(Heartbeat, agent_id="a", presence="available")) == [
            ("offered", "a", "w1")]
        assert pool.state.agents["a"].heard

    def test_once_heard_a_heartbeats_presence_changes_nothing(self) -> None:
        """His own "away" after the put-back stands against a heartbeat that still carries
        the gateway's older "available"; so does the router's away after a missed offer."""
        pool = self.put_back()
        pool(SetPresence, agent_id="a", presence="away")
        assert kinds(pool(Heartbeat, agent_id="a", presence="available")) == []
        assert pool.state.agents["a"].presence == "away"

    def test_a_heartbeat_without_presence_or_with_the_same_one_offers_nothing(self) -> None:
        pool = self.put_back()
        assert kinds(pool(Heartbeat, agent_id="a")) == []
        assert kinds(pool(Heartbeat, agent_id="a", presence="offline")) == []
        assert pool.state.agents["a"].heard  # offline, as his app said
        assert kinds(pool(Heartbeat, agent_id="a", presence="available")) == []

    def test_an_agent_heard_before_keeps_his_presence_through_heartbeats(self) -> None:
        pool = Pool(PoolPolicy(pool="p", heartbeat_grace_s=3600), a=dict())
        pool.login("a")
        pool(SetPresence, agent_id="a", presence="offline")
        assert kinds(pool(Heartbeat, agent_id="a", presence="available")) == []
        assert pool.state.agents["a"].presence == "offline"


class TestAnAgentMovedToAnotherPool:
    """User run 21 (2026-12-06): an admin moved ada from support to billing, and the
    conversations she held in support went back to its queue: her customers, mid-
    conversation, were offered to other agents. She now takes them with her."""

    def support(self) -> Pool:
        """ada holds w1 (accepted) and is offered w2; jun is on duty."""
        pool = Pool(PoolPolicy(pool="support"), ada=dict(cap=AgentCapacity(2)), jun={})
        pool.login("ada")
        pool.route("w1")
        pool.accept("w1")
        pool.route("w2")
        assert pool.offer_of("w2").agent_id == "ada"
        pool.login("jun")
        return pool

    def move_ada(self, pool: Pool, moved: dict[str, str]) -> list[Any]:
        return pool(Configure, policy=PoolPolicy(pool="support"), agents=profiles(jun={}),
                    fingerprint="without ada", moved=moved)

    def test_her_conversations_go_with_her_and_stay_hers(self) -> None:
        support = self.support()
        out = self.move_ada(support, {"ada": "billing"})
        assert ("revoked", "ada", "w1") not in kinds(out)
        (moved,) = [d for d in out if d.kind is Kind.FORWARDED]
        assert (moved.work_id, moved.target_pool, moved.forward.holder) == ("w1", "billing", "ada")
        assert support.offer_of("w2").agent_id == "jun"  # only offered to her: it stays
        assert "w1" not in support.state.work and "ada" not in support.state.agents

        billing = Pool(PoolPolicy(pool="billing"), ada=dict(cap=AgentCapacity(2)))
        billing.now = support.now
        arrived = billing(Route, **{k: getattr(moved.forward, k) for k in (
            "work_id", "customer_id", "channel", "waiting_since", "pin_agent", "hops",
            "holder")})
        assert kinds(arrived) == [("assigned", "ada", "w1")]  # no offer: she already had it
        assert billing.state.agents["ada"].load == 1
        # her next events reach billing (the configuration names it): it closes the work
        done = billing(Resolve, agent_id="ada", work_id="w1")
        assert ("completed", "ada", "w1") in kinds(done)
        assert billing.state.agents["ada"].load == 0

    def test_removed_from_routing_her_conversations_go_back_to_the_queue(self) -> None:
        """(Control) removed, not moved: her work is revoked and requeued, as before."""
        support = self.support()
        out = self.move_ada(support, {})
        assert ("revoked", "ada", "w1") in kinds(out)
        assert not [d for d in out if d.kind is Kind.FORWARDED]

    def test_a_holder_the_new_pool_does_not_know_is_not_assigned_there(self) -> None:
        """The new pool's configuration precedes the forward in its stream; should it not,
        nobody unknown is assigned: the work is routed like any other."""
        billing = Pool(PoolPolicy(pool="billing"), bo={})
        billing.login("bo")
        out = billing(Route, work_id="w1", customer_id="c1", channel="webchat",
                      pin_agent="ada", hops=1, holder="ada")
        assert kinds(out) == [("offered", "bo", "w1")]
        assert "ada" not in billing.state.agents
