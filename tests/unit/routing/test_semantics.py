"""Example-based tests: one class per routing semantic, literal inputs, no fixtures."""

from __future__ import annotations

from typing import Any

from omniroute.routing.engine import decide, new_pool
from omniroute.routing.events import (
    Accept,
    Cancel,
    Configure,
    Decision,
    Decline,
    Heartbeat,
    Kind,
    RemoveAgent,
    Resolve,
    Route,
    SetCapacity,
    SetPresence,
    Tick,
    Transfer,
    UpsertAgent,
    WrapUp,
)
from omniroute.routing.policy import (
    AgentCapacity,
    AgentProfile,
    BusinessHours,
    ChannelRule,
    Overflow,
    PoolPolicy,
    RelaxStep,
    Selection,
)

MONDAY_9AM_UTC = 1_700_470_800.0  # 2023-11-20 09:00 UTC, a Monday


class Pool:
    """A pool driven by literal events; remembers every decision."""

    def __init__(self, policy: PoolPolicy | None = None, **agents: Any) -> None:
        profiles = tuple(AgentProfile(name, "p", spec.get("cap", AgentCapacity(1)),
                                      spec.get("skills", {}), spec.get("auto", False))
                         for name, spec in agents.items())
        self.state = new_pool(policy or PoolPolicy(pool="p"), profiles)
        self.now = MONDAY_9AM_UTC
        self.log: list[Decision] = []
        self.n = 0

    def __call__(self, cls: type, dt: float = 1.0, **fields: Any) -> list[Decision]:
        self.now += dt
        self.n += 1
        _, out = decide(self.state, cls(at=self.now, event_id=f"e{self.n}", **fields))
        self.log.extend(out)
        return out

    def login(self, *agents: str) -> None:
        for agent in agents:
            self(SetPresence, agent_id=agent, presence="available")

    def route(self, work: str, **fields: Any) -> list[Decision]:
        fields.setdefault("customer_id", f"cust-{work}")
        fields.setdefault("channel", "webchat")
        return self(Route, work_id=work, **fields)

    def offer_of(self, work: str) -> Decision:
        return [d for d in self.log if d.kind is Kind.OFFERED and d.work_id == work][-1]

    def accept(self, work: str) -> list[Decision]:
        offer = self.offer_of(work)
        return self(Accept, agent_id=offer.agent_id, offer_id=offer.offer_id, work_id=work)


def kinds(out: list[Decision]) -> list[tuple[str, str | None, str | None]]:
    return [(d.kind.value, d.agent_id, d.work_id) for d in out if d.kind is not Kind.REQUEUED]


