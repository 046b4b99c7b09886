"""What TaskRouter / Omni-Channel users expect of the routing core: agents in several
queues with one capacity, ordered routing targets with their own timeouts, best-match
selection by proficiency, holidays in business hours, and the indexes that keep
selection from scanning agents who have no room for the work's channel."""

from __future__ import annotations

from typing import Any

import pytest

from omniroute.errors import ConfigurationError
from omniroute.routing.config import parse_agent, parse_config, parse_policy
from omniroute.routing.events import Decision, Kind, Resolve, Tick
from omniroute.routing.policy import (
    AgentCapacity,
    ChannelRule,
    PoolPolicy,
    Selection,
    Target,
    queue_skill,
)
from omniroute.routing.snapshot import dump, load
from unit.routing.test_semantics import MONDAY_9AM_UTC, Pool


def _assigned(out: list[Decision]) -> list[tuple[str | None, str | None]]:
    return [(d.work_id, d.agent_id) for d in out if d.kind is Kind.ASSIGNED]


def _queues(*names: str, **skills: int) -> dict[str, int]:
    return {**skills, **{queue_skill(n): 0 for n in names}}


class TestRoomIndex:
    def test_email_skips_agents_without_room_through_the_index(self) -> None:
        cap = AgentCapacity(3, {"email": ChannelRule(2, 1)})
        agents = {f"a{i:02d}": {"cap": cap, "auto": True} for i in range(20)}
        pool = Pool(PoolPolicy(pool="p", heartbeat_grace_s=1e9), **agents,
                    z={"cap": cap, "auto": True})
        pool.login(*agents)
        for i in range(20):  # every a.. gets two chats: room 1, no room for an email
            pool.route(f"c{i}")
            pool.route(f"d{i}")
        pool.login("z")  # idle for the shortest time: last in selection order
        out = pool.route("mail", channel="email")
        offer = next(d for d in out if d.kind is Kind.ASSIGNED)
        assert offer.agent_id == "z"
        assert offer.inputs["agents_checked"] == 1  # not the 20 agents with room 1

    def test_channel_at_its_cap_is_blocked_and_freed_again(self) -> None:
        cap = AgentCapacity(3, {"whatsapp": ChannelRule(1, 1)})
        pool = Pool(PoolPolicy(pool="p"), a={"cap": cap, "auto": True})
        pool.login("a")
        pool.route("w1", channel="whatsapp")
        queued = pool.route("w2", channel="whatsapp")
        assert [d.kind for d in queued] == [Kind.QUEUED]
        assert _assigned(pool.route("chat")) == [("chat", "a")]
        out = pool(Resolve, agent_id="a", work_id="w1")
        assert ("w2", "a") in _assigned(out)


class TestQueues:
    def test_one_capacity_across_queues(self) -> None:
        pool = Pool(PoolPolicy(pool="p", targets=(Target("billing"),)),
                    ada={"skills": _queues("billing", "sales"), "auto": True})
        assert pool.state.policy.targets
        pool.login("ada")
        assert _assigned(pool.route("b1")) == [("b1", "ada")]
        pool.state.policy = PoolPolicy(pool="p", targets=(Target("sales"),))
        out = pool.route("s1")  # ada is in sales too, but her one conversation fills her
        assert [d.kind for d in out] == [Kind.QUEUED]
        assert out[0].inputs["needs"] == {"queue:sales": 0}
        out = pool(Resolve, agent_id="ada", work_id="b1")
        assert ("s1", "ada") in _assigned(out)

    def test_only_members_of_the_target_queue(self) -> None:
        pool = Pool(PoolPolicy(pool="p", targets=(Target("billing"),)),
                    bob={"auto": True}, ada={"skills": _queues("billing"), "auto": True})
        pool.login("bob", "ada")
        assert _assigned(pool.route("b1")) == [("b1", "ada")]
        assert [d.kind for d in pool.route("b2")] == [Kind.QUEUED]  # bob is idle, not a member

    def test_agent_config_queues_become_memberships(self) -> None:
        profile = parse_agent("ada", {"pool": "p", "queues": ["billing", "sales"],
                                      "skills": {"fr": 2}})
        assert profile.skills == {"fr": 2, "queue:billing": 0, "queue:sales": 0}
        with pytest.raises(ValueError, match="queue"):
            parse_agent("ada", {"pool": "p", "queues": ["bad name"]})


