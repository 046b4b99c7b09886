"""What customers merging does to their conversations.

When the identity graph merges customer B into A, B hands its current
conversation to A (:func:`merge_away`) and A takes it over (:func:`absorb`):

- A has no conversation, or only a resolved one and B's is open or newer: A
  takes B's over (keeping the resolved one's thread ids, so replies to it
  still thread); an open one gets an ``update`` RoutingRequest (new customer).
- B's is resolved (or older): A keeps its own, adding B's thread ids; B's
  conversation id answers for A's from then on (reply tokens, Message-IDs).
- Both are open: one **keeps** the conversation, the other folds into it:

  - exactly one is assigned to an agent: the assigned one keeps it (its agent
    keeps working; nothing is taken from them);
  - both or neither are assigned: the earlier-opened keeps it.

  The folded one gets a public ``merged`` ConversationEvent (``merged_into``
  the keeper, ``customer_id`` the surviving customer) and a ``cancel``
  RoutingRequest sent to the pool where its work item lives (the pool the
  router reported, else the channel its ``route`` named): the router rescinds
  its offer or revokes its assignment (the agent is told by a ``revoked``
  assignment event and the capacity is freed) or drops it from the queue.
  The keeper gets an ``update`` (new customer, combined counts) and a
  ``note_added`` event telling its holder what was merged in. The keeper's
  state keeps its own agent only: never the folded one's (no zombie holder).

Every absorb remembers its event id: a replay after a crash (state written,
outputs maybe lost) emits the same events and requests again, under the same
deterministic event ids, so consumers de-duplicate them. Unlink makes a
merged-away customer independent again (:func:`detach`; :mod:`.splitting`).
"""

from __future__ import annotations

from datetime import datetime

from omniroute.contract import ConversationEventKind
from omniroute.conversations.state import (
    MAX_THREAD_IDS,
    Author,
    Conversation,
    CustomerState,
    derived_event_id,
)
from omniroute.conversations.threading import Outcome, conversation_event, routing_request
from omniroute.routing.requests import RoutingRequestKind

MERGE_REASON = "customers merged"


def merge_away(state: CustomerState, survivor: str) -> tuple[CustomerState, Conversation | None]:
    """This customer was merged into ``survivor``: hand over the current conversation.

    The handed conversation stays in the state (ignored while merged) so a
    replayed merge hands it over again; the survivor's absorb is idempotent.
    """
    return state.model_copy(update={"merged_into": survivor}), state.current


def detach(state: CustomerState) -> CustomerState:
    """An unlink split this customer off the one it had been merged into.

    Its old conversation now lives on with the survivor, so it starts afresh.
    """
    if state.merged_into is None:
        return state
    return state.model_copy(update={"merged_into": None, "current": None})


def merge_authors(*groups: dict[str, Author]) -> dict[str, Author]:
    """Per-address authorship of conversations put together."""
    merged: dict[str, Author] = {}
    for authors in groups:
        for address, mine in authors.items():
            seen = merged.get(address)
            if seen is None:
                merged[address] = mine
                continue
            latest = mine if mine.last_at >= seen.last_at else seen
            merged[address] = latest.model_copy(update={
                "messages": seen.messages + mine.messages,
                "first_at": min(seen.first_at, mine.first_at)})
    return merged


def _threads(*convs: Conversation) -> list[str]:
    return list(dict.fromkeys(t for c in convs for t in c.thread_ids))[-MAX_THREAD_IDS:]


def _fold(keeper: Conversation, other: Conversation) -> Conversation:
    latest = max(keeper, other, key=lambda c: c.last_message_at)
    waits = [w for w in (keeper.waiting_since, other.waiting_since) if w is not None]
    return keeper.model_copy(update={
        "message_count": keeper.message_count + other.message_count,
        "last_message_at": latest.last_message_at, "last_channel": latest.last_channel,
        "waiting_since": min(waits) if waits and not keeper.agent_id else keeper.waiting_since,
        "thread_ids": _threads(keeper, other),
        "authors": merge_authors(keeper.authors, other.authors),
    })


def keeper_of(ours: Conversation, incoming: Conversation) -> tuple[Conversation, Conversation]:
    """(keeper, folded) of two open conversations: the only assigned one, else the earlier."""
    assigned = [c for c in (ours, incoming) if c.agent_id]
    if len(assigned) == 1:
        keeper = assigned[0]
    else:
        keeper = min(ours, incoming, key=lambda c: (c.opened_at, c.id))
    return keeper, (incoming if keeper is ours else ours)


