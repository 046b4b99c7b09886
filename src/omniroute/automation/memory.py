"""What automation remembers per customer (a changelog-backed table beside threading's)."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, Field

from omniroute.automation.sla import SlaClock
from omniroute.contract import Address, Channel
from omniroute.contract.inbound import ThreadHints

MAX_CONVERSATIONS = 5
MAX_HANDLED = 64

MIN = datetime.min.replace(tzinfo=UTC)
"""Earlier than any activity (a memory without one)."""


class ReplyRoute(BaseModel):
    """Where automatic messages go: the customer's latest channel, account and address."""

    channel: Channel
    channel_account: str
    recipient: Address
    provider_message_id: str | None = None
    thread: ThreadHints | None = None
    """An email's: its replies' subject and References (:func:`mailthread.reply_thread`)."""


class ConversationMemory(BaseModel):
    """Automation's facts about one conversation."""

    conversation_id: str
    language: str | None = None
    slots: dict[str, str] = Field(default_factory=dict)
    human_engaged: bool = False
    """An agent was assigned: no more acknowledgements; a survey after resolve."""
    escalated: bool = False
    priority: int = 0
    intent: str | None = None
    sentiment: float | None = None
    skills: dict[str, int] = Field(default_factory=dict)
    auto_replied_on: str | None = None
    """UTC date (YYYY-MM-DD) of the last acknowledgement or out-of-office reply."""
    survey_sent_at: datetime | None = None
    survey_expires_at: datetime | None = None
    rating: int | None = None
    rated_at: datetime | None = None
    commented: bool = False
    open: bool = True
    pool: str | None = None
    channel: Channel | None = None
    tags: list[str] = Field(default_factory=list)
    sla: SlaClock | None = None
    last_activity_at: datetime | None = None
    idle_fired: list[str] = Field(default_factory=list)
    """Idle rules that fired since the last message."""
    waiting: str | None = None
    """Whom the conversation waits on: ``agent`` after a customer message, ``customer``
    after an agent's reply (the rules' ``waiting`` condition)."""

    def joined(self, other: ConversationMemory) -> ConversationMemory:
        """This conversation's memory with what ``other`` knew of the same exchange with the
        customer (a merge handed it over, or folded it into this one): whatever was sent or
        happened in either counts, so a customer acknowledged on one channel is not
        acknowledged again on the other the same day, a human who took part still gets the
        survey asked, an escalation stays raised. Joining again changes nothing."""
        days = [d for d in (self.auto_replied_on, other.auto_replied_on) if d]
        return self.model_copy(update={
            "language": self.language or other.language,
            "slots": {**other.slots, **self.slots},
            "human_engaged": self.human_engaged or other.human_engaged,
            "escalated": self.escalated or other.escalated,
            "priority": max(self.priority, other.priority),
            "intent": self.intent or other.intent,
            "sentiment": self.sentiment if self.sentiment is not None else other.sentiment,
            "skills": {**other.skills, **self.skills},
            "auto_replied_on": max(days) if days else None,
            "survey_sent_at": self.survey_sent_at or other.survey_sent_at,
            "survey_expires_at": self.survey_expires_at or other.survey_expires_at,
            "pool": self.pool or other.pool,
            "channel": self.channel or other.channel,
            "tags": [*self.tags, *(t for t in other.tags if t not in self.tags)],
            "sla": self.sla or other.sla,
            "last_activity_at": max((t for t in (self.last_activity_at, other.last_activity_at)
                                     if t is not None), default=None),
            "waiting": (self if (self.last_activity_at or MIN) >= (other.last_activity_at or MIN)
                        else other).waiting,
        })


class CustomerMemory(BaseModel):
    """Automation's facts about one customer."""

    customer_id: str
    workspace: str = "default"
    route: ReplyRoute | None = None
    language: str | None = None
    attributes: dict[str, str] = Field(default_factory=dict)
    """Customer attributes for rule conditions (the inbound messages' metadata)."""
    conversations: dict[str, ConversationMemory] = Field(default_factory=dict)
    handled: dict[str, str] = Field(default_factory=dict)
    """Message event ids automation consumed (a survey answer) -> what it made of them."""

    def conversation(self, conversation_id: str) -> ConversationMemory:
        """The memory of ``conversation_id`` (a fresh one if unknown)."""
        return self.conversations.get(conversation_id) or ConversationMemory(
            conversation_id=conversation_id, language=self.language)

    def with_conversation(self, memory: ConversationMemory, **changes: object
                          ) -> CustomerMemory:
        """A copy holding ``memory`` (and ``changes``); only the latest conversations are
        kept."""
        kept = {k: v for k, v in self.conversations.items() if k != memory.conversation_id}
        kept = dict(list(kept.items())[-(MAX_CONVERSATIONS - 1):])
        kept[memory.conversation_id] = memory
        return self.model_copy(update={**changes, "conversations": kept})

    def with_handled(self, event_id: str, what: str) -> CustomerMemory:
        """A copy remembering that automation consumed message ``event_id``."""
        kept = dict(list(self.handled.items())[-(MAX_HANDLED - 1):])
        kept[event_id] = what
        return self.model_copy(update={"handled": kept})
