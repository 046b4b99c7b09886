"""InboundMessage: one customer message, normalized from any provider.

Topic ``omniroute.inbound.v1``, key ``{channel}:{sender address}``. Connectors
produce it; identity consumes it. ``event_id`` is derived deterministically from
the provider's message id, so a provider retry carries the same id.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field, model_validator

from omniroute.contract.base import Address, Channel, ContractModel, Envelope, UtcDatetime

MAX_TEXT_CHARS = 65_536


class AttachmentKind(StrEnum):
    """What an attachment is, as far as an agent app needs to render it."""

    IMAGE = "image"
    AUDIO = "audio"
    VIDEO = "video"
    FILE = "file"
    STICKER = "sticker"


class Attachment(ContractModel):
    """A media reference; the bytes stay with the provider or the object store."""

    kind: AttachmentKind
    url: Annotated[str, Field(max_length=4096)] | None = None
    media_id: Annotated[str, Field(max_length=512)] | None = None
    content_type: Annotated[str, Field(max_length=255)] | None = None
    filename: Annotated[str, Field(max_length=1024)] | None = None
    size_bytes: Annotated[int, Field(ge=0)] | None = None
    caption: Annotated[str, Field(max_length=4096)] | None = None
    content_id: Annotated[str, Field(max_length=998)] | None = None

    @model_validator(mode="after")
    def _has_a_reference(self) -> Attachment:
        if self.url is None and self.media_id is None and self.content_id is None:
            raise ValueError("an attachment needs a url, a media_id or a content_id")
        return self


class Location(ContractModel):
    """A shared location."""

    latitude: Annotated[float, Field(ge=-90, le=90)]
    longitude: Annotated[float, Field(ge=-180, le=180)]
    name: Annotated[str, Field(max_length=1000)] | None = None
    address: Annotated[str, Field(max_length=1000)] | None = None


class SharedContact(ContractModel):
    """A contact card the customer shared."""

    name: Annotated[str, Field(max_length=500)]
    phones: list[Annotated[str, Field(max_length=64)]] = []
    emails: list[Annotated[str, Field(max_length=320)]] = []


class InteractiveKind(StrEnum):
    """Which kind of interactive element the customer answered."""

    BUTTON = "button"
    LIST = "list"
    POSTBACK = "postback"
    QUICK_REPLY = "quick_reply"
    FLOW = "flow"


class InteractiveReply(ContractModel):
    """The customer's answer to a button, list, quick reply, postback or flow."""

    kind: InteractiveKind
    id: Annotated[str, Field(max_length=1000)] | None = None
    title: Annotated[str, Field(max_length=1000)] | None = None
    payload: Annotated[str, Field(max_length=8192)] | None = None


class Reaction(ContractModel):
    """A reaction to an earlier message (``emoji`` absent when it was removed)."""

    target_provider_message_id: Annotated[str, Field(min_length=1, max_length=512)]
    emoji: Annotated[str, Field(max_length=64)] | None = None


class ThreadHints(ContractModel):
    """What a provider tells about threading: email headers, reply tokens, subjects."""

    message_id: Annotated[str, Field(max_length=998)] | None = None
    in_reply_to: list[Annotated[str, Field(max_length=998)]] = []
    references: list[Annotated[str, Field(max_length=998)]] = []
    reply_token: Annotated[str, Field(max_length=200)] | None = None
    subject: Annotated[str, Field(max_length=998)] | None = None


class VerifiedIdentity(ContractModel):
    """An identity the customer proved (web chat identifier + HMAC) and what it carries."""

    identifier: Annotated[str, Field(min_length=1, max_length=320)]
    email: Annotated[str, Field(max_length=320)] | None = None
    phone: Annotated[str, Field(max_length=64)] | None = None
    name: Annotated[str, Field(max_length=200)] | None = None


class InboundMessage(Envelope):
    """A message from a customer, on any channel."""

    channel: Channel
    provider: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z0-9_]+$")]
    channel_account: Annotated[
        str,
        Field(
            min_length=1,
            max_length=320,
            description="The business side: Twilio number, WhatsApp phone number id, page id, "
            "bot id, LINE channel, mailbox, web chat site.",
        ),
    ]
    sender: Address
    recipient: Address
    provider_message_id: Annotated[str, Field(min_length=1, max_length=998)]
    provider_timestamp: UtcDatetime | None = None
    text: Annotated[str, Field(max_length=MAX_TEXT_CHARS)] | None = None
    full_text: Annotated[str, Field(max_length=4 * MAX_TEXT_CHARS)] | None = Field(
        default=None,
        description="The whole body when `text` is only the visible part (email: quoted "
        "history and signature stripped from `text`, kept here).",
    )
    attachments: list[Attachment] = []
    location: Location | None = None
    contacts: list[SharedContact] = []
    interactive: InteractiveReply | None = None
    reaction: Reaction | None = None
    reply_to_provider_message_id: Annotated[str, Field(max_length=998)] | None = None
    thread: ThreadHints | None = None
    verified_identity: VerifiedIdentity | None = None
    claimed: dict[Annotated[str, Field(max_length=64)], Annotated[str, Field(max_length=320)]] = (
        Field(
            default={},
            description="Unverified claims (an email typed into a pre-chat form): recorded, "
            "never used to merge customers.",
        )
    )
    metadata: dict[Annotated[str, Field(max_length=64)], Annotated[str, Field(max_length=2048)]] = (
        Field(default={}, description="Provider extras worth keeping (SPF/DKIM results, ...).")
    )

    @model_validator(mode="after")
    def _has_content(self) -> InboundMessage:
        if not (
            self.text
            or self.attachments
            or self.location
            or self.contacts
            or self.interactive
            or self.reaction
        ):
            raise ValueError(
                "an inbound message needs text, attachments, a location, contacts, "
                "an interactive reply or a reaction"
            )
        return self

    @property
    def kafka_key(self) -> str:
        """The partitioning key: one sender's messages stay in order."""
        return f"{self.channel.value}:{self.sender.value}"
