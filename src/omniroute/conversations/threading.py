"""Threading decisions: which conversation a message joins, and what to tell the world.

Every function takes a :class:`CustomerState` and returns an :class:`Outcome`:
the new state, the ConversationEvents and RoutingRequests to emit, and, for a
customer merged into another, where to redirect. Times are event times (the
message's ``occurred_at``), so replaying the same input gives the same result.

Rules: at most one open conversation per customer across all channels; a
message joins it; a resolved conversation reopens when the customer writes
within the reopen window, else a new one opens; the reply channel is the
channel of the latest message by ``occurred_at`` (a late-arriving older message
does not change it); a reply (reply token, an In-Reply-To naming one of its
messages or one of our Message-IDs) reopens a resolved conversation at any age.
What happens when customers merge is in :mod:`.merging`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from omniroute.contract import (
    Channel,
    ConversationEvent,
    ConversationEventKind,
    Direction,
    InboundMessage,
    MessageRef,
)
from omniroute.conversations.mailthread import conversation_of_message_id
from omniroute.conversations.state import (
    MAX_RECENT,
    MAX_THREAD_IDS,
    Author,
    Conversation,
    CustomerState,
    conversation_id_for,
    derived_event_id,
)
from omniroute.routing.requests import RoutingRequest, RoutingRequestKind

Kind = ConversationEventKind


@dataclass(frozen=True)
class ThreadingPolicy:
    """Tunables of threading."""

    reopen_window: timedelta = timedelta(hours=24)


@dataclass
class Outcome:
    """A decision: the new state and what to emit."""

    state: CustomerState
    events: list[ConversationEvent] = field(default_factory=list)
    requests: list[RoutingRequest] = field(default_factory=list)
    redirect: str | None = None
    """The customer this one was merged into: re-send the command there."""


def conversation_event(
    state: CustomerState, conversation: Conversation, kind: Kind, event_id: str, at: datetime,
    **fields: object,
) -> ConversationEvent:
    return ConversationEvent(
        event_id=event_id, occurred_at=at, workspace=state.workspace,
        conversation_id=conversation.id, customer_id=state.customer_id, kind=kind,
        channel=fields.pop("channel", conversation.last_channel), **fields,
    )


def routing_request(
    state: CustomerState, conversation: Conversation, kind: RoutingRequestKind, event_id: str,
    at: datetime, reason: str,
) -> RoutingRequest:
    """A request about ``conversation``; ``update`` and ``cancel`` go where its work item lives.

    A ``route`` names the reply channel (the router picks the pool from it). An
    ``update`` or ``cancel`` names the pool the router last reported holding the
    work item, else the channel the ``route`` named (so the router's rules pick
    that same pool), never the current reply channel.
    """
    channel, pool = conversation.last_channel, None
    if kind is not RoutingRequestKind.ROUTE:
        pool = conversation.pool
        if pool is None and conversation.routed_channel is not None:
            channel = conversation.routed_channel
    return RoutingRequest(
        event_id=event_id, occurred_at=at, workspace=state.workspace, kind=kind,
        conversation_id=conversation.id, customer_id=state.customer_id, channel=channel,
        pool=pool, last_agent_id=state.last_agent_id,
        waiting_since=conversation.waiting_since, reason=reason,
    )


def _message_ref(message: InboundMessage) -> MessageRef:
    return MessageRef(
        source_event_id=message.event_id, direction=Direction.INBOUND, channel=message.channel,
        text=message.text, provider_message_id=message.provider_message_id[:998],
        thread=message.thread, sender=message.sender.value,
    )


def _opening(state: CustomerState, conv: Conversation, message: InboundMessage) -> Outcome:
    """The events of the message that (re)opened ``conv``: (re)opened, added, route."""
    at = message.occurred_at
    kind, reason = (Kind.REOPENED, "reopened") if conv.reopened else (Kind.OPENED, "new")
    ids = message.event_id
    return Outcome(
        state,
        events=[
            conversation_event(state, conv, kind, derived_event_id(ids, kind.value), at),
            conversation_event(state, conv, Kind.MESSAGE_ADDED, derived_event_id(ids, "added"),
                               at, message=_message_ref(message), channel=message.channel),
        ],
        requests=[routing_request(state, conv, RoutingRequestKind.ROUTE,
                                  derived_event_id(ids, "route"), at, f"{reason} conversation")],
    )


def _replay(state: CustomerState, message: InboundMessage) -> Outcome:
    """A message processed before (a replay after a crash): emit the same events again."""
    conv = state.current
    conversation_id = state.processed[message.event_id]
    if conv is not None and conv.id == conversation_id and conv.opened_by == message.event_id:
        return _opening(state, conv, message)
    if conv is None or conv.id != conversation_id:
        return Outcome(state)
    added = conversation_event(
        state, conv, Kind.MESSAGE_ADDED, derived_event_id(message.event_id, "added"),
        message.occurred_at, message=_message_ref(message), channel=message.channel)
    return Outcome(state, events=[added])


def add_message(
    state: CustomerState, message: InboundMessage, policy: ThreadingPolicy,
    address: str | None = None,
) -> Outcome:
    """Thread one inbound message: join, reopen, or open a conversation.

    ``address`` is the sender's normalized address: the conversation counts what
    each address wrote (an unlink splits by it).
    """
    if state.merged_into:
        return Outcome(state, redirect=state.merged_into)
    if message.event_id in state.processed:
        return _replay(state, message)
    gone = _split_off_to(state, address)
    if gone is not None:
        return Outcome(state, redirect=gone)
    at = message.occurred_at
    conv = state.current
    thread_id = message.thread.message_id if message.thread else None
    threads = [thread_id] if thread_id else []
    if conv is not None and conv.is_open:
        channel = message.channel if at >= conv.last_message_at else conv.last_channel
        changed_channel = conv.last_channel is not channel
        conv = conv.model_copy(update={
            "last_message_at": max(at, conv.last_message_at), "last_channel": channel,
            "message_count": conv.message_count + 1,
            "thread_ids": (conv.thread_ids + threads)[-MAX_THREAD_IDS:],
            "authors": _authored(conv.authors, address, message),
        })
        state = _with(state, conv, message)
        added = conversation_event(
            state, conv, Kind.MESSAGE_ADDED, derived_event_id(message.event_id, "added"), at,
            message=_message_ref(message), channel=message.channel)
        requests = []
        if conv.parked is not None:  # nobody would see this message: route it again
            reason = f"customer wrote while parked ({conv.parked})"[:200]
            conv = conv.model_copy(update={"parked": None, "routed_channel": channel,
                                           "waiting_since": conv.waiting_since or at})
            state = _with(state, conv, message)
            request = routing_request(state, conv, RoutingRequestKind.ROUTE,
                                      derived_event_id(message.event_id, "reroute"), at, reason)
            requests.append(request.model_copy(update={"was_parked": True}))
        elif changed_channel:
            requests.append(routing_request(state, conv, RoutingRequestKind.UPDATE,
                                            derived_event_id(message.event_id, "update"), at,
                                            "reply channel changed"))
        return Outcome(state, events=[added], requests=requests)
    if conv is not None and (_within_window(conv, at, policy)
                             or _replies_to(state, conv, message)):
        conv = conv.model_copy(update={
            "status": "open", "reopened": True, "opened_by": message.event_id,
            "resolved_at": None, "agent_id": None, "pool": None, "waiting_since": at,
            "last_message_at": max(at, conv.last_message_at), "last_channel": message.channel,
            "routed_channel": message.channel, "message_count": conv.message_count + 1,
            "thread_ids": (conv.thread_ids + threads)[-MAX_THREAD_IDS:],
            "authors": _authored(conv.authors, address, message),
        })
    else:
        conv = Conversation(
            id=conversation_id_for(state.workspace, message.event_id), opened_at=at,
            opened_by=message.event_id, last_message_at=at, last_channel=message.channel,
            routed_channel=message.channel, waiting_since=at, message_count=1,
            thread_ids=threads, authors=_authored({}, address, message),
        )
    return _opening(_with(state, conv, message), conv, message)


def _authored(authors: dict[str, Author], address: str | None,
              message: InboundMessage) -> dict[str, Author]:
    """``authors`` with ``message`` counted for its sender ``address``."""
    if address is None:
        return authors
    at, seen = message.occurred_at, authors.get(address)
    if seen is None:
        return {**authors, address: Author.model_construct(
            messages=1, first_at=at, last_at=at, last_channel=message.channel,
            sender=message.sender.value, recent=[message.event_id])}
    recent = [*seen.recent, message.event_id][-MAX_RECENT:]
    if at >= seen.last_at:
        mine = seen.model_copy(update={"messages": seen.messages + 1, "last_at": at,
                                       "last_channel": message.channel,
                                       "sender": message.sender.value, "recent": recent})
    else:
        mine = seen.model_copy(update={"messages": seen.messages + 1, "recent": recent,
                                       "first_at": min(at, seen.first_at)})
    return {**authors, address: mine}


def _split_off_to(state: CustomerState, address: str | None) -> str | None:
    """The customer an unlink split ``address`` off to (a message in flight during the split)."""
    if address is None or state.last_split is None:
        return None
    for owner, part in state.last_split.parts.items():
        if owner != state.customer_id and address in part.authors:
            return owner
    return None


def _within_window(conv: Conversation, at: datetime, policy: ThreadingPolicy) -> bool:
    return conv.resolved_at is not None and at - conv.resolved_at <= policy.reopen_window


def _replies_to(state: CustomerState, conv: Conversation, message: InboundMessage) -> bool:
    """A reply to ``conv`` reopens it at any age: In-Reply-To/References naming one of its
    messages or one of our Message-IDs for it, or the ``support+<token>@`` reply token.

    ``conv`` answers to its own id and to every conversation folded or absorbed into it.
    """
    hints = message.thread
    if hints is None:
        return False
    names = state.names(conv.id)
    refs = {*hints.in_reply_to, *hints.references}
    if hints.reply_token in names or set(conv.thread_ids) & refs:
        return True
    return any(conversation_of_message_id(ref) in names for ref in refs)


def _with(state: CustomerState, conv: Conversation, message: InboundMessage) -> CustomerState:
    claims = {**state.claims, **message.claimed}
    return state.model_copy(update={
        "current": conv, "processed": state.remember(message.event_id, conv.id), "claims": claims,
    })


def apply_router_event(state: CustomerState, event: ConversationEvent) -> Outcome:
    """Learn from the router: assigned (the last agent), unassigned, resolved, parked,
    rerouted (the pool the work lives in now)."""
    if state.merged_into:
        return Outcome(state, redirect=state.merged_into)
    conv = state.current
    if conv is None or conv.id != event.conversation_id:
        return Outcome(state)
    pool = event.pool or conv.pool
    if event.kind is Kind.ASSIGNED:
        conv = conv.model_copy(update={"agent_id": event.agent_id, "waiting_since": None,
                                       "pool": pool, "parked": None})
        return Outcome(state.model_copy(update={"current": conv, "last_agent_id": event.agent_id}))
    if event.kind is Kind.PARKED:
        conv = conv.model_copy(update={"agent_id": None, "pool": None,
                                       "parked": event.reason or "not routable"})
        return Outcome(state.model_copy(update={"current": conv}))
    if event.kind in (Kind.UNASSIGNED, Kind.REROUTED):  # (either leaves parking: in a pool)
        return Outcome(state.model_copy(update={"current": conv.model_copy(
            update={"agent_id": None, "pool": pool, "parked": None})}))
    if event.kind is Kind.RESOLVED:
        agent = event.agent_id or conv.agent_id or state.last_agent_id
        conv = conv.model_copy(update={"status": "resolved", "resolved_at": event.occurred_at,
                                       "waiting_since": None})
        return Outcome(state.model_copy(update={"current": conv, "last_agent_id": agent}))
    return Outcome(state)


def reply_channel(state: CustomerState) -> Channel | None:
    """Where a reply goes by default: the channel of the customer's latest message."""
    return state.current.last_channel if state.current else None