class TestOffers:
    def test_offer_is_accepted_then_resolved(self) -> None:
        """An accepted offer becomes an assignment; resolve frees capacity and completes it."""
        pool = Pool(a=dict())
        pool.login("a")
        assert kinds(pool.route("w1")) == [("offered", "a", "w1")]
        assert kinds(pool.accept("w1")) == [("assigned", "a", "w1")]
        assert kinds(pool(Resolve, agent_id="a", work_id="w1")) == [
            ("resolved", "a", "w1"), ("completed", "a", "w1")]
        assert pool.state.agents["a"].load == 0

    def test_auto_accept_assigns_without_offer(self) -> None:
        """An auto-accepting agent gets an assignment straight away."""
        pool = Pool(a=dict(auto=True))
        pool.login("a")
        assert kinds(pool.route("w1")) == [("assigned", "a", "w1")]

    def test_timed_out_offer_requeues_keeping_age_and_sets_agent_away(self) -> None:
        """An unanswered offer is rescinded, the agent goes away, the next agent gets it."""
        pool = Pool(PoolPolicy(pool="p", offer_timeout_s=10), a=dict(), b=dict())
        pool.login("a")
        pool.route("w1")
        pool.login("b")
        out = pool(Tick, dt=11)
        assert kinds(out) == [("rescinded", "a", "w1"), ("offered", "b", "w1")]
        assert out[-1].inputs["waited_s"] == 10.0  # decided at the offer's expiry
        assert pool.state.agents["a"].presence == "away"

    def test_the_only_agent_back_from_away_is_offered_the_work_again(self) -> None:
        """A user run: the pool's only agent missed an offer (set away), chose available
        again and was never offered that mail again; it waited for ever. Set away, the
        agent may get it again once back; without away_on_offer_timeout (still available)
        they are not offered it again."""
        pool = Pool(PoolPolicy(pool="p", offer_timeout_s=10), a=dict())
        pool.login("a")
        pool.route("w1")
        assert kinds(pool(Tick, dt=11)) == [("rescinded", "a", "w1"), ("queued", None, "w1")]
        assert pool.state.agents["a"].presence == "away"
        assert kinds(pool(SetPresence, agent_id="a", presence="available")) == [
            ("offered", "a", "w1")]
        stays = Pool(PoolPolicy(pool="p", offer_timeout_s=10, away_on_offer_timeout=False),
                     a=dict(), b=dict(cap=AgentCapacity(0)))
        stays.login("a", "b")
        stays.route("w1")
        assert kinds(stays(Tick, dt=11)) == [("rescinded", "a", "w1"), ("queued", None, "w1")]
        assert stays.state.agents["a"].presence == "available"
        assert kinds(stays(Tick, dt=11)) == []
        assert kinds(stays(SetCapacity, agent_id="b", capacity=AgentCapacity(1))) == [
            ("offered", "b", "w1")]

    def test_decline_goes_to_another_agent_and_never_back(self) -> None:
        """A declined offer goes to the next agent; the decliner is not offered it again."""
        pool = Pool(a=dict(), b=dict(cap=AgentCapacity(0)))
        pool.login("a", "b")
        offer = pool.route("w1")[0]
        out = pool(Decline, agent_id="a", offer_id=offer.offer_id, work_id="w1", reason="lunch")
        assert kinds(out)[0] == ("rescinded", "a", "w1")
        assert out[0].reason == "declined: lunch"
        assert pool.state.work["w1"].status == "queued"
        assert kinds(pool(SetCapacity, agent_id="b", capacity=AgentCapacity(1))) == [
            ("offered", "b", "w1")]


class TestRejections:
    def test_bad_agent_events_are_rejected_and_change_nothing(self) -> None:
        """Unknown agent, someone else's offer, an expired offer, capacity below load."""
        pool = Pool(PoolPolicy(pool="p", offer_timeout_s=5), a=dict(cap=AgentCapacity(2)),
                    b=dict())
        pool.login("a")
        offer = pool.route("w1")[0]
        pool.route("w2")
        before = (pool.state.agents["a"].load, pool.state.work["w1"].status)
        out = pool(Accept, agent_id="ghost", offer_id=offer.offer_id, work_id="w1")
        assert out[0].kind is Kind.REJECTED and out[0].reason == "unknown agent in this pool"
        out = pool(Accept, agent_id="b", offer_id=offer.offer_id, work_id="w1")
        assert out[0].reason == "offer belongs to another agent"
        out = pool(SetCapacity, agent_id="a", capacity=AgentCapacity(1))
        assert out[0].reason == "capacity below current load (load 2, total 1)"
        assert (pool.state.agents["a"].load, pool.state.work["w1"].status) == before
        pool(Tick, dt=10)
        out = pool(Accept, agent_id="a", offer_id=offer.offer_id, work_id="w1")
        assert out[0].reason == "offer unknown, expired or already answered"