class TestTargets:
    def policy(self, **extra: Any) -> PoolPolicy:
        return PoolPolicy(pool="p", targets=(Target("tier1", 30.0), Target("tier2", 60.0),
                                             Target(None)), **extra)

    def test_each_target_for_its_timeout_then_the_next(self) -> None:
        pool = Pool(self.policy(), t1={"skills": _queues("tier1")},
                    t2={"skills": _queues("tier2"), "auto": True}, anyone={"auto": True})
        pool.login("t2", "anyone")  # t1 never shows up
        out = pool.route("w")
        assert out[0].kind is Kind.QUEUED and out[0].inputs["target"] == 0
        assert pool(Tick, dt=29.0) == []
        out = pool(Tick, dt=1.0)  # 30 s in tier1: tier2 now
        assert _assigned(out) == [("w", "t2")] and out[-1].inputs["target"] == 1

    def test_after_both_timeouts_anyone(self) -> None:
        pool = Pool(self.policy(), t2={"skills": _queues("tier2"), "auto": True},
                    anyone={"auto": True})
        pool.login("anyone")
        pool.route("w")
        assert pool(Tick, dt=30.0)[-1].inputs == {"event": f"e{pool.n}", "needs":
                                                   {"queue:tier2": 0}, "queued": 1,
                                                   "target": 1}
        assert _assigned(pool(Tick, dt=59.0)) == []
        assert _assigned(pool(Tick, dt=1.0)) == [("w", "anyone")]

    def test_last_target_timeout_parks_or_overflows(self) -> None:
        policy = PoolPolicy(pool="p", targets=(Target("tier1", 10.0),))
        pool = Pool(policy, bob={"auto": True})
        pool.login("bob")
        pool.route("w")
        out = pool(Tick, dt=10.0)
        assert [(d.kind, d.reason) for d in out] == [(Kind.PARKED, "routing targets exhausted")]

    def test_config_rejects_a_target_without_timeout_before_the_last(self) -> None:
        with pytest.raises(ValueError, match="only the last"):
            parse_policy("p", {"targets": [{"queue": "a"}, {"queue": "b", "timeout_s": 5}]})
        policy = parse_policy("p", {"targets": [{"queue": "a", "timeout_s": 5}, {}]})
        assert policy.targets == (Target("a", 5.0), Target(None, None))

    def test_snapshot_keeps_the_target_step(self) -> None:
        pool = Pool(self.policy(), t2={"skills": _queues("tier2")})
        pool.route("w")
        pool(Tick, dt=31.0)
        restored = load(dump("p", 1, pool.state))
        assert restored is not None
        assert restored.state.work["w"].target_step == 1
        assert restored.state.policy.targets == pool.state.policy.targets


class TestBestMatch:
    def test_highest_level_wins_over_longest_idle(self) -> None:
        pool = Pool(PoolPolicy(pool="p", selection=Selection.BEST_MATCH),
                    low={"skills": {"fr": 1}, "auto": True},
                    high={"skills": {"fr": 5}, "auto": True},
                    mid={"skills": {"fr": 3}, "auto": True})
        pool.login("low", "high", "mid")
        assert _assigned(pool.route("w1", skills={"fr": 1})) == [("w1", "high")]
        assert _assigned(pool.route("w2", skills={"fr": 1})) == [("w2", "mid")]

    def test_sum_of_levels_over_needed_skills(self) -> None:
        pool = Pool(PoolPolicy(pool="p", selection=Selection.BEST_MATCH),
                    a={"skills": {"fr": 5, "billing": 1}, "auto": True},
                    b={"skills": {"fr": 3, "billing": 4}, "auto": True},
                    c={"skills": {"fr": 4, "billing": 3}, "auto": True})
        pool.login("a", "b", "c")
        out = pool.route("w", skills={"fr": 1, "billing": 1})
        assert _assigned(out) == [("w", "b")]  # 7 beats 6 (a) and 7 (c idle less)

    def test_equal_scores_longest_idle_and_no_skill_is_longest_idle(self) -> None:
        pool = Pool(PoolPolicy(pool="p", selection=Selection.BEST_MATCH),
                    a={"skills": {"fr": 2}, "auto": True}, b={"skills": {"fr": 2}, "auto": True})
        pool.login("b", "a")
        assert _assigned(pool.route("w1", skills={"fr": 1})) == [("w1", "b")]
        assert _assigned(pool.route("w2")) == [("w2", "a")]

    def test_nobody_fits(self) -> None:
        pool = Pool(PoolPolicy(pool="p", selection=Selection.BEST_MATCH),
                    a={"skills": {"fr": 2}, "auto": True})
        pool.login("a")
        assert [d.kind for d in pool.route("w", skills={"fr": 3})] == [Kind.QUEUED]


