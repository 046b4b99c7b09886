"""What the conversations processor remembers per customer, and its derived ids."""

from __future__ import annotations

import hashlib
from datetime import datetime

from pydantic import BaseModel, Field

from omniroute.contract import Channel

MAX_PROCESSED = 256
MAX_THREAD_IDS = 50
MAX_EVENT_ID = 200
MAX_RECENT = 50


def conversation_id_for(workspace: str, opening_event_id: str) -> str:
    """A conversation's id, derived from the message that opened it (stable across replays)."""
    digest = hashlib.sha256(f"{workspace}\n{opening_event_id}".encode()).hexdigest()
    return f"cnv_{digest[:24]}"


def derived_event_id(base: str, suffix: str) -> str:
    """``{base}.{suffix}``, hashed down when it would exceed the contract's 200 characters."""
    candidate = f"{base}.{suffix}"
    if len(candidate) <= MAX_EVENT_ID:
        return candidate
    return f"h:{hashlib.sha256(base.encode()).hexdigest()[:48]}.{suffix}"[:MAX_EVENT_ID]


class Author(BaseModel):
    """What one address wrote in a conversation (an unlink splits a conversation by these)."""

    messages: int = 0
    first_at: datetime
    last_at: datetime
    last_channel: Channel
    sender: str
    """The address as the provider sent it: where a reply to this person goes."""
    recent: list[str] = Field(default_factory=list)
    """Event ids of this address's latest messages here (at most :data:`MAX_RECENT`): an
    unlink re-files them in history (``message_moved``)."""


class Conversation(BaseModel):
    """One conversation: open (being routed or handled) or resolved."""

    id: str
    opened_at: datetime
    opened_by: str
    """Event id of the message that opened or last reopened it."""
    status: str = "open"
    reopened: bool = False
    last_message_at: datetime
    last_channel: Channel
    waiting_since: datetime | None = None
    resolved_at: datetime | None = None
    agent_id: str | None = None
    message_count: int = 0
    thread_ids: list[str] = Field(default_factory=list)
    authors: dict[str, Author] = Field(default_factory=dict)
    """Normalized sender address → what it wrote here (bounded by the customer's addresses)."""
    pool: str | None = None
    """The pool the router last said holds this conversation's work item (assigned/unassigned)."""
    routed_channel: Channel | None = None
    """The channel of the last ``route`` request: the router chose the pool from it."""
    parked: str | None = None
    """Why the router could not route it (no pool, queue full, ...); the next message re-routes."""

    @property
    def is_open(self) -> bool:
        """True until an agent (or automation) resolves it."""
        return self.status == "open"


class SplitPlan(BaseModel):
    """What an unlink did to a shared conversation (kept so a replay re-announces it)."""

    event_id: str
    at: datetime
    origin: str
    """The conversation the people shared."""
    origin_agent: str | None = None
    keeper: str
    """The customer that keeps ``origin`` (whoever wrote its first message)."""
    parts: dict[str, Conversation]
    """Customer → its conversation after the split (``origin``'s id for the keeper)."""


class CustomerState(BaseModel):
    """Everything threading knows about one customer."""

    customer_id: str
    workspace: str
    merged_into: str | None = None
    current: Conversation | None = None
    last_agent_id: str | None = None
    processed: dict[str, str] = Field(default_factory=dict)
    """Recent message (and merge) event ids → the conversation they joined, took over or
    folded (replays re-emit the same)."""
    folded: dict[str, str] = Field(default_factory=dict)
    """Conversations folded into another by a merge → the one they live on in."""
    last_folded: Conversation | None = None
    """The conversation the latest merge folded away (a replayed merge re-announces it)."""
    last_split: SplitPlan | None = None
    """The latest unlink that split this customer's conversation (a replay re-announces it)."""
    claims: dict[str, str] = Field(default_factory=dict)
    """Unverified claims (an email typed into a chat): recorded, never merged on."""

    def names(self, conversation_id: str) -> set[str]:
        """``conversation_id`` and every conversation that was folded or absorbed into it."""
        found = {conversation_id}
        while True:
            more = {k for k, v in self.folded.items() if v in found} - found
            if not more:
                return found
            found |= more

    def remember(self, event_id: str, conversation_id: str) -> dict[str, str]:
        """``processed`` with one more entry, the oldest dropped past the bound."""
        kept = dict(list(self.processed.items())[-(MAX_PROCESSED - 1):])
        kept[event_id] = conversation_id
        return kept
