"""What each public event means for the history tables: the pure core of the sink.

No database here. The sink decodes a batch of Kafka records into contract
events, and :func:`plan_batch` turns them into rows and patches that the
repository (:mod:`omniroute.history.store`) writes in one transaction:

- messages arrive from three topics (the inbound message itself, the
  conversation's ``message_added`` that ties it to a conversation and a
  customer, and outbound replies); :func:`merge_message` folds every view of
  one message into one row, whichever arrives first;
- conversation events fold into one :class:`ConversationPatch` per conversation;
- assignment events become the current holder of a conversation
  (:func:`assignment_effect`), which the gateway authorizes on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, TypeVar

from omniroute.contract import (
    AgentEvent,
    AgentEventKind,
    AssignmentEvent,
    AssignmentKind,
    Channel,
    ConversationEvent,
    ConversationEventKind,
    CustomerEvent,
    DeadLetter,
    DeliveryStatus,
    Direction,
    Envelope,
    IdentityLink,
    InboundMessage,
    OutboundMessage,
    SelfServiceEvent,
)


@dataclass
class MessageRow:
    """One message as stored; ``None`` fields are unknown so far.

    A value: never changed once built (:func:`merge_message` builds a new one). Not
    ``frozen`` because a frozen dataclass's ``__init__`` costs ~4x more, once per view
    of every message the sink writes (bench/sink).
    """

    message_id: str
    created_at: datetime
    workspace: str
    direction: str
    channel: str
    conversation_id: str | None = None
    customer_id: str | None = None
    provider: str | None = None
    channel_account: str | None = None
    sender: str | None = None
    sender_name: str | None = None
    recipient: str | None = None
    text: str | None = None
    author_id: str | None = None
    provider_message_id: str | None = None
    content: dict[str, Any] = field(default_factory=dict)
    attachments: tuple[dict[str, Any], ...] = ()

    COLUMNS = (
        "message_id", "created_at", "workspace", "conversation_id", "customer_id",
        "direction", "channel", "provider", "channel_account", "sender", "sender_name",
        "recipient", "text", "author_id", "provider_message_id", "content",
    )


def merge_message(first: MessageRow, second: MessageRow) -> MessageRow:
    """One row from two views of the same message: known values win over unknown ones.

    The earlier view keeps its ``created_at`` (the row's partition never moves).
    """
    mine, theirs = first.__dict__, second.__dict__
    changes = {name: theirs[name] for name in _MERGEABLE if not mine[name] and theirs[name]}
    return _evolve(first, **changes) if changes else first


_MERGEABLE = tuple(f.name for f in fields(MessageRow) if f.name not in ("message_id", "created_at"))
_D = TypeVar("_D")
_CONTENT = ("location", "contacts", "interactive", "reaction", "thread")


def _evolve(obj: _D, **changes: Any) -> _D:
    """``dataclasses.replace`` without its per-field bookkeeping (the sink's hot path).

    Only for this module's value dataclasses, which have no ``__post_init__``.
    """
    new = object.__new__(type(obj))
    new.__dict__.update(obj.__dict__)
    new.__dict__.update(changes)
    return new


def message_from_inbound(event: InboundMessage) -> MessageRow:
    """The stored view of a customer's message as the connector normalized it."""
    content = event.model_dump(
        mode="json", exclude_none=True, include=set(_CONTENT),
    ) if any(getattr(event, name) for name in _CONTENT) else {}
    if event.channel is Channel.EMAIL:  # the console flags a sender who did not pass
        content["email_auth"] = str(event.metadata.get("email_auth") or "none")
    return MessageRow(
        message_id=event.event_id, created_at=event.occurred_at, workspace=event.workspace,
        direction=Direction.INBOUND.value, channel=event.channel.value, provider=event.provider,
        channel_account=event.channel_account, sender=event.sender.value,
        sender_name=event.sender.name, recipient=event.recipient.value, text=event.text,
        provider_message_id=event.provider_message_id, content=content,
        attachments=tuple(a.model_dump(mode="json") for a in event.attachments),
    )


def message_from_outbound(event: OutboundMessage) -> MessageRow:
    """The stored view of a reply as an agent app or automation sent it (a template it went
    as, and whether it was proactive, in ``content``: a template has no text to show)."""
    content: dict[str, Any] = {"author": event.author.model_dump(mode="json", exclude_none=True)}
    if event.template is not None:
        content["template"] = event.template.model_dump(mode="json")
    if event.proactive:
        content["proactive"] = True
    return MessageRow(
        message_id=event.event_id, created_at=event.occurred_at, workspace=event.workspace,
        direction=Direction.OUTBOUND.value, channel=event.channel.value,
        conversation_id=event.conversation_id, customer_id=event.customer_id,
        channel_account=event.channel_account, recipient=event.recipient.value,
        text=event.text, author_id=event.author.id, content=content,
        attachments=tuple(a.model_dump(mode="json") for a in event.attachments),
    )


def message_from_added(event: ConversationEvent) -> MessageRow:
    """The stored view of a ``message_added`` event: it ties a message to its conversation."""
    ref = event.message
    assert ref is not None  # the contract requires it for message_added
    return MessageRow(
        message_id=ref.source_event_id, created_at=event.occurred_at, workspace=event.workspace,
        direction=ref.direction.value, channel=ref.channel.value,
        conversation_id=event.conversation_id, customer_id=event.customer_id, text=ref.text,
        author_id=ref.author_id, provider_message_id=ref.provider_message_id,
    )


@dataclass
class ConversationPatch:
    """What a batch changes on one conversation row (a value, as :class:`MessageRow`)."""

    conversation_id: str
    workspace: str
    customer_id: str
    opened_at: datetime
    updated_at: datetime
    status: str | None = None
    channel: str | None = None
    """The channel of the customer's latest message in the batch: the conversation's channel."""
    channel_hint: str | None = None
    """The channel another event names (opened, assigned, …): the conversation's channel only
    while it has none, so a later event cannot relabel it with where the conversation began."""
    pool: str | None = None
    agent_set: bool = False
    agent_id: str | None = None
    resolved_at: datetime | None = None
    last_message_at: datetime | None = None
    merged_into: str | None = None
    tags: tuple[str, ...] = ()
    triage: dict[str, str] = field(default_factory=dict)


_STATUS = {
    ConversationEventKind.OPENED: "open",
    ConversationEventKind.REOPENED: "open",
    ConversationEventKind.RESOLVED: "resolved",
    ConversationEventKind.MERGED: "merged",
}


def fold_conversation(
    patch: ConversationPatch | None, event: ConversationEvent
) -> ConversationPatch:
    """Apply one conversation event (in topic order) to the batch's patch."""
    if patch is None:
        patch = ConversationPatch(
            conversation_id=event.conversation_id, workspace=event.workspace,
            customer_id=event.customer_id, opened_at=event.occurred_at,
            updated_at=event.occurred_at,
        )
    kind = event.kind
    changes: dict[str, Any] = {
        "customer_id": event.customer_id,
        "updated_at": max(patch.updated_at, event.occurred_at),
        "opened_at": min(patch.opened_at, event.occurred_at),
    }
    if kind in _STATUS:
        changes["status"] = _STATUS[kind]
    if event.channel is not None and patch.channel_hint is None:
        changes["channel_hint"] = event.channel.value
    if event.pool is not None:
        changes["pool"] = event.pool
    if kind is ConversationEventKind.MESSAGE_ADDED and event.message is not None:
        changes["last_message_at"] = event.occurred_at
        if event.message.direction is Direction.INBOUND:  # where the customer is, and
            changes["channel"] = event.message.channel.value  # where a reply goes by default
    if kind in (ConversationEventKind.ASSIGNED, ConversationEventKind.TRANSFERRED):
        changes.update(agent_set=True, agent_id=event.agent_id)
    if kind is ConversationEventKind.UNASSIGNED:
        changes.update(agent_set=True, agent_id=None)
    if kind is ConversationEventKind.RESOLVED:
        changes["resolved_at"] = event.occurred_at
    if kind is ConversationEventKind.REOPENED:
        changes["resolved_at"] = None
    if kind is ConversationEventKind.MERGED:
        changes["merged_into"] = event.merged_into
    if event.tags:
        changes["tags"] = tuple(dict.fromkeys((*patch.tags, *event.tags)))
    if event.triage:
        changes["triage"] = {**patch.triage, **event.triage}
    return _evolve(patch, **changes)


@dataclass(frozen=True)
class HolderChange:
    """Who holds a conversation after an assignment event (``agent_id`` None: nobody)."""

    conversation_id: str
    agent_id: str | None
    state: str
    offer_id: str | None
    changed_at: datetime
    releasing_agent: str | None


def assignment_effect(event: AssignmentEvent) -> HolderChange | None:
    """The holder change an assignment event implies, or None (offers change no holder)."""
    if event.conversation_id is None:
        return None
    if event.kind is AssignmentKind.ASSIGNED:
        return HolderChange(event.conversation_id, event.agent_id, "assigned", event.offer_id,
                            event.occurred_at, None)
    if event.kind in (AssignmentKind.REVOKED, AssignmentKind.COMPLETED):
        return HolderChange(event.conversation_id, None, event.kind.value, event.offer_id,
                            event.occurred_at, event.agent_id)
    return None


@dataclass
class BatchPlan:
    """Every write one batch of new events implies."""

    messages: dict[str, MessageRow] = field(default_factory=dict)
    conversations: dict[str, ConversationPatch] = field(default_factory=dict)
    conversation_events: list[ConversationEvent] = field(default_factory=list)
    deliveries: list[DeliveryStatus] = field(default_factory=list)
    assignments: list[AssignmentEvent] = field(default_factory=list)
    holders: list[HolderChange] = field(default_factory=list)
    agent_events: list[AgentEvent] = field(default_factory=list)
    identity_links: list[IdentityLink] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    moves: dict[str, tuple[str, str]] = field(default_factory=dict)
    """Message id → (conversation, customer) it was re-filed to by an unlink (``message_moved``)."""
    selfservice: list[tuple[Any, ...]] = field(default_factory=list)
    """Rows of ``selfservice_events``: self-service steps and the articles bots answered with."""
    customer_merges: dict[str, CustomerEvent] = field(default_factory=dict)
    """Customer id → the latest announcement of which customer it is part of."""

    def add_message(self, row: MessageRow) -> None:
        """Fold one view of a message into the batch."""
        known = self.messages.get(row.message_id)
        self.messages[row.message_id] = row if known is None else merge_message(known, row)


def _add_inbound(plan: BatchPlan, event: Any) -> None:
    plan.add_message(message_from_inbound(event))


def _add_outbound(plan: BatchPlan, event: Any) -> None:
    plan.add_message(message_from_outbound(event))


def _add_conversation(plan: BatchPlan, event: Any) -> None:
    plan.conversation_events.append(event)
    cid = event.conversation_id
    plan.conversations[cid] = fold_conversation(plan.conversations.get(cid), event)
    if event.kind is ConversationEventKind.MESSAGE_ADDED:
        plan.add_message(message_from_added(event))
    elif event.kind is ConversationEventKind.MESSAGE_MOVED and event.message:
        plan.moves[event.message.source_event_id] = (cid, event.customer_id)
    if event.article_id is not None:
        plan.selfservice.append(selfservice_row(event))


def _add_assignment(plan: BatchPlan, event: Any) -> None:
    plan.assignments.append(event)
    change = assignment_effect(event)
    if change is not None:
        plan.holders.append(change)


def _add_customer_event(plan: BatchPlan, event: Any) -> None:
    plan.customer_merges[event.customer_id] = event  # in topic order: the latest wins


_PLANNERS: dict[type, Callable[[BatchPlan, Any], None]] = {
    InboundMessage: _add_inbound,
    OutboundMessage: _add_outbound,
    ConversationEvent: _add_conversation,
    DeliveryStatus: lambda plan, event: plan.deliveries.append(event),
    AssignmentEvent: _add_assignment,
    AgentEvent: lambda plan, event: plan.agent_events.append(event),
    IdentityLink: lambda plan, event: plan.identity_links.append(event),
    DeadLetter: lambda plan, event: plan.dead_letters.append(event),
    SelfServiceEvent: lambda plan, event: plan.selfservice.append(selfservice_row(event)),
    CustomerEvent: _add_customer_event,
}
"""What each event type adds to a plan (by exact type: pydantic's isinstance goes through
ABCMeta and was a tenth of the sink's time, bench/sink)."""


def _planner(kind: type) -> Callable[[BatchPlan, Any], None] | None:
    found = _PLANNERS.get(kind)
    if found is None:  # a subclass of a contract model
        found = next((f for base, f in _PLANNERS.items() if issubclass(kind, base)), None)
    return found


def plan_batch(events: list[Envelope]) -> BatchPlan:
    """The writes for a batch of events (already de-duplicated), in topic order."""
    plan = BatchPlan()
    for event in events:
        add = _planner(type(event))
        if add is not None:
            add(plan, event)
    return plan


def selfservice_row(event: SelfServiceEvent | ConversationEvent) -> tuple[Any, ...]:
    """The ``selfservice_events`` row of a self-service step or of a bot's article answer."""
    if isinstance(event, ConversationEvent):
        return (event.event_id, event.workspace, event.occurred_at, event.kind.value, None,
                event.customer_id, event.conversation_id,
                event.channel.value if event.channel else None, event.article_id, None, None,
                None)
    return (event.event_id, event.workspace, event.occurred_at, event.kind.value,
            event.visitor_id, event.customer_id, event.conversation_id, event.channel.value,
            event.article_id, event.language, event.query, event.results)


def unique_events(events: list[tuple[str, Envelope]]) -> list[tuple[str, Envelope]]:
    """Drop repeats of the same ``(topic, event_id)`` inside one batch, keeping the first."""
    seen: set[tuple[str, str]] = set()
    kept = []
    for topic, event in events:
        key = (topic, event.event_id)
        if key not in seen:
            seen.add(key)
            kept.append((topic, event))
    return kept


def presence_of(event: AgentEvent) -> str | None:
    """The presence an agent event records, if it is a presence change."""
    if event.kind is AgentEventKind.PRESENCE and event.presence is not None:
        return event.presence.value
    return None