class TestRepeatedAnswers:
    """An app that retries a call whose first write landed sends the same answer twice
    (with a new event id): the repeat is ignored, not refused, and changes nothing."""

    @staticmethod
    def ignored(out: list[Decision]) -> list[str]:
        assert all(d.kind is not Kind.REJECTED for d in out), [d.reason for d in out]
        return [d.rule for d in out if d.kind is Kind.IGNORED]

    def test_accept_decline_wrap_up_and_resolve_again(self) -> None:
        pool = Pool(PoolPolicy(pool="p", wrap_up_timeout_s=30), a=dict(cap=AgentCapacity(2)),
                    b=dict(cap=AgentCapacity(0)))
        pool.login("a", "b")
        pool.route("w1")
        offer = pool.offer_of("w1")
        pool.accept("w1")
        load = pool.state.agents["a"].load
        assert self.ignored(pool.accept("w1")) == ["repeated agent event: offer already accepted"]
        assert pool.state.agents["a"].load == load and pool.state.work["w1"].status == "assigned"
        assert self.ignored(pool(WrapUp, agent_id="a", work_id="w1")) == []
        assert self.ignored(pool(WrapUp, agent_id="a", work_id="w1")) == [
            "repeated agent event: already wrapping up"]
        assert self.ignored(pool(Accept, agent_id="a", offer_id=offer.offer_id,
                                 work_id="w1")) == ["repeated agent event: offer already accepted"]
        assert kinds(pool(Resolve, agent_id="a", work_id="w1"))[-1] == ("completed", "a", "w1")
        assert self.ignored(pool(Resolve, agent_id="a", work_id="w1")) == [
            "repeated agent event: already resolved"]

        second = pool.route("w2")[0]
        pool(Decline, agent_id="a", offer_id=second.offer_id, work_id="w2", reason="lunch")
        assert self.ignored(pool(Decline, agent_id="a", offer_id=second.offer_id, work_id="w2",
                                 reason="lunch")) == ["repeated agent event: offer already declined"]
        assert pool.state.work["w2"].status == "queued" and "a" in pool.state.work["w2"].excluded

    def test_a_resolve_after_the_wrap_up_timeout_closed_it_is_ignored(self) -> None:
        pool = Pool(PoolPolicy(pool="p", wrap_up_timeout_s=30), a=dict(auto=True))
        pool.login("a")
        pool.route("w1")
        pool(WrapUp, agent_id="a", work_id="w1")
        pool(Tick, dt=31)
        assert "w1" not in pool.state.work
        assert self.ignored(pool(Resolve, agent_id="a", work_id="w1")) == [
            "repeated agent event: already resolved"]

    def test_only_the_same_agent_within_dedupe_s_is_a_repeat(self) -> None:
        pool = Pool(PoolPolicy(pool="p", dedupe_s=60), a=dict(auto=True), b=dict(auto=True))
        pool.login("a", "b")
        pool.route("w1")
        holder = pool.state.work["w1"].agent_id
        other = "b" if holder == "a" else "a"
        pool(Resolve, agent_id=holder, work_id="w1")
        assert pool(Resolve, agent_id=other, work_id="w1")[0].kind is Kind.REJECTED
        pool(Tick, dt=61)
        out = pool(Resolve, agent_id=holder, work_id="w1")
        assert out[0].kind is Kind.REJECTED and "w1" not in pool.state.closed

    def test_the_same_transfer_to_an_agent_again_is_ignored(self) -> None:
        """A transfer retried by the agent who made it (same target) changes nothing; to
        another target, or by an agent who never held it, it is refused, as is a resolve."""
        pool = Pool(a=dict(auto=True), b=dict(auto=True), c=dict(auto=True))
        pool.login("a", "b", "c")
        pool.route("w1")
        assert pool.state.work["w1"].agent_id == "a"
        pool(Transfer, agent_id="a", work_id="w1", target_agent="b")
        item = pool.state.work["w1"]
        where = (item.agent_id, item.status, item.pin_agent, pool.state.agents["b"].load)
        assert self.ignored(pool(Transfer, agent_id="a", work_id="w1", target_agent="b",
                                 target_pool="p")) == ["repeated agent event: already transferred"]
        assert (item.agent_id, item.status, item.pin_agent,
                pool.state.agents["b"].load) == where == ("b", "assigned", "b", 1)
        for refused in (dict(agent_id="a", target_agent="c"),
                        dict(agent_id="a", target_pool="billing"),
                        dict(agent_id="c", target_agent="b")):
            assert pool(Transfer, work_id="w1", **refused)[0].kind is Kind.REJECTED
        assert pool(Resolve, agent_id="a", work_id="w1")[0].kind is Kind.REJECTED
        assert pool.state.work["w1"].agent_id == "b"

    def test_the_same_transfer_to_a_pool_again_is_ignored(self) -> None:
        """A retried transfer to another pool is ignored (the pool forwarded it once); to
        another pool or agent it is refused, as is a resolve by the agent who sent it."""
        pool = Pool(a=dict(auto=True))
        pool.login("a")
        pool.route("w1")
        out = pool(Transfer, agent_id="a", work_id="w1", target_pool="billing", target_agent="x")
        assert out[-1].kind is Kind.FORWARDED
        out = pool(Transfer, agent_id="a", work_id="w1", target_pool="billing", target_agent="x")
        assert self.ignored(out) == ["repeated agent event: already transferred"]
        assert [d for d in out if d.kind is Kind.FORWARDED] == []
        for refused in (dict(target_pool="sales", target_agent="x"),
                        dict(target_pool="billing"), dict(target_pool="billing",
                                                          target_agent="y")):
            out = pool(Transfer, agent_id="a", work_id="w1", **refused)
            assert [d.kind for d in out] == [Kind.REJECTED]
        assert [d.kind for d in pool(Resolve, agent_id="a", work_id="w1")] == [Kind.REJECTED]

    def test_a_transfer_repeated_after_dedupe_s_is_refused(self) -> None:
        """The memory of a transfer is forgotten with closed work, after ``dedupe_s``."""
        pool = Pool(PoolPolicy(pool="p", dedupe_s=60), a=dict(auto=True), b=dict(auto=True))
        pool.login("a", "b")
        pool.route("w1")
        pool(Transfer, agent_id="a", work_id="w1", target_agent="b")
        assert self.ignored(pool(Transfer, dt=59, agent_id="a", work_id="w1",
                                 target_agent="b")) == ["repeated agent event: already transferred"]
        pool(Tick, dt=2)
        assert "w1" not in pool.state.closed
        out = pool(Transfer, agent_id="a", work_id="w1", target_agent="b")
        assert [d.kind for d in out] == [Kind.REJECTED]


