"""What an unlink does to the conversation the split people shared.

The identity graph splits customer C (an unlink); C's partition gets a
``SplitCustomer`` with the customer every one of its addresses belongs to now.
The current conversation remembers what each address wrote
(:class:`~.state.Author`), so it is split by person:

- **The person who wrote its first message keeps it**: its id, its agent, its
  pool and its history. Counts, last channel and reply target become theirs
  alone. If that person is no longer C (C's id stayed with someone who joined
  later, or never wrote), the conversation is handed to that person's customer.
- **Every other person who wrote in it gets a conversation of their own**
  (open if the shared one was open): ``opened`` (reason ``split from … by
  unlink``) and a ``route`` RoutingRequest for their customer, reply channel
  and reply target from their own latest message, sticky to the agent who held
  the shared one, waiting since the shared one waited (or since the unlink if
  an agent held it).
- The holder is told: a ``note_added`` on the kept conversation names the new
  conversations, and the router gets an ``update`` for it (in its pool).
- Someone who wrote nothing in it gets nothing; a resolved conversation is
  only re-attributed (no routing).

Messages already stored in history stay where they were recorded (history is
not rewritten); from the split on, each person's messages, routing and replies
follow their own conversation. A replay of the same split (after a crash)
re-emits the same outputs under the same event ids.
"""

from __future__ import annotations

from datetime import datetime

from omniroute.contract import ConversationEventKind
from omniroute.conversations.state import (
    Author,
    Conversation,
    CustomerState,
    SplitPlan,
    conversation_id_for,
    derived_event_id,
)
from omniroute.conversations.threading import Outcome, conversation_event, routing_request
from omniroute.routing.requests import RoutingRequestKind

UNLINK_REASON = "customer split by unlink"


def split(
    state: CustomerState, owners: dict[str, str], event_id: str, at: datetime
) -> tuple[Outcome, dict[str, Conversation]]:
    """Split the current conversation by who wrote it; returns the outcome and the
    conversations to hand to other customers (customer → conversation)."""
    if state.merged_into:
        return Outcome(state, redirect=state.merged_into), {}
    if state.last_split is not None and state.last_split.event_id == event_id:
        return _announce(state, state.last_split)
    if event_id in state.processed:
        return Outcome(state), {}
    conv = state.current
    if conv is None or not conv.authors:
        return Outcome(state), {}
    groups: dict[str, dict[str, Author]] = {}
    for address, author in sorted(conv.authors.items()):
        groups.setdefault(owners.get(address, state.customer_id), {})[address] = author
    if set(groups) <= {state.customer_id}:
        return Outcome(state), {}
    opener = min(conv.authors, key=lambda a: (conv.authors[a].first_at, a))
    keeper = owners.get(opener, state.customer_id)
    moved = sum(a.messages for owner, group in groups.items() if owner != keeper
                for a in group.values())
    parts: dict[str, Conversation] = {}
    for owner, authors in sorted(groups.items()):
        if owner == keeper:
            parts[owner] = _narrowed(conv, authors, conv.message_count - moved)
        elif conv.is_open:
            parts[owner] = _split_off(state.workspace, conv, owner, authors, event_id, at)
    plan = SplitPlan(event_id=event_id, at=at, origin=conv.id, origin_agent=conv.agent_id,
                     keeper=keeper, parts=parts)
    state = state.model_copy(update={
        "current": parts.get(state.customer_id), "last_split": plan,
        "processed": state.remember(event_id, conv.id),
    })
    return _announce(state, plan)


def _latest(authors: dict[str, Author]) -> Author:
    return max(authors.values(), key=lambda a: a.last_at)


def _narrowed(conv: Conversation, authors: dict[str, Author], count: int) -> Conversation:
    """The shared conversation with only the keeper's authors (and author-less messages)."""
    latest = _latest(authors)
    return conv.model_copy(update={
        "authors": authors, "message_count": max(count, sum(a.messages for a in authors.values())),
        "last_message_at": latest.last_at, "last_channel": latest.last_channel,
    })


def _split_off(workspace: str, conv: Conversation, owner: str, authors: dict[str, Author],
               event_id: str, at: datetime) -> Conversation:
    """A new open conversation for one person's part of the shared one."""
    opening = derived_event_id(event_id, f"split.{owner}")
    latest = _latest(authors)
    return Conversation(
        id=conversation_id_for(workspace, opening), opened_at=at, opened_by=opening,
        last_message_at=latest.last_at, last_channel=latest.last_channel,
        routed_channel=latest.last_channel, waiting_since=conv.waiting_since or at,
        message_count=sum(a.messages for a in authors.values()),
        thread_ids=list(conv.thread_ids), authors=authors,
    )


def _announce(state: CustomerState, plan: SplitPlan) -> tuple[Outcome, dict[str, Conversation]]:
    """The events, requests and handoffs of a split plan (the same on every replay)."""
    events, requests = [], []
    reason = f"split from {plan.origin} by unlink"
    for owner, part in sorted(plan.parts.items()):
        if part.id == plan.origin:
            continue
        theirs = CustomerState(customer_id=owner, workspace=state.workspace,
                               last_agent_id=plan.origin_agent or state.last_agent_id)
        events.append(conversation_event(
            theirs, part, ConversationEventKind.OPENED,
            derived_event_id(plan.event_id, f"opened.{part.id}"), plan.at, reason=reason))
        requests.append(routing_request(
            theirs, part, RoutingRequestKind.ROUTE,
            derived_event_id(plan.event_id, f"route.{part.id}"), plan.at, reason))
    kept = plan.parts[plan.keeper]
    others = [(o, p) for o, p in sorted(plan.parts.items()) if p.id != plan.origin]
    if kept.is_open and others:
        holder = CustomerState(customer_id=plan.keeper, workspace=state.workspace,
                               last_agent_id=state.last_agent_id)
        moved = "; ".join(f"{p.message_count} message(s) from {', '.join(sorted(p.authors))} "
                          f"continue in conversation {p.id} (customer {o})" for o, p in others)
        events.append(conversation_event(
            holder, kept, ConversationEventKind.NOTE_ADDED,
            derived_event_id(plan.event_id, f"note.{kept.id}"), plan.at, reason=UNLINK_REASON,
            note=f"Customer split by unlink: {moved}. Replies here go to "
                 f"{', '.join(sorted(kept.authors))}."[:4000]))
        if plan.keeper == state.customer_id:
            requests.append(routing_request(
                holder, kept, RoutingRequestKind.UPDATE,
                derived_event_id(plan.event_id, f"update.{kept.id}"), plan.at, UNLINK_REASON))
    handoffs = {o: p for o, p in plan.parts.items() if o != state.customer_id}
    return Outcome(state, events=events, requests=requests), handoffs
