"""The worker's automation (shell): triage, automatic replies, escalation, survey, rules.

Registered in the worker's ``PROCESSORS``; the conversations processor calls
:meth:`AutomationHook.decide` around its own threading decision, on the
customer's partition, so automation sees each message with the conversation
state it joined and keeps its own facts in the ``automation-customers`` table
(same key, same partition). It

- reads a survey answer out of a message to a resolved conversation (a
  ``rated`` event; the message does not reopen the conversation);
- triages every message: a ``triaged`` event, and language, intent,
  sentiment, skills and raised priority on every routing request;
- escalates "talk to a human" (``escalated`` event, priority raised);
- sends acknowledgements, out-of-office replies and surveys on
  ``omniroute.outbound.v1`` (author ``bot``, ``automation`` naming the kind);
- runs the workspace's rules on ``message_received``, ``conversation_opened``
  and ``resolved`` (SLA clocks, ``idle`` and ``sla_warning`` are in
  :mod:`.clocks`).

Every id derives from the input's event id, so a replay emits the same records.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial
from typing import Any

from omniroute.automation.clocks import Clocks
from omniroute.automation.config import WorkspaceAutomation, load_automation
from omniroute.automation.effects import Effects, apply_actions, enrich_request
from omniroute.automation.emit import Batch, Kind, log, survey_reply
from omniroute.automation.hours import is_open
from omniroute.automation.memory import ConversationMemory, CustomerMemory, ReplyRoute
from omniroute.automation.queue import QueueView
from omniroute.automation.replies import asks_for_help, plan_message, read_survey_answer
from omniroute.automation.rules import Facts, Rule, evaluate
from omniroute.automation.wait import QueueState
from omniroute.contract import ConversationEvent, InboundMessage, Rating
from omniroute.contract.topics import AGENT_EVENTS, OUTBOUND
from omniroute.conversations.commands import AbsorbCustomer, RouterNews, ThreadMessage
from omniroute.conversations.mailthread import thread_of
from omniroute.conversations.state import Conversation, CustomerState
from omniroute.conversations.threading import Outcome
from omniroute.routing.config import BUILTIN, RoutingConfig, load_config, pool_business_hours
from omniroute.routing.policy import BusinessHours
from omniroute.routing.requests import RoutingRequest, RoutingRequestKind
from omniroute.triage import Triage, triage
from omniroute.triage.intents import NO_INTENT
from omniroute.triage.language import Prefetched
from omniroute.worker.app import Worker
from omniroute.worker.routes import live_routing
from omniroute.worker.topology import CUSTOMERS

Decide = Callable[[CustomerState, Any], Awaitable[Outcome]]
MAX_ATTRIBUTES = 32
ROUTER_FIGURES_WAIT_S = 5.0
"""At most this long, once after start-up, the first message waits for the routers' staffing
figures (a worker that starts before any router published goes on without them)."""


MESSAGE_KINDS = frozenset({"observe", "message"})
"""Kinds of customer records that carry an inbound message (Observe, ThreadMessage)."""

BOT_ANSWERS_INSTEAD = frozenset({"acknowledgement", "out_of_office"})
"""Automatic replies left out of a new conversation the answer bot takes (it answers first;
the acknowledgement comes with the next message, e.g. at the hand-off)."""


@dataclass(frozen=True)
class RoutingView:
    """What automation reads from one routing configuration."""

    config: RoutingConfig
    hours: dict[str, BusinessHours]
    """The business hours of the pools that keep them (the others: always open)."""
    staffed_skills: frozenset[str]
    """Skills some configured agent has: triage requires only these (never strands work)."""

    @classmethod
    def of(cls, config: RoutingConfig) -> RoutingView:
        return cls(config, pool_business_hours(config), config.staffed_skills)


class AutomationHook:
    """Automation around the conversations processor's decisions."""

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self.config = load_automation(worker.settings.automation_config)
        path = worker.settings.routing_config
        # no file: the routers' built-in configuration (a `default` pool every agent joins)
        self._file_routing = load_config(path) if path else BUILTIN
        self._view = RoutingView.of(self._file_routing)
        self.memory = worker.model_table("automation-customers", CustomerMemory)
        self.live_rules: dict[str, tuple[Rule, ...]] = {}
        """Rules set through the admin API or CLI, per workspace (override the file's)."""
        self.queue = QueueView()
        self.router_read: asyncio.Event | None = None
        """Set once the routers' latest staffing figures were read at start-up (None: this
        worker does not follow them)."""
        self._router_waited = False
        self.clocks = Clocks(self)
        self.languages = Prefetched()
        """The languages of the batch's message texts (the batch engine fills it)."""

    def workspace(self, name: str) -> WorkspaceAutomation:
        """The workspace's automation, with its live rules if any were set."""
        ws = self.config.for_workspace(name)
        live = self.live_rules.get(name)
        return ws if live is None else replace(ws, rules=live)

    def set_live_rules(self, workspace: str, rules: tuple[Rule, ...] | None) -> None:
        """Apply a record of the live rules topic."""
        if rules is None:
            self.live_rules.pop(workspace, None)
        else:
            self.live_rules[workspace] = rules

    def prefetch_languages(self, values: list[bytes]) -> None:
        """Detect the languages of a batch's message texts together (see :class:`Prefetched`);
        a text triage gets some other way is detected then, so this only saves time."""
        texts: list[tuple[str, tuple[str, ...]]] = []
        for value in values:
            if b'"text"' not in value:
                continue
            try:
                command = json.loads(value)
            except ValueError:  # a dead letter when handled
                continue
            if not isinstance(command, dict) or command.get("kind") not in MESSAGE_KINDS:
                continue
            message = command.get("message")
            text = message.get("text") if isinstance(message, dict) else None
            if text and isinstance(text, str):
                workspace = str(message.get("workspace") or "default")  # type: ignore[union-attr]
                texts.append((text, self.workspace(workspace).triage.languages))
        self.languages.fill(texts)

    @property
    def view(self) -> RoutingView:
        """The routing configuration the routers use: the live version this worker follows
        (changes through the admin API or ``router configure`` apply without a restart),
        the file's until one was read."""
        config = live_routing(self.worker, self._file_routing)
        if config is not self._view.config:
            self._view = RoutingView.of(config)
        return self._view

    @property
    def routing(self) -> RoutingConfig:
        """The routing configuration (see :attr:`view`)."""
        return self.view.config

    def pool_hours(self, pool: str | None) -> BusinessHours | None:
        """The business hours of ``pool`` (None: always open)."""
        return self.view.hours.get(pool or "")

    def customer(self, state: CustomerState) -> CustomerMemory:
        """The customer's memory (a fresh one if unknown)."""
        return self.memory.get(state.customer_id) or CustomerMemory(
            customer_id=state.customer_id, workspace=state.workspace)

    async def decide(self, state: CustomerState, command: Any, inner: Decide) -> Outcome:
        """``inner``'s decision about ``command``, with automation's additions."""
        if isinstance(command, ThreadMessage) and not state.merged_into:
            return await self._message(state, command, inner)
        outcome = await inner(state, command)
        if isinstance(command, RouterNews) and not outcome.redirect:
            await self._router_news(state, command.event)
        elif isinstance(command, AbsorbCustomer) and command.automation and not outcome.redirect:
            self._adopt(outcome.state, command)
        return outcome

    def hand_over(self, state: CustomerState, conversation: Conversation) -> dict[str, Any] | None:
        """What automation knows of the conversation a merged-away customer hands over
        (:class:`AbsorbCustomer`): its memory goes to the survivor, and is closed here so
        this worker's clocks no longer tick for it under the old customer."""
        customer = self.memory.get(state.customer_id)
        memory = customer.conversations.get(conversation.id) if customer else None
        if customer is None or memory is None:
            return None
        if memory.open:
            self.memory.set(state.customer_id, customer.with_conversation(
                memory.model_copy(update={"open": False})))
        # as the conversation stands (a replayed merge finds the memory closed here)
        return memory.model_copy(update={"open": conversation.is_open}).model_dump(mode="json")

    def _adopt(self, state: CustomerState, command: AbsorbCustomer) -> None:
        """Join the handed memory into the conversation that goes on: the handed one (taken
        over) or the survivor's own (the handed one was folded into it)."""
        handed = ConversationMemory.model_validate(command.automation)
        target = state.folded.get(handed.conversation_id, handed.conversation_id)
        if state.current is None or state.current.id != target:
            return
        customer = self.customer(state)
        mine = customer.conversations.get(target)
        joined = handed.model_copy(update={"conversation_id": target}) if mine is None \
            else mine.joined(handed)
        self.memory.set(state.customer_id, customer.with_conversation(joined))

    async def _router_figures_read(self) -> None:
        """Once, at start-up: wait (at most ``ROUTER_FIGURES_WAIT_S``) until the routers'
        latest staffing figures were read, so the first acknowledgements after a restart
        count the agents on duty (see :class:`QueueView`)."""
        if self.router_read is None or self._router_waited:
            return
        self._router_waited = True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.router_read.wait(), ROUTER_FIGURES_WAIT_S)

    async def on_agent_event(self, event: Any) -> str | None:
        """Presence and capacity of agents, for expected waits."""
        from omniroute.contract import AgentEvent, AgentEventKind, Presence

        agent = AgentEvent.from_json_bytes(event.value)
        pool = agent.pool or self.routing.agent_pool(agent.agent_id)
        if agent.kind is AgentEventKind.PRESENCE:
            capacity = self.routing.agents.get(agent.agent_id, {}).get("capacity")
            self.queue.presence(agent.agent_id, pool, agent.presence is Presence.AVAILABLE,
                                int(capacity) if capacity else None)
        elif agent.kind is AgentEventKind.CAPACITY and agent.capacity is not None:
            self.queue.presence(agent.agent_id, pool, None, agent.capacity.total)
        return None

    def rules(self, ws: WorkspaceAutomation, memory: ConversationMemory, events: list[str],
              attributes: dict[str, str], at: datetime, idle_minutes: float = 0.0,
              only: set[str] | None = None) -> Effects:
        """Apply the workspace's rules (``only`` these names, if given) for ``events``."""
        channel = memory.channel.value if memory.channel else ""
        rules = [r for r in ws.rules if only is None or r.name in only]
        if not rules:  # nothing can fire: no facts to gather
            return apply_actions(memory, [], channel, ws)
        actions = [action for name in events for action in evaluate(rules, Facts(
            event=name, channel=channel, language=memory.language, intent=memory.intent,
            sentiment=_label(memory.sentiment), tags=frozenset(memory.tags),
            business_hours=is_open(self.pool_hours(memory.pool), at),
            attributes=attributes, idle_minutes=idle_minutes, waiting=memory.waiting))]
        return apply_actions(memory, actions, channel, ws)

    def _pool(self, request: RoutingRequest | None, found: Triage, before: ConversationMemory,
              channel: str) -> str | None:
        """The pool the router will choose (its own rules, on the triaged attributes) for a
        message that opens routing; for a later one, the pool the conversation was routed to
        (a new message's triage may name another pool, but the router does not move it)."""
        if request is not None and request.pool:
            return request.pool
        if request is None and before.pool:
            return before.pool
        intent = before.intent if found.intent == NO_INTENT and before.intent else found.intent
        return self.routing.choose_pool(channel, intent, found.language,
                                        {**before.skills, **found.skills})

    async def _message(self, state: CustomerState, command: ThreadMessage,
                       inner: Decide) -> Outcome:
        message = command.message
        ws = self.workspace(state.workspace)
        customer = self.customer(state)
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
            requests = [enrich_request(r, before, False, ws, None) for r in outcome.requests]
            return Outcome(outcome.state, events=outcome.events, requests=requests)
        await self._router_figures_read()
        found = triage(message.text or "", ws.triage, customer.language, self.languages)
        staffed = self.view.staffed_skills
        if not staffed.issuperset(found.skills):
            found = replace(found, skills={k: v for k, v in found.skills.items()
                                           if k in staffed})
        if conv.agent_id:
            before = before.model_copy(update={"human_engaged": True})
        route = next((r for r in outcome.requests if r.kind is RoutingRequestKind.ROUTE), None)
        at, channel = message.occurred_at, message.channel.value
        pool = self._pool(route, found, before, channel)
        if route is not None and pool is not None:
            self.queue.wait(pool, conv.id, at.timestamp(), entered=time.time())
        elif route is not None:  # parked by the router: in no pool's queue
            self.queue.stop_waiting(conv.id)
        queue: Callable[[], QueueState] = partial(
            self.queue.state, pool, conv.id, ws.handle_time_s, route is not None)
        plan = plan_message(before, found, channel, at, ws, self.pool_hours(pool), queue)
        memory = self.clocks.on_message(plan.memory.model_copy(update={
            "pool": pool, "channel": message.channel, "open": True, "last_activity_at": at,
            "idle_fired": [], "waiting": "agent"}), ws, conv.opened_at, at)
        attributes = dict(list({**customer.attributes, **message.metadata}.items())
                          [:MAX_ATTRIBUTES])
        effects = self.rules(ws, memory, ["message_received"] + (
            ["conversation_opened"] if route is not None else []), attributes, at)
        memory = effects.memory
        route_to = reply_route(message)
        batch = Batch(state.workspace, state.customer_id, conv.id, message.event_id, at,
                      message.channel)
        # the pool of the routing request this message makes, on the event itself (not only
        # in ``triage``): history's conversations.pool, so the board and reports place a
        # waiting conversation before any agent is offered it. A later message's triage may
        # name another pool without moving the conversation: only the request's pool counts.
        batch.event(Kind.TRIAGED, "triaged", triage=_fields(found, pool, plan.memory.intent),
                    pool=pool if route is not None else None)
        if plan.escalate:
            batch.event(Kind.ESCALATED, "escalated", reason="customer asked for a human",
                        pool=pool)
        for reply in plan.replies:
            if reply.kind in BOT_ANSWERS_INSTEAD and route is not None \
                    and self._bot_takes(channel, pool, at):
                continue  # the answer bot replies first; a wait notice would be a second voice
            if reply.kind == "escalated" and route is None and not before.human_engaged \
                    and self._bot_takes(channel, pool, at):
                # the answer bot holds the conversation and says its own hand-off line: user
                # run 46's visitor got two ("네, 상담원에게 연결해 드리겠습니다" and the bot's)
                continue
            batch.reply(route_to, reply)
        batch.effects(effects, route_to)
        requests = [enrich_request(r, memory, plan.escalate, ws, effects) for r in outcome.requests]
        changed = (memory.priority, memory.skills) != (before.priority, before.skills)
        if not requests and (plan.escalate or changed or effects.reroute):
            batch.request(RoutingRequestKind.UPDATE, "automation-update", memory,
                          "customer asked for a human" if plan.escalate else "triage or rules",
                          last_agent_id=effects.assign or outcome.state.last_agent_id,
                          waiting_since=conv.waiting_since)
        if effects.resolve:
            batch.event(Kind.RESOLVED, "rule-resolved", reason="resolved by an automation rule")
            batch.request(RoutingRequestKind.CANCEL, "rule-cancel", memory, "resolved by rule")
        if effects.survey:
            memory, survey = survey_reply(memory, at, channel, ws, forced=True)
            if survey is not None:
                batch.reply(route_to, survey)
        self.memory.set(state.customer_id, customer.with_conversation(
            memory, route=route_to, language=memory.language, attributes=attributes))
        await self.send_outbound(batch)
        return Outcome(outcome.state, events=[*outcome.events, *batch.events],
                       requests=[*requests, *batch.requests])

    def _bot_takes(self, channel: str, pool: str | None, at: datetime) -> bool:
        """Whether the answer bot (when the worker runs it) takes a new conversation here."""
        bot = self.worker.components.get("bot")
        return bot is not None and bool(bot.policy.answers(channel, pool, at))

    async def send_outbound(self, batch: Batch) -> None:
        """Only the batch's messages (its events and requests travel in the Outcome)."""
        await Batch(batch.workspace, batch.customer_id, batch.conversation_id, batch.base,
                    batch.at, outbound=batch.outbound).send(self.worker)

    async def _survey_answer(self, state: CustomerState, customer: CustomerMemory,
                             command: ThreadMessage, ws: WorkspaceAutomation) -> Outcome | None:
        message = command.message
        assert state.current is not None
        memory = customer.conversation(state.current.id)
        payload = ((message.interactive.payload or message.interactive.id)
                   if message.interactive else None)
        answer = read_survey_answer(
            memory, message.text, payload, message.occurred_at, message.channel.value, ws,
            lambda: asks_for_help(triage(message.text or "", ws.triage, customer.language,
                                         self.languages)))
        if answer is None:
            return None
        batch = Batch(state.workspace, state.customer_id, state.current.id, message.event_id,
                      message.occurred_at, message.channel)
        batch.event(Kind.RATED, "rated", rating=Rating(score=answer.score,
                                                      comment=answer.comment))
        route_to = reply_route(message)  # the thanks go where the answer came from
        if answer.reply is not None:
            batch.reply(route_to, answer.reply)
        what = "comment" if answer.comment else "rating"
        self.memory.set(state.customer_id, customer.with_conversation(answer.memory, route=route_to)
                        .with_handled(message.event_id, what))
        await self.send_outbound(batch)
        log.info("survey_answered", conversation_id=state.current.id, score=answer.score,
                 comment=answer.comment is not None)
        return Outcome(state, events=batch.events)

    async def _router_news(self, state: CustomerState, event: ConversationEvent) -> None:
        customer = self.customer(state)
        memory = customer.conversation(event.conversation_id)
        at = event.occurred_at
        batch = Batch(state.workspace, state.customer_id, event.conversation_id,
                      event.event_id, at, memory.channel)
        if event.kind is Kind.ASSIGNED and event.agent_id:
            self.queue.assigned(event.conversation_id, event.agent_id, event.pool, at.timestamp())
            memory = memory.model_copy(update={"human_engaged": True})
        elif event.kind is Kind.RESOLVED and memory.open:
            self.queue.resolved(event.conversation_id, at.timestamp())
            ws = self.workspace(state.workspace)
            memory = self.clocks.on_resolved(memory.model_copy(update={"open": False}), at)
            effects = self.rules(ws, memory, ["resolved"], customer.attributes, at)
            memory = effects.memory
            batch.effects(effects, customer.route)
            if customer.route is not None:
                memory, survey = survey_reply(memory, at, customer.route.channel.value, ws,
                                              forced=effects.survey)
                if survey is not None:
                    batch.reply(customer.route, survey, "survey")
        else:
            return
        self.memory.set(state.customer_id, customer.with_conversation(memory))
        await batch.send(self.worker)


