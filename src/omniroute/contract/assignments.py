"""AssignmentEvent: what the router decided for an agent.

Topic ``omniroute.assignments.v1``, key agent id. Every decision records the
rule that matched, the policy version and the inputs it used, so a decision can
be explained and a replay of the same input log reproduces it.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import Field

from omniroute.contract.base import Channel, ContractModel, Envelope, Identifier, UtcDatetime


class AssignmentKind(StrEnum):
    """Transitions of a work item as an agent sees them."""

    OFFERED = "offered"
    ASSIGNED = "assigned"
    REVOKED = "revoked"
    RESCINDED = "rescinded"
    REJECTED = "rejected"
    COMPLETED = "completed"


class Decision(ContractModel):
    """Why the router did what it did."""

    rule: Annotated[str, Field(min_length=1, max_length=200)]
    policy_version: Annotated[int, Field(ge=0)]
    inputs: dict[str, Any] = {}


class AssignmentEvent(Envelope):
    """An offer, an assignment, or its end, addressed to one agent.

    ``rejected`` answers an agent event the router refused (unknown agent, an
    expired offer, capacity below load); it changes nothing and says why.
    """

    agent_id: Identifier
    kind: AssignmentKind
    conversation_id: Identifier | None = None
    work_id: Identifier | None = None
    offer_id: Identifier | None = None
    pool: Identifier | None = None
    channel: Channel | None = None
    priority: int | None = None
    expires_at: UtcDatetime | None = None
    reason: Annotated[str, Field(max_length=1000)] | None = None
    decision: Decision | None = None
