"""RoutingRequest: what the conversations processor asks of the router.

Internal topic ``omniroute.internal.routing-requests`` (see :data:`TOPIC`),
keyed by conversation id. The router picks the pool, repartitions by pool and
decides. Additive changes only: the conversations processor produces these.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field

from omniroute.contract.base import Channel, Envelope, Identifier, UtcDatetime

TOPIC = "omniroute.internal.routing-requests"


class RoutingRequestKind(StrEnum):
    """What the conversations processor wants."""

    ROUTE = "route"
    """The conversation needs an agent (new, reopened, or requeued by automation)."""
    UPDATE = "update"
    """Attributes changed (priority, sentiment, VIP); requeue order may change."""
    CANCEL = "cancel"
    """The conversation no longer needs routing (merged away, abandoned, resolved by bot)."""


SkillName = Annotated[str, Field(min_length=1, max_length=64)]
SkillLevel = Annotated[int, Field(ge=0, le=10)]


class RoutingRequest(Envelope):
    """A request to route (or stop routing) one conversation."""

    kind: RoutingRequestKind
    conversation_id: Identifier
    customer_id: Identifier
    channel: Channel
    pool: Identifier | None = Field(
        default=None, description="A pool chosen upstream; None lets the router's rules choose."
    )
    priority: Annotated[int, Field(ge=0, le=100)] = 0
    skills: dict[SkillName, SkillLevel] = Field(
        default={}, description="Required skills with minimum proficiency levels."
    )
    language: Annotated[str, Field(max_length=16)] | None = None
    intent: Annotated[str, Field(max_length=64)] | None = None
    sentiment: Annotated[float, Field(ge=-1, le=1)] | None = None
    vip: bool = False
    last_agent_id: Identifier | None = Field(
        default=None, description="For sticky routing: who last handled this customer."
    )
    waiting_since: UtcDatetime | None = Field(
        default=None, description="When the customer started waiting (age is kept across reroutes)."
    )
    reason: Annotated[str, Field(max_length=200)] | None = None
    was_parked: Literal[True] | None = Field(
        default=None, description="The conversation was parked (no pool could take it): "
        "the pool that queues it announces it (a ``rerouted`` conversation event), so history "
        "and the supervisor board stop listing it as parked. Absent otherwise (not ``false``): "
        "a router older than the field reads every request without it, as before.")
