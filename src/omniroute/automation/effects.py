"""What matched rules do to a conversation (pure): memory changes, replies, routing wishes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from omniroute.automation.config import WorkspaceAutomation
from omniroute.automation.memory import ConversationMemory
from omniroute.automation.replies import Reply
from omniroute.automation.rules import Action
from omniroute.automation.templates import render
from omniroute.routing.requests import RoutingRequest, RoutingRequestKind


@dataclass
class Effects:
    """The result of a rule pass: the new memory and what the shell must emit."""

    memory: ConversationMemory
    applied: list[Action] = field(default_factory=list)
    replies: list[Reply] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    pool: str | None = None
    assign: str | None = None
    resolve: bool = False
    survey: bool = False
    skipped: list[tuple[Action, str]] = field(default_factory=list)

    @property
    def reroute(self) -> bool:
        """Whether routing attributes changed (the router needs an update)."""
        return any(a.kind in ("priority", "skill", "pool", "assign") for a in self.applied)


def _as_list(value: object) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list | tuple) else [str(value)]


def apply_actions(memory: ConversationMemory, actions: list[Action], channel: str,
                  config: WorkspaceAutomation) -> Effects:
    """Apply ``actions`` in order; a reply whose template is missing is skipped with a reason."""
    effects = Effects(memory)
    language = memory.language or config.triage.default_language
    for action in actions:
        kind, value = action.kind, action.value
        if kind == "reply":
            try:
                text = render(str(value), language, channel, config.templates, wait="",
                              opening="", position="")
            except (KeyError, IndexError, ValueError) as exc:
                effects.skipped.append((action, str(exc)))
                continue
            effects.replies.append(Reply(f"rule:{action.rule}", text))
        elif kind == "tag":
            new = [t for t in _as_list(value) if t not in effects.memory.tags]
            effects.memory = effects.memory.model_copy(
                update={"tags": [*effects.memory.tags, *new]})
            effects.tags.extend(new)
        elif kind == "priority":
            effects.memory = effects.memory.model_copy(update={"priority": int(value)})
        elif kind == "skill":
            skills = {**effects.memory.skills, **dict.fromkeys(_as_list(value), 1)}
            effects.memory = effects.memory.model_copy(update={"skills": skills})
        elif kind == "pool":
            effects.pool = str(value)
        elif kind == "assign":
            effects.assign = str(value)
        elif kind == "resolve":
            effects.resolve = True
        elif kind == "survey":
            effects.survey = True
        effects.applied.append(action)
    return effects


def enrich_request(request: RoutingRequest, memory: ConversationMemory, escalate: bool,
                   ws: WorkspaceAutomation, effects: Effects | None) -> RoutingRequest:
    """``request`` carrying the conversation's triaged attributes and the rules' wishes."""
    if request.kind is RoutingRequestKind.CANCEL:
        return request
    update: dict[str, Any] = {
        "language": memory.language, "intent": memory.intent,
        "sentiment": memory.sentiment, "skills": {**memory.skills, **request.skills},
        "priority": max(request.priority, memory.priority)}
    route = request.kind is RoutingRequestKind.ROUTE
    if escalate:
        update["reason"] = "customer asked for a human"
        if ws.escalation_pool and route:
            update["pool"] = ws.escalation_pool
    if effects is not None and effects.pool and route:
        update["pool"] = effects.pool
    if effects is not None and effects.assign:
        update["last_agent_id"] = effects.assign
    return request.model_copy(update=update)
