"""OutboundMessage: a reply or automated message to deliver to a customer.

Topic ``omniroute.outbound.v1``, key conversation id. Agent apps and automation
produce it; the delivery connectors consume it and report DeliveryStatus.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field, model_validator

from omniroute.contract.base import Address, Channel, ContractModel, Envelope, Identifier
from omniroute.contract.inbound import MAX_TEXT_CHARS, Attachment, ThreadHints


class AuthorKind(StrEnum):
    """Who wrote an outbound message."""

    AGENT = "agent"
    BOT = "bot"
    SYSTEM = "system"


class Author(ContractModel):
    """The author of an outbound message."""

    kind: AuthorKind
    id: Identifier | None = None
    name: Annotated[str, Field(max_length=200)] | None = None


class Template(ContractModel):
    """A pre-approved message template (WhatsApp) for use outside the service window."""

    name: Annotated[str, Field(min_length=1, max_length=512)]
    language: Annotated[str, Field(min_length=2, max_length=16)]
    parameters: list[Annotated[str, Field(max_length=1024)]] = []


class Choice(ContractModel):
    """A button or quick reply offered with a message; a tap comes back as its ``payload``."""

    payload: Annotated[str, Field(min_length=1, max_length=256)]
    title: Annotated[str, Field(min_length=1, max_length=20)]


class OutboundMessage(Envelope):
    """A message to send to a customer on a specific channel."""

    conversation_id: Identifier
    customer_id: Identifier | None = None
    channel: Channel
    channel_account: Annotated[str, Field(min_length=1, max_length=320)]
    recipient: Address
    author: Author
    text: Annotated[str, Field(max_length=MAX_TEXT_CHARS)] | None = None
    attachments: list[Attachment] = []
    template: Template | None = None
    message_tag: Annotated[str, Field(max_length=64)] | None = Field(
        default=None, description="Messenger message tag for sends outside the 24-hour window."
    )
    reply_to_provider_message_id: Annotated[str, Field(max_length=998)] | None = None
    thread: ThreadHints | None = None
    choices: list[Choice] = Field(
        default=[], max_length=10,
        description="Buttons (WhatsApp interactive, Telegram inline keyboard, LINE, Messenger "
                    "and Instagram quick replies, web chat); channels without them get the "
                    "text alone.",
    )
    proactive: bool = Field(
        default=False, description="Started by the business, not a reply to the customer.")
    automation: Annotated[str, Field(max_length=100)] | None = Field(
        default=None, description="What automation sent it (acknowledgement, out_of_office, "
                                  "escalated, survey, rule:<name>); None for an agent's reply.")

    @model_validator(mode="after")
    def _has_content(self) -> OutboundMessage:
        if not (self.text or self.attachments or self.template):
            raise ValueError("an outbound message needs text, attachments or a template")
        return self
