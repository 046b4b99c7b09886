"""Automation rules (pure): an event and conditions lead to actions.

A rule is declarative data (TOML in the automation file, JSON through the
admin API)::

    name = "angry-refund-to-billing"
    on = "message_received"     # message_received | conversation_opened | resolved
                                # | idle | sla_warning
    idle_minutes = 30           # for on = "idle": no customer or agent message for this long
    when = { channel = ["sms", "whatsapp"], language = "ko", intent = ["refund"],
             sentiment = "negative", business_hours = true, tags = ["vip"],
             attributes = { tier = "gold" }, waiting = "customer" }

``waiting`` is whom the conversation waits on: ``customer`` once an agent wrote last,
``agent`` once the customer did (Intercom's "customer unresponsive" and "teammate
unresponsive"): an idle nudge ("are you still there?") is for a customer an agent answered,
never for one still waiting for an agent.
    then = { reply = "refund_policy", tag = ["refund"], priority = 70, skill = "billing",
             pool = "billing", assign = "mina", resolve = false, survey = false }

Every condition given must hold (lists mean "any of"); ``when`` may be empty.
:func:`evaluate` returns the actions of every matching rule in file order, each
naming its rule, so every action becomes an event that says which rule did it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

EVENTS = ("message_received", "conversation_opened", "resolved", "idle", "sla_warning")
CONDITIONS = ("channel", "language", "intent", "sentiment", "business_hours", "tags",
              "attributes", "waiting")
WAITING = ("customer", "agent")
ACTIONS = ("reply", "tag", "priority", "skill", "pool", "assign", "resolve", "survey")


class RuleError(ValueError):
    """A rule document is malformed; the message names the rule and the key."""


@dataclass(frozen=True)
class Rule:
    """One rule: when ``on`` happens and ``when`` holds, do ``then``."""

    name: str
    on: str
    when: Mapping[str, Any] = field(default_factory=dict)
    then: Mapping[str, Any] = field(default_factory=dict)
    idle_minutes: float | None = None


@dataclass(frozen=True)
class Facts:
    """What a rule's conditions look at."""

    event: str
    channel: str
    language: str | None = None
    intent: str | None = None
    sentiment: str = "neutral"
    business_hours: bool = True
    tags: frozenset[str] = frozenset()
    attributes: Mapping[str, str] = field(default_factory=dict)
    idle_minutes: float = 0.0
    waiting: str | None = None
    """Whom the conversation waits on (:data:`WAITING`), None before anyone wrote."""


@dataclass(frozen=True)
class Action:
    """One thing a rule does: ``kind`` (reply, tag, ...) with its ``value``."""

    rule: str
    kind: str
    value: Any


def _as_set(value: Any) -> set[str]:
    return {str(v) for v in value} if isinstance(value, list | tuple) else {str(value)}


def parse_rule(raw: Mapping[str, Any]) -> Rule:
    """A :class:`Rule` from its document; :class:`RuleError` names what is wrong."""
    name = str(raw.get("name") or "")
    if not name:
        raise RuleError("a rule needs a name")
    on = raw.get("on")
    if on not in EVENTS:
        raise RuleError(f"rule {name!r}: on = {on!r}; expected one of {', '.join(EVENTS)}")
    when, then = dict(raw.get("when") or {}), dict(raw.get("then") or {})
    for key in when:
        if key not in CONDITIONS:
            raise RuleError(f"rule {name!r}: unknown condition {key!r}")
    for key in then:
        if key not in ACTIONS:
            raise RuleError(f"rule {name!r}: unknown action {key!r}")
    if not then:
        raise RuleError(f"rule {name!r}: then is empty")
    if "waiting" in when and not _as_set(when["waiting"]) <= set(WAITING):
        raise RuleError(f"rule {name!r}: waiting must be {' or '.join(WAITING)}")
    if "priority" in then and not 0 <= int(then["priority"]) <= 100:
        raise RuleError(f"rule {name!r}: priority must be 0-100")
    idle = raw.get("idle_minutes")
    if on == "idle" and not idle:
        raise RuleError(f"rule {name!r}: on = 'idle' needs idle_minutes")
    return Rule(name=name, on=on, when=when, then=then,
                idle_minutes=float(idle) if idle else None)


def parse_rules(raw: Iterable[Mapping[str, Any]]) -> tuple[Rule, ...]:
    """Rules from a list of documents; names must be unique."""
    rules = tuple(parse_rule(item) for item in raw)
    names = [r.name for r in rules]
    if len(set(names)) != len(names):
        raise RuleError(f"rule names must be unique: {sorted(names)}")
    return rules


def matches(rule: Rule, facts: Facts) -> bool:
    """Whether ``rule`` fires on ``facts``."""
    if rule.on != facts.event:
        return False
    if rule.on == "idle" and facts.idle_minutes < (rule.idle_minutes or 0):
        return False
    when = rule.when
    for key in ("channel", "language", "intent", "sentiment", "waiting"):
        if key in when and str(getattr(facts, key)) not in _as_set(when[key]):
            return False
    if "business_hours" in when and bool(when["business_hours"]) != facts.business_hours:
        return False
    if "tags" in when and not _as_set(when["tags"]) & facts.tags:
        return False
    wanted = when.get("attributes") or {}
    return all(facts.attributes.get(k) in _as_set(v) for k, v in wanted.items())


def evaluate(rules: Iterable[Rule], facts: Facts) -> list[Action]:
    """The actions of every rule that fires, in rule order, each naming its rule."""
    actions: list[Action] = []
    for rule in rules:
        if matches(rule, facts):
            actions.extend(Action(rule.name, kind, value) for kind, value in rule.then.items()
                           if value not in (False, None, [], ""))
    return actions
