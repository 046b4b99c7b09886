"""The envelope every public payload shares, and the small value types they reuse.

Every public topic carries JSON objects that validate against one of the models
in :mod:`omniroute.contract`. Each has a stable ``event_id`` (consumers
de-duplicate on it), ``occurred_at`` (UTC), a ``workspace`` (tenant) and a schema
``version``. Models are frozen and refuse unknown fields, so a producer that
drifts from the contract fails loudly at the edge rather than downstream.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Literal, Self

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

DEFAULT_WORKSPACE = "default"


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_to_utc)]
"""A timezone-aware timestamp, normalized to UTC; naive timestamps are refused."""

EventId = Annotated[
    str,
    Field(
        min_length=1,
        max_length=200,
        pattern=r"^[A-Za-z0-9._:@+=/-]+$",
        description="Stable idempotency key: the same fact always carries the same id.",
    ),
]
WorkspaceId = Annotated[
    str,
    Field(
        min_length=1,
        max_length=63,
        pattern=r"^[a-z0-9][a-z0-9_-]*$",
        description="Tenant; `default` when unused.",
    ),
]
Identifier = Annotated[str, Field(min_length=1, max_length=200)]


def utcnow() -> datetime:
    """The current time in UTC (the only clock the contract uses)."""
    return datetime.now(UTC)


class Channel(StrEnum):
    """A customer-facing channel; the provider that carries it is recorded separately."""

    WEBCHAT = "webchat"
    SMS = "sms"
    WHATSAPP = "whatsapp"
    EMAIL = "email"
    MESSENGER = "messenger"
    INSTAGRAM = "instagram"
    TELEGRAM = "telegram"
    LINE = "line"
    KAKAO = "kakao"


class ContractModel(BaseModel):
    """Base of every contract type: frozen, strict about unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class Envelope(ContractModel):
    """Fields every public payload carries."""

    event_id: EventId
    occurred_at: UtcDatetime = Field(default_factory=utcnow)
    workspace: WorkspaceId = DEFAULT_WORKSPACE
    version: Literal[1] = 1

    def to_json_bytes(self) -> bytes:
        """The payload as it travels on Kafka: compact UTF-8 JSON."""
        return self.model_dump_json(exclude_none=True).encode()

    @classmethod
    def from_json_bytes(cls, raw: bytes) -> Self:
        """Parse and validate a payload read from Kafka."""
        return cls.model_validate_json(raw)


class Address(ContractModel):
    """An address on a channel: a phone, an email, or a channel-scoped user id.

    ``value`` is what the provider sent (``whatsapp:+14155550100``, a Messenger
    PSID, ``Jane <jane@example.com>`` decoded to ``jane@example.com``); identity
    normalizes it. ``scope`` names what a scoped id is relative to (the page for
    a PSID, the bot for a Telegram id).
    """

    value: Annotated[str, Field(min_length=1, max_length=320)]
    name: Annotated[str, Field(max_length=200)] | None = None
    scope: Annotated[str, Field(max_length=200)] | None = None


class ChannelAddress(ContractModel):
    """An address together with the channel it belongs to."""

    channel: Channel
    address: Address