class TestCapacity:
    def test_channel_weights_and_caps(self) -> None:
        """3 chats, or 1 email + 2 chats: the second email waits while chats still fit."""
        cap = AgentCapacity(3, {"email": ChannelRule(weight=1, cap=1)})
        pool = Pool(a=dict(cap=cap, auto=True))
        pool.login("a")
        pool.route("e1", channel="email")
        assert kinds(pool.route("e2", channel="email")) == [("queued", None, "e2")]
        assert kinds(pool.route("c1")) == [("assigned", "a", "c1")]
        pool.route("c2")
        assert kinds(pool.route("c3")) == [("queued", None, "c3")]
        out = pool(Resolve, agent_id="a", work_id="e1")
        assert kinds(out)[-1] == ("assigned", "a", "e2")


class TestPresence:
    def test_lost_agent_has_offers_rescinded_and_work_requeued(self) -> None:
        """No heartbeat past the grace: offers rescinded and, by policy, assigned work requeued."""
        pool = Pool(PoolPolicy(pool="p", heartbeat_grace_s=30, offer_timeout_s=100),
                    a=dict(cap=AgentCapacity(2)), b=dict(cap=AgentCapacity(2)))
        pool.login("a")
        pool.route("w1")
        pool.accept("w1")
        pool.route("w2")
        pool.login("b")
        for _ in range(4):
            pool(Heartbeat, dt=10, agent_id="b")
        assert pool.state.agents["a"].lost
        assert {(d.kind.value, d.work_id) for d in pool.log[-6:] if d.agent_id == "a"} == {
            ("rescinded", "w2"), ("revoked", "w1")}
        assert pool.state.work["w1"].agent_id == "b" and pool.state.work["w2"].agent_id == "b"

    def test_offline_keeps_assigned_work(self) -> None:
        """Going offline rescinds offers but capacity is only freed by resolve."""
        pool = Pool(a=dict(cap=AgentCapacity(2)))
        pool.login("a")
        pool.route("w1")
        pool.accept("w1")
        pool.route("w2")
        out = pool(SetPresence, agent_id="a", presence="offline")
        assert kinds(out)[0] == ("rescinded", "a", "w2")
        assert pool.state.work["w1"].status == "assigned"


class TestSelection:
    def test_longest_idle_least_occupied_and_round_robin(self) -> None:
        """Each rule picks its agent; ties break on agent id."""
        for selection, expected in ((Selection.LONGEST_IDLE, ["b", "a", "b"]),
                                    (Selection.LEAST_OCCUPIED, ["b", "a", "b"]),
                                    (Selection.ROUND_ROBIN, ["a", "b", "a"])):
            pool = Pool(PoolPolicy(pool="p", selection=selection),
                        a=dict(cap=AgentCapacity(3), auto=True),
                        b=dict(cap=AgentCapacity(3), auto=True))
            pool.login("b", "a")
            got = [pool.route(f"w{i}")[0].agent_id for i in range(3)]
            assert got == expected, selection