def reply_route(message: InboundMessage) -> ReplyRoute:
    """Where a reply to ``message`` goes: its channel, account and sender, quoting it."""
    return ReplyRoute(channel=message.channel, channel_account=message.channel_account,
                      recipient=message.sender,
                      provider_message_id=message.provider_message_id[:998],
                      thread=thread_of(message))


def _label(score: float | None) -> str:
    from omniroute.triage.sentiment import label

    return label(score)


def _fields(found: Triage, pool: str | None, intent: str | None) -> dict[str, str]:
    """The ``triage`` of a ``triaged`` event: the message's, with the conversation's
    ``intent`` when the message names none of its own ("thanks", "any news?"), as routing
    keeps it. History and reports read a conversation's triage from its latest event, so
    a conversation about a refund that ended with a thank-you was reported as ``other``."""
    fields = found.as_fields()
    if found.intent == NO_INTENT and intent and intent != NO_INTENT:
        fields["intent"] = intent
        del fields["intent_confidence"]  # the message's own (0.00) is not this intent's
    if pool:
        fields["pool"] = pool
    return fields


def register(worker: Worker) -> None:
    """Add automation to the worker: the hook the conversations processor calls, the
    agents' presence, agents' replies, SLA and idle clocks."""
    from omniroute.automation.commands import TOPIC
    from omniroute.automation.store import follow_rules
    from omniroute.routing.statsfeed import follow_stats

    hook = AutomationHook(worker)
    triage("warm up the language models", hook.config.defaults.triage)  # ~1-2 s, at start-up
    worker.components["automation"] = hook
    worker.prepare(CUSTOMERS, hook.prefetch_languages)
    worker.agent(AGENT_EVENTS.name, "automation.agents", hook.on_agent_event, stage="automation")
    worker.agent(OUTBOUND.name, "automation.outbound", hook.clocks.on_outbound,
                 stage="automation")
    worker.agent(TOPIC, "automation.clocks", hook.clocks.on_command, stage="automation")
    worker.app.timer(hook.clocks.interval)(hook.clocks.scan)

    async def follow_live_rules() -> None:
        """Rules set through the admin API or CLI, applied as they arrive."""
        await follow_rules(worker.settings, hook.set_live_rules)

    worker.app.task(follow_live_rules)

    async def follow_router_stats() -> None:
        """The routers' staffing of every pool, for expected waits (see QueueView)."""
        hook.router_read = asyncio.Event()
        await follow_stats(worker.settings, hook.queue.router_stats, hook.router_read)

    worker.app.task(follow_router_stats)
