"""How the automation shell turns decisions into records (shared by its handlers)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from omniroute.automation.config import WorkspaceAutomation
from omniroute.automation.effects import Effects
from omniroute.automation.memory import ConversationMemory, ReplyRoute
from omniroute.automation.replies import Reply
from omniroute.contract import (
    Author,
    AuthorKind,
    Choice,
    ConversationEvent,
    ConversationEventKind,
    OutboundMessage,
)
from omniroute.contract.topics import CONVERSATIONS, OUTBOUND
from omniroute.conversations.state import derived_event_id
from omniroute.observability.logs import get_logger
from omniroute.routing.requests import RoutingRequest, RoutingRequestKind
from omniroute.worker.app import Worker
from omniroute.worker.routes import send_request

Kind = ConversationEventKind
log = get_logger("omniroute.automation")


@dataclass
class Batch:
    """Records one automation step emits, all with ids derived from ``base``."""

    workspace: str
    customer_id: str
    conversation_id: str
    base: str
    at: datetime
    channel: Any = None
    events: list[ConversationEvent] = field(default_factory=list)
    requests: list[RoutingRequest] = field(default_factory=list)
    outbound: list[OutboundMessage] = field(default_factory=list)

    def event(self, kind: Kind, suffix: str, **fields: Any) -> ConversationEvent:
        """Add a ConversationEvent of this conversation."""
        event = ConversationEvent(
            event_id=derived_event_id(self.base, suffix), occurred_at=self.at,
            workspace=self.workspace, conversation_id=self.conversation_id,
            customer_id=self.customer_id, kind=kind, channel=self.channel, **fields)
        self.events.append(event)
        return event

    def request(self, kind: RoutingRequestKind, suffix: str, memory: ConversationMemory,
                reason: str, **fields: Any) -> None:
        """Add a routing request carrying the conversation's triaged attributes."""
        assert memory.channel is not None
        self.requests.append(RoutingRequest(
            event_id=derived_event_id(self.base, suffix), occurred_at=self.at,
            workspace=self.workspace, kind=kind, conversation_id=self.conversation_id,
            customer_id=self.customer_id, channel=memory.channel, priority=memory.priority,
            skills=memory.skills, language=memory.language, intent=memory.intent,
            sentiment=memory.sentiment, reason=reason, **fields))

    def reply(self, route: ReplyRoute | None, reply: Reply, suffix: str | None = None) -> None:
        """Add an automatic message on the customer's channel (nothing without a route)."""
        if route is None:
            return
        self.outbound.append(OutboundMessage(
            event_id=derived_event_id(self.base, suffix or reply.kind.replace(":", "-")),
            workspace=self.workspace, conversation_id=self.conversation_id,
            customer_id=self.customer_id, channel=route.channel,
            channel_account=route.channel_account, recipient=route.recipient,
            author=Author(kind=AuthorKind.BOT), text=reply.text,  # no name: not "omniroute"
            choices=[Choice(payload=p, title=t) for p, t in reply.choices],
            automation=reply.kind, reply_to_provider_message_id=route.provider_message_id,
            thread=route.thread))
        if reply.kind == "survey":
            self.event(Kind.SURVEY_SENT, "survey-sent")

    def effects(self, effects: Effects, route: ReplyRoute | None) -> None:
        """Events for every applied rule action, its replies, tags and resolve."""
        for i, action in enumerate(effects.applied):
            self.event(Kind.AUTOMATION_APPLIED, f"rule-{i}",
                       reason=f"rule {action.rule}: {action.kind} = {action.value}"[:1000])
        if effects.tags:
            self.event(Kind.TAGGED, "rule-tags", tags=effects.tags,
                       reason=f"rules {', '.join(sorted({a.rule for a in effects.applied}))}")
        for i, reply in enumerate(effects.replies):
            self.reply(route, reply, f"rule-reply-{i}")
        for action, why in effects.skipped:
            log.warning("rule_action_skipped", rule=action.rule, action=action.kind, error=why)

    async def send(self, worker: Worker) -> None:
        """Produce everything (events, requests, then messages)."""
        for event in self.events:
            await worker.send(CONVERSATIONS.name, event.conversation_id, event.to_json_bytes(),
                              event.channel.value if event.channel else None)
        for request in self.requests:
            await send_request(worker, request)
        for message in self.outbound:
            await worker.send(OUTBOUND.name, message.conversation_id, message.to_json_bytes(),
                              message.channel.value)
            log.info("automatic_reply", conversation_id=message.conversation_id,
                     kind=message.automation, channel=message.channel.value)


def survey_reply(memory: ConversationMemory, at: datetime, channel: str,
                 config: WorkspaceAutomation, forced: bool = False) -> tuple[
                     ConversationMemory, Reply | None]:
    """The survey (``forced`` by a rule: even without a human, still only once)."""
    from omniroute.automation.replies import plan_survey

    if forced and not memory.human_engaged:
        engaged = memory.model_copy(update={"human_engaged": True})
        after, reply = plan_survey(engaged, at, channel, config)
        return after.model_copy(update={"human_engaged": False}), reply
    return plan_survey(memory, at, channel, config)