class TestHolidays:
    CONFIG = {
        "routing": {"calendars": {"fr": {"holidays": ["2023-11-21"]}}},
        "pools": {"p": {"heartbeat_grace_s": 1e9, "business_hours": {"timezone": "Europe/Paris",
                                           "mon": ["00:00-24:00"], "tue": ["00:00-24:00"],
                                           "holidays": ["2023-11-22"], "calendars": ["fr"]}}},
    }

    def test_calendar_and_pool_holidays_close_the_pool_in_its_time_zone(self) -> None:
        config = parse_config(self.CONFIG)
        document = config.pool_document("p")
        assert document["policy"]["business_hours"]["holidays"] == ["2023-11-21", "2023-11-22"]
        hours = parse_policy("p", document["policy"]).business_hours
        assert hours is not None
        assert hours.is_open(MONDAY_9AM_UTC)
        assert not hours.is_open(MONDAY_9AM_UTC + 86_400)  # Tuesday 21st: a holiday
        # Monday 23:30 UTC is already Tuesday 00:30 in Paris: closed
        assert not hours.is_open(MONDAY_9AM_UTC + 14.5 * 3600)
        assert hours.is_open(MONDAY_9AM_UTC + 14.5 * 3600 - 3600)

    def test_holiday_queues_and_opening_drains(self) -> None:
        policy = parse_policy("p", parse_config(self.CONFIG).pool_document("p")["policy"])
        pool = Pool(policy, a={"auto": True})
        pool.now += 86_400  # Tuesday, a holiday
        pool.login("a")
        out = pool.route("w")
        assert [(d.kind, d.rule) for d in out] == [(Kind.QUEUED, "pool closed")]
        assert _assigned(pool(Tick, dt=86_400.0)) == []  # Wednesday: a holiday too
        assert _assigned(pool(Tick, dt=5 * 86_400.0)) == [("w", "a")]  # next Monday

    def test_bad_dates_and_unknown_calendars_are_refused(self) -> None:
        bad = {"pools": {"p": {"business_hours": {"holidays": ["2023-02-30"]}}}}
        with pytest.raises(ConfigurationError, match="2023-02-30"):
            parse_config(bad)
        unknown = {"pools": {"p": {"business_hours": {"calendars": ["nope"]}}}}
        with pytest.raises(ConfigurationError, match="nope"):
            parse_config(unknown)