def _taken_over(state: CustomerState, conv: Conversation, event_id: str, at: datetime) -> Outcome:
    requests = []
    if conv.is_open:
        requests.append(routing_request(state, conv, RoutingRequestKind.UPDATE,
                                        derived_event_id(event_id, f"update.{conv.id}"), at,
                                        MERGE_REASON))
    return Outcome(state, requests=requests)


def _folded(state: CustomerState, later: Conversation, event_id: str, at: datetime) -> Outcome:
    """The outputs of folding ``later`` into the state's current conversation."""
    survivor = state.current
    assert survivor is not None
    merged = conversation_event(
        state, later, ConversationEventKind.MERGED,
        derived_event_id(event_id, f"merged.{later.id}"), at, merged_into=survivor.id,
        reason=MERGE_REASON,
    )
    note = conversation_event(
        state, survivor, ConversationEventKind.NOTE_ADDED,
        derived_event_id(event_id, f"note.{survivor.id}"), at, reason=MERGE_REASON,
        note=(f"Customers merged: conversation {later.id} ({later.message_count} messages) "
              f"was merged into this one."),
    )
    return Outcome(
        state,
        events=[merged, note],
        requests=[
            routing_request(state, later, RoutingRequestKind.CANCEL,
                            derived_event_id(event_id, f"cancel.{later.id}"), at,
                            f"merged into {survivor.id}"),
            routing_request(state, survivor, RoutingRequestKind.UPDATE,
                            derived_event_id(event_id, f"update.{survivor.id}"), at, MERGE_REASON),
        ],
    )


def _absorb_replay(state: CustomerState, event_id: str, at: datetime) -> Outcome:
    """An absorb applied before: emit what it emitted, from the remembered outcome."""
    conv, later = state.current, state.last_folded
    target = state.processed[event_id]
    if later is not None and later.id == target and state.folded.get(target):
        return _folded(state, later, event_id, at)
    if conv is not None and conv.id == target:
        return _taken_over(state, conv, event_id, at)
    return Outcome(state)


def absorb(
    state: CustomerState, incoming: Conversation | None, last_agent_id: str | None,
    claims: dict[str, str], event_id: str, at: datetime, detach_from: str | None = None,
) -> Outcome:
    """Take over a merged-away customer's conversation (see the module docstring).

    ``detach_from``: an unlink's split hands this customer its part; if it is
    still marked merged into that customer, it is detached first.
    """
    if detach_from is not None and state.merged_into == detach_from:
        state = detach(state)
    if state.merged_into:
        return Outcome(state, redirect=state.merged_into)
    if event_id in state.processed:
        return _absorb_replay(state, event_id, at)
    state = state.model_copy(update={
        "last_agent_id": state.last_agent_id or last_agent_id, "claims": {**claims, **state.claims},
        "last_split": None,
    })
    ours = state.current
    if incoming is None or incoming.id in state.folded or (ours and ours.id == incoming.id):
        return Outcome(state)
    if ours is None or (not ours.is_open and (incoming.is_open or
                                              incoming.last_message_at > ours.last_message_at)):
        folded = state.folded
        if ours is not None:
            incoming = incoming.model_copy(update={"thread_ids": _threads(ours, incoming)})
            folded = {**folded, ours.id: incoming.id}
        state = state.model_copy(update={
            "current": incoming, "folded": folded,
            "processed": state.remember(event_id, incoming.id),
        })
        return _taken_over(state, incoming, event_id, at)
    if not (ours.is_open and incoming.is_open):
        kept = ours.model_copy(update={"thread_ids": _threads(ours, incoming)})
        return Outcome(state.model_copy(update={
            "current": kept, "folded": {**state.folded, incoming.id: ours.id},
            "processed": state.remember(event_id, incoming.id),
        }))
    keeper, later = keeper_of(ours, incoming)
    state = state.model_copy(update={
        "current": _fold(keeper, later), "folded": {**state.folded, later.id: keeper.id},
        "last_folded": later, "processed": state.remember(event_id, later.id),
    })
    return _folded(state, later, event_id, at)
