"""AgentEvent: what an agent (a human) or their app tells the router.

Topic ``omniroute.agent-events.v1``, key agent id. Presence, heartbeats,
capacity, accepting or declining offers, wrap-up, resolve and transfer.
Each ``kind`` requires its own fields; see :data:`REQUIRED_FIELDS`.
A ``heartbeat`` may carry ``presence``: the presence the agent's app shows (the
gateway's record of her last choice), taken only by a pool that has not heard her
presence since she joined it; it is not a choice and history does not record it.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field, model_validator

from omniroute.contract.base import Channel, ContractModel, Envelope, Identifier


class Presence(StrEnum):
    """An agent's presence; only ``available`` agents receive new offers."""

    AVAILABLE = "available"
    BUSY = "busy"
    AWAY = "away"
    OFFLINE = "offline"


class ChannelCapacity(ContractModel):
    """How much one conversation on a channel weighs, and how many the agent may hold."""

    weight: Annotated[int, Field(ge=1, le=100)] = 1
    cap: Annotated[int, Field(ge=0, le=1000)] | None = None


class Capacity(ContractModel):
    """An agent's total capacity and per-channel weights and caps.

    ``3 chats, or 1 email + 2 chats`` is ``total=3`` with every weight 1 and
    ``email`` capped at 1.
    """

    total: Annotated[int, Field(ge=0, le=1000)]
    channels: dict[Channel, ChannelCapacity] = {}


class AgentEventKind(StrEnum):
    """What happened."""

    PRESENCE = "presence"
    HEARTBEAT = "heartbeat"
    CAPACITY = "capacity"
    ACCEPT = "accept"
    DECLINE = "decline"
    WRAP_UP = "wrap_up"
    RESOLVE = "resolve"
    TRANSFER = "transfer"


REQUIRED_FIELDS: dict[AgentEventKind, tuple[str, ...]] = {
    AgentEventKind.PRESENCE: ("presence",),
    AgentEventKind.HEARTBEAT: (),
    AgentEventKind.CAPACITY: ("capacity",),
    AgentEventKind.ACCEPT: ("offer_id", "conversation_id"),
    AgentEventKind.DECLINE: ("offer_id", "conversation_id"),
    AgentEventKind.WRAP_UP: ("conversation_id",),
    AgentEventKind.RESOLVE: ("conversation_id",),
    AgentEventKind.TRANSFER: ("conversation_id",),
}


class AgentEvent(Envelope):
    """One event from an agent app."""

    agent_id: Identifier
    kind: AgentEventKind
    pool: Identifier | None = None
    presence: Presence | None = Field(default=None, description=(
        "presence: the agent's choice; heartbeat: what her app shows (taken only by a pool "
        "that has not heard her presence since she joined it)"))
    capacity: Capacity | None = None
    auto_accept: bool | None = None
    offer_id: Identifier | None = None
    conversation_id: Identifier | None = None
    reason: Annotated[str, Field(max_length=1000)] | None = None
    target_agent_id: Identifier | None = None
    target_pool: Identifier | None = None

    @model_validator(mode="after")
    def _required_for_kind(self) -> AgentEvent:
        missing = [name for name in REQUIRED_FIELDS[self.kind] if getattr(self, name) is None]
        if missing:
            raise ValueError(f"a {self.kind.value} event needs {', '.join(missing)}")
        if self.kind is AgentEventKind.TRANSFER and not (self.target_agent_id or self.target_pool):
            raise ValueError("a transfer event needs target_agent_id or target_pool")
        return self