class TestSkills:
    def test_levels_and_timed_relaxation(self) -> None:
        """Work needing billing 3 waits for a level-3 agent, then relaxes to level 2."""
        policy = PoolPolicy(pool="p", relaxation=(RelaxStep(30, lower_by=1),))
        pool = Pool(policy, a=dict(skills={"billing": 2}, auto=True))
        pool.login("a")
        assert kinds(pool.route("w1", skills={"billing": 3})) == [("queued", None, "w1")]
        out = pool(Tick, dt=31)
        assert kinds(out) == [("assigned", "a", "w1")]


class TestOverflowStickyPriority:
    def test_overflow_forwards_keeping_age(self) -> None:
        """Still waiting after the overflow timeout: forwarded to the other pool."""
        pool = Pool(PoolPolicy(pool="p", overflow=Overflow(60, "q")))
        out = pool.route("w1") + pool(Tick, dt=61)
        forwarded = out[-1]
        assert forwarded.kind is Kind.FORWARDED and forwarded.target_pool == "q"
        assert forwarded.forward.waiting_since == MONDAY_9AM_UTC + 1 and forwarded.forward.hops == 1

    def test_work_taken_back_overflows_after_waiting_again_not_for_its_age(self) -> None:
        """A user run: an admin removed billing's only agent; the two conversations he held
        went back to billing's queue and waited there for ever, the pool's overflow never
        firing for work once served. Its limits count again from its return: not at once
        (it is not overflowed for its age), but after the overflow time."""
        pool = Pool(PoolPolicy(pool="p", overflow=Overflow(60, "q"), heartbeat_grace_s=1e6),
                    a=dict(auto=True))
        pool.login("a")
        assert kinds(pool.route("w1")) == [("assigned", "a", "w1")]
        out = pool(RemoveAgent, dt=300, agent_id="a")
        assert [d.kind for d in out if d.work_id == "w1"] == [
            Kind.REVOKED, Kind.REQUEUED, Kind.QUEUED]
        assert kinds(pool(Tick, dt=59)) == []
        forwarded = pool(Tick, dt=2)[-1]
        assert forwarded.kind is Kind.FORWARDED and forwarded.target_pool == "q"
        assert forwarded.forward.waiting_since == MONDAY_9AM_UTC + 2

    def test_sticky_waits_for_last_agent_until_expiry(self) -> None:
        """A returning customer waits for their last agent, then anyone."""
        pool = Pool(PoolPolicy(pool="p", sticky_s=60, heartbeat_grace_s=1e6),
                    a=dict(auto=True), b=dict(auto=True))
        pool.login("a", "b")
        assert kinds(pool.route("x")) == [("assigned", "a", "x")]  # a idled longest
        assert kinds(pool.route("w1", last_agent="a")) == [("queued", None, "w1")]
        assert kinds(pool(Tick, dt=61)) == [("assigned", "b", "w1")]

    def test_priority_first_then_fifo_with_vip_boost(self) -> None:
        """Higher priority first, FIFO within a priority; VIP raises priority."""
        pool = Pool(PoolPolicy(pool="p", vip_boost=5), a=dict(auto=True))
        pool.route("old", priority=1)
        pool.route("young", priority=1)
        pool.route("vip", priority=0, vip=True)
        pool.route("urgent", priority=3)
        pool.login("a")
        order = []
        for _ in range(4):
            order.append(pool.log[-1].work_id)
            pool(Resolve, agent_id="a", work_id=order[-1])
        assert order == ["vip", "urgent", "old", "young"]


class TestQueueLimits:
    def test_queue_cap_and_time_to_live(self) -> None:
        """Past the cap new work is dropped; waiting work expires after its time-to-live."""
        pool = Pool(PoolPolicy(pool="p", queue_cap=1, ttl_s=100))
        pool.route("w1")
        out = pool.route("w2")
        assert out[0].kind is Kind.PARKED and out[0].reason == "queue full"
        out = pool(Tick, dt=101)
        assert out[0].kind is Kind.PARKED and out[0].reason == "queue time-to-live expired"

    def test_business_hours_hold_work_until_opening(self) -> None:
        """Work routed while closed waits; at opening the backlog drains."""
        hours = BusinessHours("UTC", {0: ((10 * 60, 18 * 60),)})
        pool = Pool(PoolPolicy(pool="p", business_hours=hours, heartbeat_grace_s=1e6),
                    a=dict(auto=True))
        pool.login("a")
        assert kinds(pool.route("w1")) == [("queued", None, "w1")]
        assert kinds(pool(Tick, dt=3600)) == [("assigned", "a", "w1")]


