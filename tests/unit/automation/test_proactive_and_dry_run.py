"""Proactive messages and the dry run (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from omniroute.automation.config import AutomationConfig, parse_automation
from omniroute.automation.dryrun import dry_run
from omniroute.automation.proactive import ProactiveRefused, ProactiveRequest, proactive_message
from omniroute.automation.rules import RuleError
from omniroute.automation.store import decode, rules_value

NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def request(**fields: object) -> ProactiveRequest:
    base: dict[str, object] = {"request_id": "r1", "channel": "whatsapp",
                               "channel_account": "1065550001", "recipient": "+821011112222"}
    return ProactiveRequest.model_validate({**base, **fields})


class TestProactive:
    """Marked proactive; WhatsApp's 24-hour window; idempotent ids."""

    def test_whatsapp_outside_the_window_needs_a_template(self) -> None:
        with pytest.raises(ProactiveRefused, match="24 hours"):
            proactive_message(request(text="Your order shipped"), None, NOW)

    def test_whatsapp_outside_the_window_sends_the_template_only(self) -> None:
        message = proactive_message(request(
            text="ignored", template={"name": "order_shipped", "language": "ko",
                                      "parameters": ["A-1234"]}),
            NOW - timedelta(days=3), NOW)
        assert message.proactive and message.text is None
        assert message.template is not None and message.template.name == "order_shipped"

    def test_whatsapp_inside_the_window_sends_text(self) -> None:
        message = proactive_message(request(text="Your order shipped"),
                                    NOW - timedelta(hours=2), NOW)
        assert (message.text, message.template) == ("Your order shipped", None)

    def test_sms_sends_text_anytime_and_retries_are_the_same_message(self) -> None:
        first = proactive_message(request(channel="sms", text="Hi"), None, NOW)
        again = proactive_message(request(channel="sms", text="Hi"), None, NOW)
        assert first.event_id == again.event_id and first.conversation_id.startswith("prc_")
        assert first.author.kind == "system" and first.automation == "proactive"

    def test_nothing_to_send(self) -> None:
        with pytest.raises(ProactiveRefused, match="text or a template"):
            proactive_message(request(channel="sms"), None, NOW)


class TestDryRun:
    """What automation would do, without sending."""

    def test_escalation_and_rule_actions(self) -> None:
        config = parse_automation({"defaults": {"rules": [
            {"name": "humans-first", "on": "message_received",
             "then": {"tag": "wants-human", "priority": 95}}]}})
        result = dry_run(config, text="상담원 연결", channel="kakao")
        assert result["escalate"] and result["automatic_replies"][0]["kind"] == "escalated"
        assert [r["action"] for r in result["rules"]] == ["tag", "priority"]
        assert result["routing"]["priority"] == 95

    def test_draft_rules_replace_the_workspace_rules(self) -> None:
        result = dry_run(AutomationConfig(), text="I was charged twice!", rules=[
            {"name": "billing-pool", "on": "message_received",
             "when": {"intent": "billing"}, "then": {"pool": "billing"}}])
        assert result["routing"]["pool"] == "billing"

    def test_unknown_channel_or_event_is_refused(self) -> None:
        with pytest.raises(ValueError):
            dry_run(AutomationConfig(), text="hi", channel="pigeon")
        with pytest.raises(ValueError, match="event must be"):
            dry_run(AutomationConfig(), text="hi", event="lunch")


class TestLiveRulesRecord:
    """The record the API and CLI write."""

    def test_round_trip_and_validation(self) -> None:
        rules = [{"name": "r", "on": "resolved", "then": {"survey": True}}]
        assert decode(rules_value(rules)) == rules
        assert decode(None) == [] and decode(rules_value([])) == []
        with pytest.raises(RuleError):
            rules_value([{"name": "r", "on": "never", "then": {"tag": "x"}}])
