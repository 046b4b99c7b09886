"""Automation rules and SLA policies (pure, literal inputs)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from omniroute.automation.config import WorkspaceAutomation, parse_automation
from omniroute.automation.effects import apply_actions
from omniroute.automation.memory import ConversationMemory
from omniroute.automation.rules import Facts, RuleError, evaluate, parse_rule, parse_rules
from omniroute.automation.sla import (
    SlaClock,
    SlaPolicy,
    check,
    choose_policy,
    open_seconds,
    parse_policies,
    record,
)
from omniroute.errors import ConfigurationError
from omniroute.routing.policy import BusinessHours

T0 = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)  # Monday 08:00 UTC
WEEKDAYS_9_TO_17 = BusinessHours("UTC", {d: ((9 * 60, 17 * 60),) for d in range(5)})
ANGRY_REFUND = {
    "name": "angry-refund", "on": "message_received",
    "when": {"intent": ["refund", "billing"], "sentiment": "negative", "language": "ko"},
    "then": {"tag": ["refund", "angry"], "priority": 90, "skill": "billing",
             "reply": "refund_policy"},
}


def facts(**fields: object) -> Facts:
    base: dict[str, object] = {"event": "message_received", "channel": "sms", "language": "ko",
                               "intent": "refund", "sentiment": "negative"}
    return Facts(**{**base, **fields})  # type: ignore[arg-type]


class TestRules:
    """Event + conditions -> actions, each naming its rule."""

    def test_matching_rule_yields_its_actions_in_order(self) -> None:
        actions = evaluate(parse_rules([ANGRY_REFUND]), facts())
        assert [(a.rule, a.kind) for a in actions] == [
            ("angry-refund", "tag"), ("angry-refund", "priority"), ("angry-refund", "skill"),
            ("angry-refund", "reply")]

    @pytest.mark.parametrize("change", [
        {"event": "resolved"}, {"intent": "delivery"}, {"sentiment": "neutral"},
        {"language": "en"}])
    def test_any_condition_failing_means_no_action(self, change: dict[str, object]) -> None:
        assert evaluate(parse_rules([ANGRY_REFUND]), facts(**change)) == []

    def test_business_hours_tags_and_attributes(self) -> None:
        rule = parse_rule({"name": "vip-night", "on": "message_received",
                           "when": {"business_hours": False, "tags": ["vip"],
                                    "attributes": {"tier": ["gold", "platinum"]}},
                           "then": {"pool": "vip"}})
        fired = facts(business_hours=False, tags=frozenset({"vip"}),
                      attributes={"tier": "gold"})
        assert [a.value for a in evaluate([rule], fired)] == ["vip"]
        assert evaluate([rule], facts(business_hours=True, tags=frozenset({"vip"}),
                                      attributes={"tier": "gold"})) == []
        assert evaluate([rule], facts(business_hours=False, attributes={"tier": "gold"})) == []

    def test_idle_rule_waits_for_its_minutes(self) -> None:
        rule = parse_rule({"name": "nudge", "on": "idle", "idle_minutes": 30,
                           "then": {"reply": "still_there"}})
        assert evaluate([rule], facts(event="idle", idle_minutes=29)) == []
        assert len(evaluate([rule], facts(event="idle", idle_minutes=31))) == 1

    def test_an_idle_nudge_waits_on_the_customer_only(self) -> None:
        """User run 62: "Are you still there?" went to two customers still waiting for an
        agent's first reply. ``waiting = "customer"`` fires only after an agent wrote last."""
        rule = parse_rule({"name": "nudge", "on": "idle", "idle_minutes": 1,
                           "when": {"waiting": "customer"}, "then": {"reply": "still_there"}})
        assert evaluate([rule], facts(event="idle", idle_minutes=2, waiting="agent")) == []
        assert evaluate([rule], facts(event="idle", idle_minutes=2)) == []  # nobody wrote
        assert len(evaluate([rule], facts(event="idle", idle_minutes=2,
                                          waiting="customer"))) == 1
        with pytest.raises(RuleError, match="waiting must be customer or agent"):
            parse_rule({"name": "x", "on": "idle", "idle_minutes": 1,
                        "when": {"waiting": "bot"}, "then": {"tag": "x"}})

    def test_a_merge_keeps_whom_the_later_activity_waits_on(self) -> None:
        replied = ConversationMemory(conversation_id="c1", waiting="customer",
                                     last_activity_at=T0 + timedelta(minutes=5))
        wrote = ConversationMemory(conversation_id="c2", waiting="agent", last_activity_at=T0)
        assert replied.joined(wrote).waiting == wrote.joined(replied).waiting == "customer"

    @pytest.mark.parametrize(("raw", "message"), [
        ({"on": "message_received", "then": {"tag": "x"}}, "needs a name"),
        ({"name": "a", "on": "whenever", "then": {"tag": "x"}}, "on = 'whenever'"),
        ({"name": "a", "on": "resolved", "when": {"colour": "red"}, "then": {"tag": "x"}},
         "unknown condition 'colour'"),
        ({"name": "a", "on": "resolved", "then": {"explode": True}}, "unknown action"),
        ({"name": "a", "on": "resolved", "then": {"priority": 101}}, "priority must be"),
        ({"name": "a", "on": "idle", "then": {"tag": "x"}}, "needs idle_minutes")])
    def test_malformed_rules_are_named(self, raw: dict[str, object], message: str) -> None:
        with pytest.raises(RuleError, match=message):
            parse_rule(raw)

    def test_duplicate_names_are_refused_in_the_file(self) -> None:
        with pytest.raises(ConfigurationError, match="unique"):
            parse_automation({"defaults": {"rules": [ANGRY_REFUND, ANGRY_REFUND]}})


