"""Internal messages to a customer's partition (``omniroute.internal.customers``).

Keyed by customer id, so one customer's messages, merges and router news are
handled by one writer in order.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from omniroute.contract import ConversationEvent, InboundMessage
from omniroute.conversations.state import Conversation


class _Command(BaseModel):
    model_config = ConfigDict(frozen=True)

    workspace: str
    customer_id: str


class ThreadMessage(_Command):
    """Thread this inbound message for this customer."""

    kind: Literal["message"] = "message"
    address: str
    message: InboundMessage


class MergeCustomer(_Command):
    """This customer was merged into ``survivor`` by the identity graph."""

    kind: Literal["merge"] = "merge"
    survivor: str
    event_id: str
    at: datetime


class AbsorbCustomer(_Command):
    """Take over what a merged-away customer had (its current conversation)."""

    kind: Literal["absorb"] = "absorb"
    from_customer: str
    conversation: Conversation | None = None
    last_agent_id: str | None = None
    claims: dict[str, str] = Field(default_factory=dict)
    event_id: str
    at: datetime
    detach_from: str | None = None
    """Sent by an unlink's split: stop being merged into this customer first."""
    automation: dict[str, Any] | None = None
    """Automation's memory of the handed conversation (acknowledged today, a human took
    part, escalated, SLA clock...), so the survivor goes on where the merged-away
    customer was (:meth:`omniroute.automation.memory.ConversationMemory.joined`)."""


class SplitCustomer(_Command):
    """An unlink split this customer: ``owners`` gives each of its addresses' customer now."""

    kind: Literal["split"] = "split"
    owners: dict[str, str]
    event_id: str
    at: datetime


class DetachCustomer(_Command):
    """An unlink made this customer independent again."""

    kind: Literal["detach"] = "detach"
    event_id: str


class RouterNews(_Command):
    """What the router decided about one of this customer's conversations."""

    kind: Literal["router"] = "router"
    event: ConversationEvent


CustomerCommand = Annotated[
    ThreadMessage | MergeCustomer | AbsorbCustomer | SplitCustomer | DetachCustomer | RouterNews,
    Field(discriminator="kind"),
]
CUSTOMER_COMMAND: TypeAdapter[
    ThreadMessage | MergeCustomer | AbsorbCustomer | SplitCustomer | DetachCustomer | RouterNews
] = TypeAdapter(CustomerCommand)
