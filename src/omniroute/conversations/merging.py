"""What customers merging and splitting does to their conversations.

When the identity graph merges customer B into A, B hands its current
conversation to A (:func:`merge_away`) and A takes it over (:func:`absorb`):

- A has no conversation, or only a resolved one and B's is open or newer: A
  takes B's over; an open one gets an ``update`` RoutingRequest (new customer).
- Both are open: the later-opened folds into the earlier. The folded one gets
  a public ``merged`` ConversationEvent (``merged_into`` the survivor, the
  event's ``customer_id`` the surviving customer), so history and
  integrations see the merge; the router gets a ``cancel`` for it and an
  ``update`` for the survivor (counts, channels and waiting time combined).

Every absorb remembers its event id: a replay after a crash (state written,
outputs maybe lost) emits the same events and requests again, under the same
deterministic event ids, so consumers de-duplicate them. Unlink makes a
merged-away customer independent again (:func:`detach`).
"""

from __future__ import annotations

from datetime import datetime

from omniroute.contract import ConversationEventKind
from omniroute.conversations.state import (
    MAX_THREAD_IDS,
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


def _fold(earlier: Conversation, later: Conversation) -> Conversation:
    latest = max(earlier, later, key=lambda c: c.last_message_at)
    waits = [w for w in (earlier.waiting_since, later.waiting_since) if w is not None]
    return earlier.model_copy(update={
        "message_count": earlier.message_count + later.message_count,
        "last_message_at": latest.last_message_at, "last_channel": latest.last_channel,
        "waiting_since": min(waits) if waits and not earlier.agent_id else earlier.waiting_since,
        "agent_id": earlier.agent_id or later.agent_id,
        "thread_ids": (earlier.thread_ids + later.thread_ids)[-MAX_THREAD_IDS:],
    })


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
    return Outcome(
        state,
        events=[merged],
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
    claims: dict[str, str], event_id: str, at: datetime,
) -> Outcome:
    """Take over a merged-away customer's conversation; two open ones fold into the earlier."""
    if state.merged_into:
        return Outcome(state, redirect=state.merged_into)
    if event_id in state.processed:
        return _absorb_replay(state, event_id, at)
    state = state.model_copy(update={
        "last_agent_id": state.last_agent_id or last_agent_id, "claims": {**claims, **state.claims},
    })
    ours = state.current
    if incoming is None or incoming.id in state.folded or (ours and ours.id == incoming.id):
        return Outcome(state)
    if ours is None or (not ours.is_open and (incoming.is_open or
                                              incoming.last_message_at > ours.last_message_at)):
        state = state.model_copy(update={
            "current": incoming, "processed": state.remember(event_id, incoming.id),
        })
        return _taken_over(state, incoming, event_id, at)
    if not (ours.is_open and incoming.is_open):
        return Outcome(state)
    earlier, later = sorted((ours, incoming), key=lambda c: (c.opened_at, c.id))
    state = state.model_copy(update={
        "current": _fold(earlier, later), "folded": {**state.folded, later.id: earlier.id},
        "last_folded": later, "processed": state.remember(event_id, later.id),
    })
    return _folded(state, later, event_id, at)