class TestLifecycle:
    def test_wrap_up_holds_capacity_until_timeout_then_drains(self) -> None:
        """Wrap-up resolves the conversation, keeps capacity, frees it at the timeout."""
        pool = Pool(PoolPolicy(pool="p", wrap_up_timeout_s=30), a=dict(auto=True))
        pool.login("a")
        pool.route("w1")
        pool.route("w2")
        assert kinds(pool(WrapUp, agent_id="a", work_id="w1")) == [("resolved", "a", "w1")]
        assert kinds(pool(Tick, dt=31)) == [("completed", "a", "w1"), ("assigned", "a", "w2")]

    def test_transfer_to_agent_and_to_pool(self) -> None:
        """Transfer revokes from the source, then goes to the target agent or pool."""
        pool = Pool(a=dict(auto=True), b=dict(auto=True))
        pool.login("a", "b")
        pool.route("w1")
        pool.route("w2")
        out = pool(Transfer, agent_id="a", work_id="w1", target_agent="c")
        assert out[0].kind is Kind.REJECTED
        out = pool(Transfer, agent_id="b", work_id="w1", target_agent="a")
        assert out[0].kind is Kind.REJECTED
        holder = pool.state.work["w1"].agent_id
        other = "a" if holder == "b" else "b"
        pool(Resolve, agent_id=other, work_id="w2")
        out = pool(Transfer, agent_id=holder, work_id="w1", target_agent=other)
        assert kinds(out)[:3] == [("revoked", holder, "w1"), ("transferred", other, "w1"),
                                  ("assigned", other, "w1")]
        out = pool(Transfer, agent_id=other, work_id="w1", target_pool="billing")
        assert out[-1].kind is Kind.FORWARDED and out[-1].target_pool == "billing"

    def test_cancel_revokes_and_drains(self) -> None:
        """Canceling an assigned conversation frees the agent for the next one."""
        pool = Pool(a=dict(auto=True))
        pool.login("a")
        pool.route("w1")
        pool.route("w2")
        assert kinds(pool(Cancel, work_id="w1")) == [("revoked", "a", "w1"),
                                                       ("assigned", "a", "w2")]


class TestSupervisorMove:
    """A supervisor's re-route of waiting work is a move (``Cancel`` with ``to_pool``): the
    pool holding it forwards it, so one pool at a time owns the conversation (a user run's
    re-route left an offered email in billing while support routed it too: two agents
    were assigned it)."""

    def test_an_offered_conversation_is_rescinded_then_forwarded_keeping_its_age(
            self) -> None:
        pool = Pool(a={}, b={})
        pool.login("a", "b")
        pool.route("w1")
        offer = pool.offer_of("w1")
        out = pool(Cancel, work_id="w1", to_pool="support", reason="re-routed by sue",
                   priority=40)
        assert [(d.kind.value, d.agent_id, d.target_pool) for d in out] == [
            ("rescinded", offer.agent_id, None), ("forwarded", None, "support")]
        assert out[0].offer_id == offer.offer_id and out[0].reason == "re-routed by sue"
        route = out[1].forward
        assert (route.work_id, route.priority, route.waiting_since, route.hops) == (
            "w1", 40, MONDAY_9AM_UTC + 3, 1)
        late = pool(Accept, agent_id=offer.agent_id, offer_id=offer.offer_id, work_id="w1")
        assert [d.kind for d in late] != [Kind.ASSIGNED] and not any(
            d.kind is Kind.ASSIGNED for d in late)
        assert kinds(pool.route("w1"))[0][0] == "forwarded"  # later inputs follow it there

    def test_the_freed_agent_takes_the_next_waiting_conversation(self) -> None:
        pool = Pool(a={})
        pool.login("a")
        pool.route("w1")
        pool.route("w2")
        out = pool(Cancel, work_id="w1", to_pool="support", reason="moved")
        assert kinds(out) == [("rescinded", "a", "w1"), ("forwarded", None, "w1"),
                              ("offered", "a", "w2")]

    def test_queued_work_is_forwarded_and_the_target_pool_only_takes_the_priority(
            self) -> None:
        here = Pool()
        here.route("w1", priority=5, skills={"billing": 1})
        out = here(Cancel, work_id="w1", to_pool="support", reason="moved")
        assert [d.kind for d in out] == [Kind.FORWARDED] and out[0].forward.priority == 5
        assert out[0].forward.skills == {}  # the supervisor chose the pool: its agents take it
        there = Pool(PoolPolicy(pool="support"))
        there.route("w1")
        out = there(Cancel, work_id="w1", to_pool="support", reason="moved", priority=30)
        assert [d.kind for d in out] == [Kind.QUEUED]
        assert there.state.work["w1"].base_priority == 30

    def test_assigned_work_stays_with_its_agent(self) -> None:
        pool = Pool(a=dict(auto=True))
        pool.login("a")
        pool.route("w1")
        out = pool(Cancel, work_id="w1", to_pool="support", reason="moved")
        assert [(d.kind, d.agent_id) for d in out] == [(Kind.IGNORED, "a")]
        assert pool.state.work["w1"].agent_id == "a"

    def test_a_pool_without_the_work_does_nothing(self) -> None:
        assert Pool()(Cancel, work_id="w9", to_pool="support", reason="moved") == []

