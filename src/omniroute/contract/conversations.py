"""ConversationEvent: the life of a conversation, for history, analytics and integrations.

Topic ``omniroute.conversations.v1``, key conversation id.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field, model_validator

from omniroute.contract.base import Channel, ContractModel, Envelope, EventId, Identifier
from omniroute.contract.inbound import MAX_TEXT_CHARS, ThreadHints


class ConversationEventKind(StrEnum):
    """What happened to the conversation."""

    OPENED = "opened"
    REOPENED = "reopened"
    MESSAGE_ADDED = "message_added"
    ASSIGNED = "assigned"
    UNASSIGNED = "unassigned"
    TRANSFERRED = "transferred"
    NOTE_ADDED = "note_added"
    TAGGED = "tagged"
    TRIAGED = "triaged"
    RESOLVED = "resolved"
    MERGED = "merged"
    RATED = "rated"
    PARKED = "parked"
    """The router could not route it (no pool, queue full, time-to-live, no further pool):
    it waits, with ``reason``, until it is routed again (a new routing request)."""
    MESSAGE_MOVED = "message_moved"
    """An unlink split the conversation: ``message`` (by ``source_event_id``) now belongs to
    this conversation and customer (history re-files it)."""
    ESCALATED = "escalated"
    """The customer asked for a human (or a rule escalated): raised priority, human queue."""
    SLA_BREACHED = "sla_breached"
    """A first-reply, next-reply or resolution target passed (``reason`` names which)."""
    SURVEY_SENT = "survey_sent"
    """The CSAT survey went to the customer (analytics: survey response rate)."""
    AUTOMATION_APPLIED = "automation_applied"
    """An automation rule acted on the conversation (``reason`` names the rule and action)."""
    BOT_ANSWERED = "bot_answered"
    """The answer bot answered with a knowledge-base article (``article_id``)."""
    BOT_RESOLVED = "bot_resolved"
    """The customer said the bot's answer helped (or did not reply in time)."""
    HANDED_OFF = "handed_off"
    """The bot handed the conversation to the human queue (``reason``, ``triage``)."""
    HUMAN_RESOLVED = "human_resolved"
    """An agent resolved a conversation that went through the bot's gate."""
    REROUTED = "rerouted"
    """The router moved the waiting conversation to another pool (``pool``: the new one;
    ``reason``: overflow timeout, queue cap reached, routing targets exhausted), or queued a
    parked conversation that was routed again in ``pool`` (``reason``: why, e.g. "re-routed
    by sue" or "customer wrote while parked (…)"); it is no longer parked."""


class Direction(StrEnum):
    """Who a message came from."""

    INBOUND = "inbound"
    OUTBOUND = "outbound"


class MessageRef(ContractModel):
    """The message a ``message_added`` event adds, enough to show it in history."""

    source_event_id: EventId
    direction: Direction
    channel: Channel
    text: Annotated[str, Field(max_length=MAX_TEXT_CHARS)] | None = None
    author_id: Identifier | None = None
    provider_message_id: Annotated[str, Field(max_length=998)] | None = None
    thread: ThreadHints | None = Field(
        default=None, description="Email threading hints (Message-ID, In-Reply-To, References)."
    )
    sender: Annotated[str, Field(max_length=320)] | None = Field(
        default=None, description="The customer's address as the provider sent it (reply target)."
    )


class Rating(ContractModel):
    """A customer satisfaction rating."""

    score: Annotated[int, Field(ge=1, le=5)]
    comment: Annotated[str, Field(max_length=4000)] | None = None


REQUIRED_FIELDS: dict[ConversationEventKind, tuple[str, ...]] = {
    ConversationEventKind.MESSAGE_ADDED: ("message",),
    ConversationEventKind.MESSAGE_MOVED: ("message",),
    ConversationEventKind.ASSIGNED: ("agent_id",),
    ConversationEventKind.MERGED: ("merged_into",),
    ConversationEventKind.RATED: ("rating",),
    ConversationEventKind.NOTE_ADDED: ("note",),
    ConversationEventKind.BOT_ANSWERED: ("article_id",),
}


class ConversationEvent(Envelope):
    """One change to a conversation."""

    conversation_id: Identifier
    customer_id: Identifier
    kind: ConversationEventKind
    channel: Channel | None = None
    message: MessageRef | None = None
    agent_id: Identifier | None = None
    pool: Identifier | None = None
    merged_into: Identifier | None = None
    rating: Rating | None = None
    note: Annotated[str, Field(max_length=MAX_TEXT_CHARS)] | None = None
    tags: list[Annotated[str, Field(min_length=1, max_length=100)]] = []
    triage: dict[Annotated[str, Field(max_length=64)], Annotated[str, Field(max_length=200)]] = {}
    reason: Annotated[str, Field(max_length=1000)] | None = None
    article_id: Identifier | None = Field(
        default=None, description="The knowledge-base article a bot_answered event carried.")

    @model_validator(mode="after")
    def _required_for_kind(self) -> ConversationEvent:
        missing = [n for n in REQUIRED_FIELDS.get(self.kind, ()) if getattr(self, n) is None]
        if missing:
            raise ValueError(f"a {self.kind.value} event needs {', '.join(missing)}")
        return self