class TestEffects:
    """Applying actions to a conversation."""

    def test_tag_priority_skill_and_reply(self) -> None:
        ws = parse_automation({"defaults": {"templates": {"refund_policy": {
            "*:ko": "환불은 영업일 기준 3일 안에 처리됩니다."}}}}).defaults
        memory = ConversationMemory(conversation_id="c", language="ko", tags=["refund"])
        effects = apply_actions(memory, evaluate(parse_rules([ANGRY_REFUND]), facts()), "sms", ws)
        assert effects.memory.tags == ["refund", "angry"] and effects.tags == ["angry"]
        assert (effects.memory.priority, effects.memory.skills) == (90, {"billing": 1})
        assert [r.text for r in effects.replies] == ["환불은 영업일 기준 3일 안에 처리됩니다."]
        assert effects.replies[0].kind == "rule:angry-refund" and effects.reroute

    def test_reply_with_unknown_template_is_skipped_with_a_reason(self) -> None:
        memory = ConversationMemory(conversation_id="c", language="ko")
        effects = apply_actions(memory, evaluate(parse_rules([ANGRY_REFUND]), facts()), "sms",
                                WorkspaceAutomation())
        assert effects.replies == [] and "refund_policy" in effects.skipped[0][1]


class TestSla:
    """Targets per pool and priority; business hours; warnings then breaches, once."""

    POLICIES = parse_policies([
        {"name": "default", "first_reply_minutes": 60, "resolution_minutes": 480},
        {"name": "billing", "pool": "billing", "first_reply_minutes": 10,
         "next_reply_minutes": 15},
        {"name": "billing-urgent", "pool": "billing", "min_priority": 50,
         "first_reply_minutes": 5, "boost": 30}])

    def test_most_specific_policy(self) -> None:
        assert choose_policy(self.POLICIES, "billing", 80).name == "billing-urgent"  # type: ignore[union-attr]
        assert choose_policy(self.POLICIES, "billing", 10).name == "billing"  # type: ignore[union-attr]
        assert choose_policy(self.POLICIES, "support", 90).name == "default"  # type: ignore[union-attr]
        assert choose_policy(self.POLICIES[1:], "support", 0) is None

    def test_open_seconds_skip_closed_time(self) -> None:
        # Friday 16:00 -> Monday 10:00: one hour on Friday, one on Monday
        friday = datetime(2026, 12, 4, 16, 0, tzinfo=UTC)
        assert open_seconds(WEEKDAYS_9_TO_17, friday, friday + timedelta(hours=66)) == 7200
        assert open_seconds(None, friday, friday + timedelta(hours=1)) == 3600

    def test_warning_then_breach_each_once(self) -> None:
        policy = SlaPolicy("p", first_reply_s=600, business_hours=False, warn_at=0.8)
        clock = SlaClock(policy="p", started_at=T0)
        assert check(clock, policy, None, T0 + timedelta(minutes=7)) == []
        warning = check(clock, policy, None, T0 + timedelta(minutes=9))
        assert [(s.kind, s.state) for s in warning] == [("first_reply", "warning")]
        clock = record(clock, warning)
        assert check(clock, policy, None, T0 + timedelta(minutes=9, seconds=30)) == []
        breach = check(clock, policy, None, T0 + timedelta(minutes=11))
        assert [(s.kind, s.state) for s in breach] == [("first_reply", "breached")]
        assert check(record(clock, breach), policy, None, T0 + timedelta(hours=2)) == []

    def test_reply_stops_first_reply_and_next_reply_restarts(self) -> None:
        policy = SlaPolicy("p", first_reply_s=600, next_reply_s=300, business_hours=False)
        clock = SlaClock(policy="p", started_at=T0, first_reply_at=T0 + timedelta(minutes=2))
        assert check(clock, policy, None, T0 + timedelta(hours=1)) == []
        waiting = clock.model_copy(update={"awaiting_since": T0 + timedelta(minutes=30)})
        assert [s.kind for s in check(waiting, policy, None, T0 + timedelta(minutes=36))] == [
            "next_reply"]

    def test_business_hours_pause_the_clock(self) -> None:
        policy = SlaPolicy("p", first_reply_s=3600, business_hours=True)
        clock = SlaClock(policy="p", started_at=T0)  # 08:00, an hour before opening
        assert check(clock, policy, WEEKDAYS_9_TO_17, T0 + timedelta(minutes=100)) == []
        assert check(clock, policy, WEEKDAYS_9_TO_17, T0 + timedelta(minutes=125))[0].state \
            == "breached"


