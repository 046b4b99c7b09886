"""Conversation agents: thread messages per customer; learn from the router.

- ``conversations.customers`` (keyed by customer id): the addresses whose home
  this customer is (``Observe``/``Reassign``, handled by identity; an unlinked
  address's message is threaded right here, a linked one's is forwarded to its
  owner), then thread messages, hand a merged-away customer's conversation to
  its survivor, fold conversations, record what the router decided; emit
  ConversationEvents (keyed by conversation id) and RoutingRequests.
- ``conversations.router-news`` (``omniroute.conversations.v1``): the router's
  assigned/resolved/unassigned events, repartitioned to the customer. Our own
  events on that topic (opened, message_added, merged, ...) are ignored, and so is
  the ``resolved`` that ends an erased customer's conversation (:mod:`.erasure`).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from pydantic import Field, TypeAdapter

from omniroute.contract import ConversationEvent, ConversationEventKind
from omniroute.contract.topics import CONVERSATIONS
from omniroute.conversations.commands import (
    AbsorbCustomer,
    DetachCustomer,
    MergeCustomer,
    RouterNews,
    SplitCustomer,
    ThreadMessage,
)
from omniroute.conversations.merging import absorb, detach, merge_away
from omniroute.conversations.splitting import split
from omniroute.conversations.state import CustomerState
from omniroute.conversations.threading import (
    Outcome,
    ThreadingPolicy,
    add_message,
    apply_router_event,
)
from omniroute.history.erase_requests import ERASE_EVENT_PREFIX
from omniroute.identity.commands import Observe, Reassign
from omniroute.worker import metrics
from omniroute.worker.app import Worker
from omniroute.worker.news import headline
from omniroute.worker.routes import send_request
from omniroute.worker.topology import CUSTOMERS

ROUTER_KINDS = frozenset({
    ConversationEventKind.ASSIGNED, ConversationEventKind.RESOLVED,
    ConversationEventKind.UNASSIGNED, ConversationEventKind.PARKED,
    ConversationEventKind.REROUTED,
})
CustomerRecord = Annotated[
    Observe | Reassign | ThreadMessage | MergeCustomer | AbsorbCustomer | SplitCustomer
    | DetachCustomer | RouterNews,
    Field(discriminator="kind"),
]
CUSTOMER_RECORD: TypeAdapter[Any] = TypeAdapter(CustomerRecord)
"""Every record of ``omniroute.internal.customers``: address commands and customer commands."""


ACTIVE_INTERVAL_SECONDS = 5.0
"""How often the open-conversations gauge is recounted from the customer table."""


class ConversationProcessor:
    """The conversation agents' handlers, bound to one worker and its customer table."""

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self.policy = ThreadingPolicy(
            reopen_window=timedelta(seconds=worker.settings.reopen_window_seconds)
        )
        self.customers = worker.model_table("conversations-customers", CustomerState)
        self.identity = worker.components["identity"]
        self.gate: Any = None
        """Set by the answer bot (:mod:`.bot`) to take routing requests while it is on."""

    async def on_router_event(self, event: Any) -> str | None:
        """Forward the router's news about a conversation to its customer's partition."""
        head = headline(event.value)  # most records are our own events: not decoded whole
        if head.kind in ROUTER_KINDS:
            news = ConversationEvent.from_json_bytes(event.value)
            if news.event_id.startswith(ERASE_EVENT_PREFIX):
                return head.channel_label  # the worker ended it forgetting its customer
            command = RouterNews(workspace=news.workspace, customer_id=news.customer_id,
                                 event=news)
            await self.worker.send(CUSTOMERS, news.customer_id, command.model_dump_json().encode())
        return head.channel_label

    async def on_customer(self, event: Any) -> str | None:
        """Apply one record to the state at this customer's partition; emit what it decided."""
        command = CUSTOMER_RECORD.validate_json(event.value)
        messaged = isinstance(command, Observe | ThreadMessage)
        channel = str(command.message.channel.value) if messaged else None
        if isinstance(command, Observe | Reassign):
            thread = await self.identity.on_address(command, event)
            if thread is None:
                return channel
            if thread.customer_id != event.key.decode():
                await self.worker.send(CUSTOMERS, thread.customer_id,
                                       thread.model_dump_json().encode(), channel)
                return channel
            command = thread
        await self.apply(command)
        return channel

    async def apply(self, command: Any) -> None:
        """Apply one customer command to its customer's state and emit what it decided."""
        state = self.customers.get(command.customer_id) or CustomerState(
            customer_id=command.customer_id, workspace=command.workspace)
        automation = self.worker.components.get("automation")  # triage, replies, survey
        outcome = await (automation.decide(state, command, self._decide) if automation
                         else self._decide(state, command))
        if outcome.redirect:
            moved = command.model_copy(update={"customer_id": outcome.redirect})
            await self.worker.send(CUSTOMERS, outcome.redirect, moved.model_dump_json().encode())
            return
        for conversation_event in outcome.events:
            await self.worker.send(
                CONVERSATIONS.name, conversation_event.conversation_id,
                conversation_event.to_json_bytes(),
                conversation_event.channel.value if conversation_event.channel else None)
        if self.gate is not None:
            await self.gate.forward(command, outcome)
        else:
            for request in outcome.requests:
                await send_request(self.worker, request)
        if outcome.state != state:
            self.customers.set(command.customer_id, outcome.state)

    async def count_open(self) -> None:
        """Recount the open conversations of the customers whose partitions this process owns.

        A recount (not a running tally) stays right when partitions move and
        tables are restored from their changelogs.
        """
        metrics.open_conversations(sum(
            1 for state in self.customers.values()
            if state.merged_into is None and state.current is not None and state.current.is_open
        ))

    async def _decide(self, state: CustomerState, command: Any) -> Outcome:
        if isinstance(command, ThreadMessage):
            return add_message(state, command.message, self.policy, command.address)
        if isinstance(command, RouterNews):
            return apply_router_event(state, command.event)
        if isinstance(command, MergeCustomer):
            if state.merged_into and state.merged_into != command.survivor:
                return Outcome(state, redirect=state.merged_into)
            after, handed = merge_away(state, command.survivor)
            automation = self.worker.components.get("automation")
            hand_over = AbsorbCustomer(
                workspace=command.workspace, customer_id=command.survivor,
                from_customer=state.customer_id, conversation=handed,
                last_agent_id=state.last_agent_id, claims=state.claims,
                event_id=command.event_id, at=command.at,
                automation=automation.hand_over(state, handed)
                if automation is not None and handed is not None else None,
            )
            await self.worker.send(CUSTOMERS, command.survivor,
                                   hand_over.model_dump_json().encode())
            return Outcome(after)
        if isinstance(command, AbsorbCustomer):
            return absorb(state, command.conversation, command.last_agent_id, command.claims,
                          command.event_id, command.at, command.detach_from)
        if isinstance(command, SplitCustomer):
            outcome, handoffs = split(state, command.owners, command.event_id, command.at)
            for owner, part in sorted(handoffs.items()):
                hand_over = AbsorbCustomer(
                    workspace=command.workspace, customer_id=owner,
                    from_customer=state.customer_id, conversation=part,
                    last_agent_id=part.agent_id or state.last_agent_id,
                    event_id=command.event_id, at=command.at, detach_from=state.customer_id)
                await self.worker.send(CUSTOMERS, owner, hand_over.model_dump_json().encode())
            return outcome
        assert isinstance(command, DetachCustomer)
        return Outcome(detach(state))


def register(worker: Worker) -> None:
    """Add the conversation agents to the worker."""
    conversations = ConversationProcessor(worker)
    worker.components["conversations"] = conversations
    worker.agent(CONVERSATIONS.name, "conversations.router-news", conversations.on_router_event,
                 stage="conversations")
    worker.agent(CUSTOMERS, "conversations.customers", conversations.on_customer,
                 stage="conversations")
    worker.app.timer(ACTIVE_INTERVAL_SECONDS)(conversations.count_open)
