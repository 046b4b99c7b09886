"""The records of the bot's inbox, ``omniroute.internal.bot-inbox``, keyed by conversation id.

- :class:`BotTurn`: from the conversations processor, in place of its routing
  requests while the bot is enabled: the requests one command produced and,
  for a customer message, the message itself;
- :class:`BotNews`: a ``resolved`` ConversationEvent, repartitioned here so the
  bot can tell a human resolution from its own;
- :class:`BotExpire`: from the bot's timer, when a wait for the customer ended.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, TypeAdapter

from omniroute.contract import ConversationEvent, InboundMessage
from omniroute.routing.requests import RoutingRequest

TOPIC = "omniroute.internal.bot-inbox"


class BotTurn(BaseModel):
    """What one conversations command produced for a conversation."""

    kind: Literal["turn"] = "turn"
    conversation_id: str
    customer_id: str
    workspace: str
    message: InboundMessage | None = None
    requests: list[RoutingRequest] = []


class BotNews(BaseModel):
    """A conversation event the bot learns from (resolved)."""

    kind: Literal["news"] = "news"
    event: ConversationEvent


class BotExpire(BaseModel):
    """A wait for the customer that ended at ``deadline``."""

    kind: Literal["expire"] = "expire"
    conversation_id: str
    deadline: datetime


BotRecord = Annotated[BotTurn | BotNews | BotExpire, Field(discriminator="kind")]
BOT_RECORD: TypeAdapter[Any] = TypeAdapter(BotRecord)