class TestRoutingRequests:
    """Triage and rules on the router's requests."""

    @staticmethod
    def request(kind: str) -> object:
        from omniroute.routing.requests import RoutingRequest

        return RoutingRequest(event_id="e", kind=kind, conversation_id="c", customer_id="u",
                              channel="sms", priority=5)

    def test_route_gets_triage_escalation_pool_rule_pool_and_preferred_agent(self) -> None:
        from omniroute.automation.effects import Effects, enrich_request

        memory = ConversationMemory(conversation_id="c", language="ko", intent="refund",
                                    sentiment=-0.6, skills={"billing": 1}, priority=80)
        ws = parse_automation({"defaults": {"escalation_pool": "humans"}}).defaults
        routed = enrich_request(self.request("route"), memory, True, ws, None)  # type: ignore[arg-type]
        assert (routed.language, routed.intent, routed.skills, routed.priority, routed.pool) == (
            "ko", "refund", {"billing": 1}, 80, "humans")
        assert routed.reason == "customer asked for a human"
        ruled = enrich_request(self.request("update"), memory, False, ws,  # type: ignore[arg-type]
                               Effects(memory, pool="vip", assign="mina"))
        assert (ruled.pool, ruled.last_agent_id) == (None, "mina")  # pools change on route only

    def test_cancel_is_left_alone(self) -> None:
        from omniroute.automation.effects import enrich_request

        cancel = self.request("cancel")
        memory = ConversationMemory(conversation_id="c", priority=90)
        assert enrich_request(cancel, memory, False, WorkspaceAutomation(), None) is cancel  # type: ignore[arg-type]
