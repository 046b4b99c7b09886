"""DeliveryStatus: what a provider reported about an outbound message.

Topic ``omniroute.delivery.v1``, key conversation id (the provider message id when
the connector cannot know the conversation). Statuses are ranked so consumers
can apply them in any order: a late ``delivered`` never overwrites ``read``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field

from omniroute.contract.base import Address, Channel, Envelope, EventId, Identifier, UtcDatetime


class DeliveryState(StrEnum):
    """The lifecycle of an outbound message at the provider.

    ``queued``: not sent yet, omniroute sends it in a later round (its provider could not be
    reached, or an earlier message to the customer waits); ``error_code`` and
    ``error_message`` say why and when. It ranks lowest: any other status supersedes it.
    """

    QUEUED = "queued"
    ACCEPTED = "accepted"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"

    @property
    def rank(self) -> int:
        """Order for order-independent merging; ``failed`` is terminal and ranks highest."""
        return _RANK[self]


_RANK = {
    DeliveryState.QUEUED: -1,
    DeliveryState.ACCEPTED: 0,
    DeliveryState.SENT: 1,
    DeliveryState.DELIVERED: 2,
    DeliveryState.READ: 3,
    DeliveryState.FAILED: 4,
}


class DeliveryStatus(Envelope):
    """A status change of one outbound message."""

    conversation_id: Identifier | None = None
    outbound_event_id: EventId | None = None
    channel: Channel
    provider: Annotated[str, Field(min_length=1, max_length=64)]
    provider_message_id: Annotated[str, Field(max_length=998)] | None = None
    recipient: Address | None = None
    state: DeliveryState
    status_at: UtcDatetime | None = None
    error_code: Annotated[str, Field(max_length=64)] | None = None
    error_message: Annotated[str, Field(max_length=2048)] | None = None

    @property
    def kafka_key(self) -> str:
        """The conversation id, else the provider message id, else the event id."""
        return self.conversation_id or self.provider_message_id or self.event_id
