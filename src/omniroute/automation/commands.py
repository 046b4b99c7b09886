"""Records of ``omniroute.internal.automation`` (keyed by customer id, co-partitioned with
``omniroute.internal.customers``, so the same worker holds the customer's memory)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

TOPIC = "omniroute.internal.automation"


class _Command(BaseModel):
    model_config = ConfigDict(frozen=True)

    workspace: str
    customer_id: str
    conversation_id: str
    at: datetime


class AgentReplied(_Command):
    """An agent's reply went out (seen on ``omniroute.outbound.v1``): SLA clocks stop."""

    kind: Literal["replied"] = "replied"
    event_id: str


class Tick(_Command):
    """The SLA/idle scan found something due for this conversation at ``at``."""

    kind: Literal["tick"] = "tick"


AUTOMATION_COMMAND: TypeAdapter[Any] = TypeAdapter(
    Annotated[AgentReplied | Tick, Field(discriminator="kind")])
