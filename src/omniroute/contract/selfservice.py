"""SelfServiceEvent: what a customer tried before (or instead of) a conversation.

Topic ``omniroute.selfservice.v1``, key the visitor id (else the customer id).
The web chat widget's help search and the proactive prompts produce it, before
any conversation exists; the answer bot's steps inside a conversation are
ConversationEvents (``bot_answered``, ``bot_resolved``, ``handed_off``,
``human_resolved``). Together they are the funnel proactive → self-serve →
bot → human, computed from history alone.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field, model_validator

from omniroute.contract.base import Channel, Envelope, Identifier


class SelfServiceEventKind(StrEnum):
    """One step of self-service."""

    PROACTIVE_SENT = "proactive_sent"
    """A proactive prompt was shown to a visitor (or sent to a customer)."""
    PROACTIVE_OPENED = "proactive_opened"
    """The visitor opened (clicked) that prompt."""
    SELF_SERVE_TRIED = "self_serve_tried"
    """The visitor searched the knowledge base."""
    ARTICLE_VIEWED = "article_viewed"
    """The visitor opened an article."""


class SelfServiceEvent(Envelope):
    """One self-service step by a visitor or customer."""

    kind: SelfServiceEventKind
    channel: Channel = Channel.WEBCHAT
    visitor_id: Identifier | None = Field(
        default=None, description="The web chat visitor (anonymous until identified).")
    customer_id: Identifier | None = None
    conversation_id: Identifier | None = None
    article_id: Identifier | None = None
    language: Annotated[str, Field(max_length=16)] | None = None
    query: Annotated[str, Field(max_length=500)] | None = Field(
        default=None, description="What the visitor searched for (self_serve_tried).")
    results: Annotated[int, Field(ge=0)] | None = Field(
        default=None, description="How many articles the search found.")
    campaign: Annotated[str, Field(max_length=100)] | None = Field(
        default=None, description="Which proactive prompt (proactive_sent/opened).")

    @model_validator(mode="after")
    def _complete(self) -> SelfServiceEvent:
        if self.visitor_id is None and self.customer_id is None:
            raise ValueError("a self-service event needs a visitor_id or a customer_id")
        if self.kind is SelfServiceEventKind.ARTICLE_VIEWED and self.article_id is None:
            raise ValueError("an article_viewed event needs article_id")
        if self.kind is SelfServiceEventKind.SELF_SERVE_TRIED and self.query is None:
            raise ValueError("a self_serve_tried event needs query")
        return self

    @property
    def kafka_key(self) -> str:
        """The partitioning key: one visitor's (else customer's) steps stay in order."""
        return self.visitor_id or self.customer_id or ""
