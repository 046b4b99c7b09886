"""SLA clocks and idle rules (shell): agents' replies stop clocks, a scan finds what is due.

- ``automation.outbound`` (``omniroute.outbound.v1``): an *agent's* reply is
  forwarded as :class:`AgentReplied` to the customer's partition of
  ``omniroute.internal.automation``: the first-reply clock stops, the next-reply
  clock waits for the customer's next message, and no more automatic
  acknowledgements go out in that conversation.
- a timer scans the conversations this worker holds every :attr:`Clocks.interval`
  seconds and sends a :class:`Tick` for each one with a warning, a breach or an
  idle rule due; the tick's handler (on the customer's partition, so the memory
  table can be written) emits ``sla_breached`` events, raises priority near a
  target (an ``update`` routing request) and runs ``sla_warning`` and ``idle`` rules.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from omniroute.automation.commands import AUTOMATION_COMMAND, TOPIC, AgentReplied, Tick
from omniroute.automation.config import WorkspaceAutomation
from omniroute.automation.emit import Batch, Kind, log
from omniroute.automation.memory import ConversationMemory, CustomerMemory
from omniroute.automation.sla import SlaClock, SlaSignal, check, choose_policy, record
from omniroute.contract import AuthorKind, OutboundMessage, utcnow
from omniroute.routing.requests import RoutingRequestKind

if TYPE_CHECKING:
    from omniroute.automation.processor import AutomationHook


class Clocks:
    """SLA and idle handling of one worker."""

    interval = 5.0

    def __init__(self, hook: AutomationHook) -> None:
        self.hook = hook

    def on_message(self, memory: ConversationMemory, ws: WorkspaceAutomation,
                   opened_at: datetime, at: datetime) -> ConversationMemory:
        """Start the clocks of a new conversation; a customer message restarts next-reply."""
        clock = memory.sla
        if clock is None or clock.resolved_at is not None:
            policy = choose_policy(ws.sla, memory.pool, memory.priority)
            if policy is None:
                return memory.model_copy(update={"sla": None})
            clock = SlaClock(policy=policy.name, pool=memory.pool, started_at=opened_at)
        elif clock.first_reply_at is not None and clock.awaiting_since is None:
            clock = clock.model_copy(update={"awaiting_since": at})
        return memory.model_copy(update={"sla": clock})

    def on_resolved(self, memory: ConversationMemory, at: datetime) -> ConversationMemory:
        """Stop every clock."""
        if memory.sla is None:
            return memory
        return memory.model_copy(update={"sla": memory.sla.model_copy(
            update={"resolved_at": at})})

    async def on_outbound(self, event: Any) -> str | None:
        """Forward an agent's reply to the customer's partition."""
        message = OutboundMessage.from_json_bytes(event.value)
        if message.author.kind is AuthorKind.AGENT and message.customer_id:
            replied = AgentReplied(workspace=message.workspace, customer_id=message.customer_id,
                                   conversation_id=message.conversation_id,
                                   at=message.occurred_at, event_id=message.event_id)
            await self.hook.worker.send(TOPIC, message.customer_id,
                                        replied.model_dump_json().encode())
        return message.channel.value

    async def on_command(self, event: Any) -> str | None:
        """Apply an agent's reply or a tick to the conversation's memory."""
        command = AUTOMATION_COMMAND.validate_json(event.value)
        customer = self.hook.memory.get(command.customer_id)
        if customer is None or command.conversation_id not in customer.conversations:
            return None
        memory = customer.conversations[command.conversation_id]
        batch = Batch(command.workspace, command.customer_id, command.conversation_id,
                      f"{command.conversation_id}.{command.at.isoformat()}", command.at,
                      memory.channel)
        if isinstance(command, AgentReplied):
            memory = self._replied(memory, command.at)
        elif isinstance(command, Tick) and memory.open:
            memory = self._tick(customer, memory, command.at, batch)
        self.hook.memory.set(command.customer_id, customer.with_conversation(memory))
        await batch.send(self.hook.worker)
        return memory.channel.value if memory.channel else None

    def _replied(self, memory: ConversationMemory, at: datetime) -> ConversationMemory:
        clock = memory.sla
        if clock is not None:
            clock = clock.model_copy(update={
                "first_reply_at": clock.first_reply_at or at, "awaiting_since": None})
        return memory.model_copy(update={"human_engaged": True, "sla": clock,
                                         "last_activity_at": at, "idle_fired": [],
                                         "waiting": "customer"})

    def signals(self, customer: CustomerMemory, memory: ConversationMemory,
                at: datetime) -> list[SlaSignal]:
        """SLA signals due for the conversation at ``at``."""
        if memory.sla is None:
            return []
        ws = self.hook.workspace(customer.workspace)
        policy = next((p for p in ws.sla if p.name == memory.sla.policy), None)
        if policy is None:
            return []
        return check(memory.sla, policy, self.hook.pool_hours(memory.pool), at)

    def idle_rules(self, customer: CustomerMemory, memory: ConversationMemory,
                   at: datetime) -> list[str]:
        """Idle rules due (not yet fired since the last message)."""
        if memory.last_activity_at is None:
            return []
        idle = (at - memory.last_activity_at).total_seconds() / 60
        ws = self.hook.workspace(customer.workspace)
        return [r.name for r in ws.rules if r.on == "idle" and r.name not in memory.idle_fired
                and idle >= (r.idle_minutes or 0)]

    def _tick(self, customer: CustomerMemory, memory: ConversationMemory, at: datetime,
              batch: Batch) -> ConversationMemory:
        ws = self.hook.workspace(batch.workspace)
        signals = self.signals(customer, memory, at)
        assert memory.sla is not None or not signals
        events = []
        for signal in signals:
            if signal.state == "breached":
                batch.base = f"{memory.conversation_id}.sla-{signal.kind}"
                batch.event(Kind.SLA_BREACHED, "breached", pool=memory.pool, reason=(
                    f"{signal.kind} target {signal.target_s:.0f}s passed: "
                    f"{signal.elapsed_s:.0f}s (policy {memory.sla.policy if memory.sla else ''})"))
                log.info("sla_breached", conversation_id=memory.conversation_id,
                         kind=signal.kind, elapsed_s=round(signal.elapsed_s))
            else:
                events.append("sla_warning")
        if memory.sla is not None:
            memory = memory.model_copy(update={"sla": record(memory.sla, signals)})
        policy = next((p for p in ws.sla if memory.sla and p.name == memory.sla.policy), None)
        if events and policy is not None:
            memory = memory.model_copy(update={"priority": min(100, memory.priority
                                                               + policy.boost)})
        idle = self.idle_rules(customer, memory, at)
        if idle:
            memory = memory.model_copy(update={"idle_fired": [*memory.idle_fired, *idle]})
            events.append("idle")
        if not events:
            return memory
        before = memory.priority, memory.skills
        batch.base = f"{memory.conversation_id}.{'-'.join(events)}.{at.timestamp():.0f}"
        idle_minutes = ((at - memory.last_activity_at).total_seconds() / 60
                        if memory.last_activity_at else 0.0)
        warning_rules = {r.name for r in ws.rules if r.on == "sla_warning"}
        effects = self.hook.rules(ws, memory, sorted(set(events)), customer.attributes, at,
                                  idle_minutes, only=set(idle) | (
                                      warning_rules if "sla_warning" in events else set()))
        memory = effects.memory
        batch.effects(effects, customer.route)
        if "sla_warning" in events or effects.reroute or before != (memory.priority,
                                                                    memory.skills):
            batch.request(RoutingRequestKind.UPDATE, "update", memory, "SLA target near",
                          last_agent_id=effects.assign)
        return memory

    async def scan(self) -> None:
        """Send a tick for every open conversation with something due now."""
        now = utcnow()
        for customer in list(self.hook.memory.values()):
            for memory in customer.conversations.values():
                if not memory.open:
                    continue
                if self.signals(customer, memory, now) or self.idle_rules(customer, memory, now):
                    tick = Tick(workspace=customer.workspace, customer_id=customer.customer_id,
                                conversation_id=memory.conversation_id, at=now)
                    await self.hook.worker.send(TOPIC, customer.customer_id,
                                                tick.model_dump_json().encode())