class TestStats:
    def test_real_time_and_today_figures(self) -> None:
        from omniroute.routing.events import Cancel, Decline
        from omniroute.routing.stats import pool_stats

        pool = Pool(PoolPolicy(pool="p", heartbeat_grace_s=1e9, targets=(Target("vip"),)),
                    ada={"skills": _queues("vip"), "cap": AgentCapacity(1)},
                    bob={"skills": _queues("vip"), "auto": True, "cap": AgentCapacity(1)},
                    cy={})
        pool.login("ada", "bob")
        pool.route("w1")  # offered to ada (logged in first)
        pool.route("w2", dt=4.0)  # assigned to bob after 0 s
        pool.route("w3", dt=1.0)  # waits
        pool.route("w4", dt=1.0)  # waits
        offer = pool.offer_of("w1")
        pool(Decline, agent_id="ada", offer_id=offer.offer_id, work_id="w1")
        pool(Cancel, work_id="w4", reason="customer left")
        pool(Resolve, agent_id="bob", work_id="w2", dt=10.0)  # bob takes w1 (oldest)
        pool.route("w5")  # ada has w3 (offered when she declined w1), bob has w1: waits
        stats = pool_stats(pool.state, pool.now + 2.0)
        assert stats["waiting"] == 1 and stats["longest_wait_s"] == 2.0  # w5
        assert stats["in_progress"] == 1 and stats["offered"] == 1
        assert stats["agents"]["full"] == 2 and stats["agents"]["offline"] == 1
        # what a worker's expected wait uses: agents on duty (full too), their free slots
        assert stats["staffing"] == {"available": 2, "free_slots": 0, "concurrency": 1}
        assert stats["queues"] == {"vip": {"waiting": 1, "longest_wait_s": 2.0, "agents": {
            "available": 0, "idle": 0, "full": 2, "busy": 0, "away": 0, "offline": 0,
            "lost": 0}}}
        today = stats["today"]
        assert today["day"] == "2023-11-20"
        assert (today["offered"], today["assigned"], today["declined"], today["abandoned"]) \
            == (4, 2, 1, 1)
        waits = [d.inputs["waited_s"] for d in pool.log if d.kind is Kind.ASSIGNED]
        assert today["average_wait_s"] == round(sum(waits) / 2, 3)
        assert today["longest_wait_s"] == max(waits)
        pool(Resolve, agent_id="bob", work_id="w1", dt=1.0)  # bob takes w5
        pool(Resolve, agent_id="bob", work_id="w5", dt=1.0)  # nothing waits: bob is idle
        assert pool_stats(pool.state, pool.now)["staffing"] == {
            "available": 2, "free_slots": 1, "concurrency": 1}

    def test_the_priority_of_work_no_event_names_is_published(
            self, monkeypatch: pytest.MonkeyPatch) -> None:
        """History learns a conversation's priority from its offers: a queued one with a raised
        priority read P0 on the supervisor's board. The figures name the priority of waiting
        and offered work, the most urgent first, at most PRIORITIES_MAX of them."""
        from omniroute.routing import stats
        from omniroute.routing.stats import pool_stats

        pool = Pool(PoolPolicy(pool="p", heartbeat_grace_s=1e9), ada={})
        pool.login("ada")
        pool.route("w1", priority=5)  # offered to ada
        pool.route("w2", priority=80)
        pool.route("w3")  # priority 0: named by no figure
        pool.route("w4", priority=30)
        pool.route("w5", priority=80)
        figures = pool_stats(pool.state, pool.now)
        assert list(figures["priorities"].items()) == [
            ("w2", 80), ("w5", 80), ("w4", 30), ("w1", 5)]
        assert figures["priorities_complete"] is True
        pool.accept("w1")  # held: no longer waiting
        assert "w1" not in pool_stats(pool.state, pool.now)["priorities"]
        monkeypatch.setattr(stats, "PRIORITIES_MAX", 2)
        figures = pool_stats(pool.state, pool.now)
        assert (figures["priorities"], figures["priorities_complete"]) == (
            {"w2": 80, "w5": 80}, False)

    def test_published_staffing_reads_what_pool_stats_publishes(self) -> None:
        from omniroute.routing.stats import TRUSTED_S, pool_stats, published_staffing

        pool = Pool(PoolPolicy(pool="p", heartbeat_grace_s=1e9), ada={"auto": True},
                    bob={"auto": True})
        pool.login("ada")
        pool.login("bob")
        pool.route("w1")
        doc = {**pool_stats(pool.state, pool.now), "published_at": 500.0}
        figures = published_staffing(doc)
        assert figures is not None
        assert (figures.available, figures.free_slots, figures.waiting) == (2, 1, 0)
        assert figures.trusted(500.0 + TRUSTED_S) and not figures.trusted(500.1 + TRUSTED_S)
        # an older router's figures (no staffing), unpublished ones, and what is not figures
        assert published_staffing({k: v for k, v in doc.items() if k != "staffing"}) is None
        assert published_staffing({**doc, "published_at": None}) is None
        assert published_staffing({**doc, "staffing": {"free_slots": 1}}) is None
        assert published_staffing([doc]) is None

    def test_counters_restart_each_local_day_and_survive_a_snapshot(self) -> None:
        from omniroute.routing.stats import pool_stats

        pool = Pool(PoolPolicy(pool="p", heartbeat_grace_s=1e9), a={"auto": True})
        pool.login("a")
        pool.route("w1")
        restored = load(dump("p", 1, pool.state))
        assert restored is not None and restored.state.today == pool.state.today
        assert pool_stats(pool.state, pool.now)["today"]["assigned"] == 1
        pool(Tick, dt=86_400.0)
        assert pool_stats(pool.state, pool.now)["today"]["assigned"] == 0
        assert pool_stats(pool.state, pool.now)["today"]["day"] == "2023-11-21"


class TestAdminApiDocuments:
    def test_queues_targets_and_calendars_through_the_admin_bodies(self) -> None:
        """The gateway's admin bodies accept queues and targets, and setting the rules
        keeps the holiday calendars (it used to replace the whole routing table)."""
        from omniroute.gateway.configuration import (
            AgentSpec,
            PoolSpec,
            RoutingSpec,
            put_agent,
            put_pool,
            set_routing,
            validated,
        )

        doc = {"routing": {"calendars": {"fr": {"holidays": ["2026-12-25"]}}},
               "pools": {"p": {}}, "agents": {}}
        doc = put_pool(doc, "p", PoolSpec(selection="best_match", targets=[
            {"queue": "a", "timeout_s": 5}, {}], business_hours={"calendars": ["fr"]}))
        doc = put_agent(doc, "ada", AgentSpec(pool="p", queues=["a"]))
        doc = set_routing(doc, RoutingSpec(default_pool="p"))
        config = validated(doc)
        policy = parse_policy("p", config.pool_document("p")["policy"])
        assert policy.targets == (Target("a", 5.0), Target())
        assert policy.business_hours is not None
        assert policy.business_hours.holidays == ("2026-12-25",)
        assert parse_agent("ada", config.agents["ada"]).skills == {"queue:a": 0}
