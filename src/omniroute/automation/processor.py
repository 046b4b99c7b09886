"""The worker's automation (shell): triage, automatic replies, escalation, survey.

Registered in the worker's ``PROCESSORS``; the conversations processor calls
:meth:`AutomationHook.decide` around its own threading decision, on the
customer's partition, so automation sees each message with the conversation
state it joined and keeps its own facts in the ``automation-customers`` table
(same key, same partition). It

- reads a survey answer out of a message to a resolved conversation (a
  ``rated`` event; the message does not reopen the conversation);
- triages every message: a ``triaged`` event, and language, intent,
  sentiment, skills and raised priority on every routing request;
- escalates "talk to a human" (``escalated`` event, priority raised, an
  update to the router);
- sends acknowledgements, out-of-office replies and surveys on
  ``omniroute.outbound.v1`` (author ``bot``, ``automation`` naming the kind).

Every id derives from the input's event id, so a replay emits the same records.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from omniroute.automation.config import WorkspaceAutomation, load_automation
from omniroute.automation.memory import ConversationMemory, CustomerMemory, ReplyRoute
from omniroute.automation.queue import ANY_POOL, QueueView
from omniroute.automation.replies import (
    Reply,
    plan_message,
    plan_survey,
    read_survey_answer,
)
from omniroute.contract import (
    AgentEvent,
    AgentEventKind,
    Author,
    AuthorKind,
    Choice,
    ConversationEvent,
    ConversationEventKind,
    OutboundMessage,
    Presence,
    Rating,
)
from omniroute.contract.topics import AGENT_EVENTS, OUTBOUND
from omniroute.conversations.commands import RouterNews, ThreadMessage
from omniroute.conversations.state import CustomerState, derived_event_id
from omniroute.conversations.threading import Outcome
from omniroute.observability.logs import get_logger
from omniroute.routing.config import RoutingConfig, load_config, parse_policy
from omniroute.routing.policy import BusinessHours
from omniroute.routing.requests import RoutingRequest, RoutingRequestKind
from omniroute.triage import Triage, triage
from omniroute.worker.app import Worker

Kind = ConversationEventKind
Decide = Callable[[CustomerState, Any], Awaitable[Outcome]]
log = get_logger("omniroute.automation")


class AutomationHook:
    """Automation around the conversations processor's decisions."""

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self.config = load_automation(worker.settings.automation_config)
        path = worker.settings.routing_config
        self.routing = load_config(path) if path else RoutingConfig()
        self.hours: dict[str, BusinessHours | None] = {
            pool: parse_policy(pool, raw).business_hours
            for pool, raw in self.routing.pools.items()}
        self.memory = worker.model_table("automation-customers", CustomerMemory)
        self.queue = QueueView()

    async def decide(self, state: CustomerState, command: Any, inner: Decide) -> Outcome:
        """``inner``'s decision about ``command``, with automation's additions."""
        if isinstance(command, ThreadMessage) and not state.merged_into:
            return await self._message(state, command, inner)
        outcome = await inner(state, command)
        if isinstance(command, RouterNews) and not outcome.redirect:
            await self._router_news(state, command.event)
        return outcome

    async def on_agent_event(self, event: Any) -> str | None:
        """Presence and capacity of agents, for expected waits."""
        agent = AgentEvent.from_json_bytes(event.value)
        pool = agent.pool or self.routing.agent_pool(agent.agent_id)
        if agent.kind is AgentEventKind.PRESENCE:
            capacity = self.routing.agents.get(agent.agent_id, {}).get("capacity")
            self.queue.presence(agent.agent_id, pool, agent.presence is Presence.AVAILABLE,
                                int(capacity) if capacity else None)
        elif agent.kind is AgentEventKind.CAPACITY and agent.capacity is not None:
            self.queue.presence(agent.agent_id, pool, None, agent.capacity.total)
        return None

    def _pool(self, request: RoutingRequest | None, found: Triage, before: ConversationMemory,
              channel: str) -> str | None:
        """The pool the router will choose (its own rules, on the triaged attributes)."""
        if request is not None and request.pool:
            return request.pool
        intent = before.intent if found.intent == "other" and before.intent else found.intent
        return self.routing.choose_pool(channel, intent, found.language,
                                        {**before.skills, **found.skills})

    async def _message(self, state: CustomerState, command: ThreadMessage,
                       inner: Decide) -> Outcome:
        message = command.message
        ws = self.config.for_workspace(state.workspace)
        customer = self.memory.get(state.customer_id) or CustomerMemory(
            customer_id=state.customer_id)
        if message.event_id in customer.handled:
            return Outcome(state)
        conv = state.current
        if conv is not None and not conv.is_open and message.event_id not in state.processed:
            answered = await self._survey_answer(state, customer, command, ws)
            if answered is not None:
                return answered
        outcome = await inner(state, command)
        conv = outcome.state.current
        if outcome.redirect or conv is None:
            return outcome
        before = customer.conversation(conv.id)
        if message.event_id in state.processed:  # a replay: same requests, nothing new
            requests = [self._enrich(r, before, False, ws) for r in outcome.requests]
            return Outcome(outcome.state, events=outcome.events, requests=requests)
        found = triage(message.text or "", ws.triage, customer.language)
        if conv.agent_id:
            before = before.model_copy(update={"human_engaged": True})
        route = next((r for r in outcome.requests if r.kind is RoutingRequestKind.ROUTE), None)
        at = message.occurred_at
        pool = self._pool(route, found, before, message.channel.value)
        if route is not None:
            self.queue.wait(pool or ANY_POOL, conv.id, at.timestamp())
        plan = plan_message(before, found, message.channel.value, at, ws,
                            self.hours.get(pool or ""),
                            self.queue.state(pool, conv.id, ws.handle_time_s))
        memory = plan.memory
        requests = [self._enrich(r, memory, plan.escalate, ws) for r in outcome.requests]
        changed = (memory.priority, memory.skills) != (before.priority, before.skills)
        if not requests and (plan.escalate or changed):
            requests.append(self._enrich(RoutingRequest(
                event_id=derived_event_id(message.event_id, "automation-update"),
                occurred_at=at, workspace=state.workspace, kind=RoutingRequestKind.UPDATE,
                conversation_id=conv.id, customer_id=state.customer_id,
                channel=conv.last_channel, last_agent_id=outcome.state.last_agent_id,
                waiting_since=conv.waiting_since, reason="triage raised priority",
            ), memory, plan.escalate, ws))
        events = [*outcome.events, _event(state, conv.id, message, Kind.TRIAGED, "triaged",
                                          triage=_fields(found, pool))]
        if plan.escalate:
            events.append(_event(state, conv.id, message, Kind.ESCALATED, "escalated",
                                 reason="customer asked for a human", pool=pool))
        route_to = ReplyRoute(channel=message.channel, channel_account=message.channel_account,
                              recipient=message.sender,
                              provider_message_id=message.provider_message_id[:998])
        for reply in plan.replies:
            await self._send(state, conv.id, route_to, reply,
                             derived_event_id(message.event_id, reply.kind))
        customer = customer.with_conversation(memory).model_copy(
            update={"route": route_to, "language": memory.language})
        self.memory.set(state.customer_id, customer)
        return Outcome(outcome.state, events=events, requests=requests)

    async def _survey_answer(self, state: CustomerState, customer: CustomerMemory,
                             command: ThreadMessage, ws: WorkspaceAutomation) -> Outcome | None:
        message = command.message
        assert state.current is not None
        memory = customer.conversation(state.current.id)
        payload = ((message.interactive.payload or message.interactive.id)
                   if message.interactive else None)
        answer = read_survey_answer(memory, message.text, payload, message.occurred_at,
                                    message.channel.value, ws)
        if answer is None:
            return None
        rated = _event(state, state.current.id, message, Kind.RATED, "rated",
                       rating=Rating(score=answer.score, comment=answer.comment))
        if answer.reply is not None and customer.route is not None:
            await self._send(state, state.current.id, customer.route, answer.reply,
                             derived_event_id(message.event_id, answer.reply.kind))
        what = "comment" if answer.comment else "rating"
        self.memory.set(state.customer_id, customer.with_conversation(answer.memory)
                        .with_handled(message.event_id, what))
        log.info("survey_answered", conversation_id=state.current.id, score=answer.score,
                 comment=answer.comment is not None)
        return Outcome(state, events=[rated])

    async def _router_news(self, state: CustomerState, event: ConversationEvent) -> None:
        customer = self.memory.get(state.customer_id) or CustomerMemory(
            customer_id=state.customer_id)
        memory = customer.conversation(event.conversation_id)
        at = event.occurred_at
        if event.kind is Kind.ASSIGNED and event.agent_id:
            self.queue.assigned(event.conversation_id, event.agent_id, event.pool, at.timestamp())
            memory = memory.model_copy(update={"human_engaged": True})
        elif event.kind is Kind.RESOLVED:
            self.queue.resolved(event.conversation_id, at.timestamp())
            ws = self.config.for_workspace(state.workspace)
            if customer.route is not None:
                memory, reply = plan_survey(memory, at, customer.route.channel.value, ws)
                if reply is not None:
                    await self._send(state, event.conversation_id, customer.route, reply,
                                     derived_event_id(event.event_id, "survey"))
        else:
            return
        self.memory.set(state.customer_id, customer.with_conversation(memory))

    def _enrich(self, request: RoutingRequest, memory: ConversationMemory, escalate: bool,
                ws: WorkspaceAutomation) -> RoutingRequest:
        update: dict[str, Any] = {
            "language": memory.language, "intent": memory.intent,
            "sentiment": memory.sentiment, "skills": {**memory.skills, **request.skills},
            "priority": max(request.priority, memory.priority)}
        if escalate:
            update["reason"] = "customer asked for a human"
            if ws.escalation_pool and request.kind is RoutingRequestKind.ROUTE:
                update["pool"] = ws.escalation_pool
        return request.model_copy(update=update)

    async def _send(self, state: CustomerState, conversation_id: str, route: ReplyRoute,
                    reply: Reply, event_id: str) -> None:
        outbound = OutboundMessage(
            event_id=event_id, workspace=state.workspace, conversation_id=conversation_id,
            customer_id=state.customer_id, channel=route.channel,
            channel_account=route.channel_account, recipient=route.recipient,
            author=Author(kind=AuthorKind.BOT, name="omniroute"), text=reply.text,
            choices=[Choice(payload=p, title=t) for p, t in reply.choices],
            automation=reply.kind,
            reply_to_provider_message_id=route.provider_message_id,
        )
        await self.worker.send(OUTBOUND.name, conversation_id, outbound.to_json_bytes(),
                               route.channel.value)
        log.info("automatic_reply", conversation_id=conversation_id, kind=reply.kind,
                 channel=route.channel.value)


def _fields(found: Triage, pool: str | None) -> dict[str, str]:
    fields = found.as_fields()
    if pool:
        fields["pool"] = pool
    return fields


def _event(state: CustomerState, conversation_id: str, message: Any, kind: Kind, suffix: str,
           **fields: Any) -> ConversationEvent:
    return ConversationEvent(
        event_id=derived_event_id(message.event_id, suffix), occurred_at=message.occurred_at,
        workspace=state.workspace, conversation_id=conversation_id,
        customer_id=state.customer_id, kind=kind, channel=message.channel, **fields)


def register(worker: Worker) -> None:
    """Add automation to the worker: the hook the conversations processor calls, agents' news."""
    hook = AutomationHook(worker)
    worker.components["automation"] = hook
    worker.agent(AGENT_EVENTS.name, "automation.agents", hook.on_agent_event, stage="automation")
