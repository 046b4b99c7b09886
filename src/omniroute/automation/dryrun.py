"""Dry run (pure): what automation would do with one message, without sending anything."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from omniroute.automation.config import AutomationConfig
from omniroute.automation.effects import apply_actions
from omniroute.automation.memory import ConversationMemory
from omniroute.automation.replies import plan_message
from omniroute.automation.rules import EVENTS, Facts, evaluate, parse_rules
from omniroute.automation.wait import QueueState
from omniroute.contract import Channel, utcnow
from omniroute.triage import triage
from omniroute.triage.sentiment import label

SAMPLE_QUEUE = QueueState(position=1, agents_available=1, free_slots=0, concurrency=1,
                          handle_time_s=300.0)


def dry_run(config: AutomationConfig, *, workspace: str = "default", channel: str = "sms",
            text: str = "", event: str = "message_received", at: str | None = None,
            attributes: dict[str, str] | None = None, tags: list[str] | None = None,
            business_hours: bool = True, rules: list[dict[str, Any]] | None = None,
            ) -> dict[str, Any]:
    """Triage, the rules that fire (``rules`` replaces the workspace's for a draft) and the
    automatic replies, as JSON-ready data."""
    Channel(channel)  # ValueError on an unknown channel
    if event not in EVENTS:
        raise ValueError(f"event must be one of {', '.join(EVENTS)}")
    ws = config.for_workspace(workspace)
    candidate = parse_rules(rules) if rules is not None else ws.rules
    when = datetime.fromisoformat(at) if at else utcnow()
    found = triage(text, ws.triage)
    plan = plan_message(ConversationMemory(conversation_id="dry-run"), found, channel, when,
                        ws, None, SAMPLE_QUEUE)
    memory = plan.memory.model_copy(update={"channel": Channel(channel),
                                            "tags": list(tags or [])})
    actions = evaluate(candidate, Facts(
        event=event, channel=channel, language=memory.language, intent=memory.intent,
        sentiment=label(memory.sentiment), business_hours=business_hours,
        tags=frozenset(tags or []), attributes=attributes or {}))
    effects = apply_actions(memory, actions, channel, ws)
    return {
        "triage": found.as_fields(),
        "escalate": plan.escalate,
        "automatic_replies": [{"kind": r.kind, "text": r.text} for r in plan.replies],
        "rules": [{"rule": a.rule, "action": a.kind, "value": a.value} for a in effects.applied],
        "rule_replies": [r.text for r in effects.replies],
        "skipped": [{"rule": a.rule, "action": a.kind, "reason": why}
                    for a, why in effects.skipped],
        "routing": {"priority": effects.memory.priority, "skills": effects.memory.skills,
                    "pool": effects.pool, "assign": effects.assign,
                    "resolve": effects.resolve},
    }