class TestConfiguration:
    def test_admin_changes_are_versioned(self) -> None:
        """Every applied change bumps the version recorded on later decisions."""
        pool = Pool()
        out = pool(Configure, policy=PoolPolicy(pool="p"), agents=(), fingerprint="f1")
        assert out[0].policy_version == 1
        assert pool(Configure, policy=PoolPolicy(pool="p"), fingerprint="f1") == []
        profile = AgentProfile("n", "p", AgentCapacity(1), auto_accept=True)
        pool(UpsertAgent, profile=profile)
        pool.login("n")
        assert pool.route("w1")[0].policy_version == 2


class TestUnparked:
    """Parked work routed again (``unparked``: why) that waits in the queue is announced as
    ``rerouted`` into the pool; offered at once, the offer says it (user run 51's board
    kept it under parked until an agent was offered it)."""

    def test_queued_unparked_work_is_announced_in_its_pool(self) -> None:
        from omniroute.contract.conversations import ConversationEvent
        from omniroute.routing.wire import outputs

        def announced(out: list[Decision]) -> list[tuple[str, str | None, str | None]]:
            return [(e.kind.value, e.pool, e.reason) for e in (
                ConversationEvent.from_json_bytes(value) for d in out
                for topic, _key, value in outputs(d, "default")
                if topic == "omniroute.conversations.v1")]

        pool = Pool(a=dict(), b=dict(), c=dict())
        out = pool.route("w1", unparked="re-routed by sue")
        assert kinds(out) == [("queued", None, "w1")]
        assert announced(out) == [("rerouted", "p", "re-routed by sue")]
        assert announced(pool.route("w2")) == []  # a first route is not news
        pool.login("a", "b", "c")  # two take w1 and w2; one is free
        out = pool.route("w3", unparked="customer wrote while parked")
        assert kinds(out) == [("offered", "c", "w3")] and announced(out) == []

    def test_a_request_that_was_not_parked_carries_no_mark(self) -> None:
        """Routers older than the mark refuse unknown fields: a request of a conversation
        that was not parked reads to them as before (no ``was_parked``, no ``unparked``)."""
        import json

        from omniroute.routing.requests import RoutingRequest
        from omniroute.routing.wire import request_record

        plain = RoutingRequest(event_id="r1", kind="route", conversation_id="c1",
                               customer_id="k1", channel="sms", reason="new conversation")
        assert b"was_parked" not in plain.to_json_bytes()
        assert "unparked" not in json.loads(request_record(plain, "p", 0.0)[2])["body"]
        marked = plain.model_copy(update={"was_parked": True})
        assert json.loads(marked.to_json_bytes())["was_parked"] is True
        assert json.loads(request_record(marked, "p", 0.0)[2])["body"]["unparked"] == (
            "new conversation")
