"""The routing core's inputs and outputs (pure values).

Inputs are commands and facts for one pool, each with ``at``: the time it
entered the pool's stream. Timer ticks are inputs too, so a replay of the same
inputs yields the same :class:`Decision` list, byte for byte.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from omniroute.routing.policy import AgentCapacity, AgentProfile, PoolPolicy


@dataclass(frozen=True, slots=True, kw_only=True)
class CoreEvent:
    """Something that happened to a pool at time ``at`` (POSIX seconds)."""

    at: float
    event_id: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkInput(CoreEvent):
    """An input about one conversation (``work_id``) of the pool."""

    work_id: str
    direct: bool = False
    """Written by its producer straight into the pool's stream (its pool was known there),
    not through the router's repartition hop: it tells nothing of that hop's progress,
    so it moves the pool's clock but not its input clock (agents' heartbeats travel the
    repartition hop; see ``PoolState.fed``)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Route(WorkInput):
    """Put a conversation in the pool's queue (new, requeued upstream, forwarded, or moved)."""

    customer_id: str
    channel: str
    priority: int = 0
    skills: Mapping[str, int] = field(default_factory=dict)
    vip: bool = False
    sentiment: float | None = None
    last_agent: str | None = None
    waiting_since: float | None = None
    pin_agent: str | None = None
    hops: int = 0
    unparked: str | None = None
    """Why a parked conversation is routed again (a supervisor's re-route, the customer
    wrote): queued here, it is announced as ``rerouted`` into this pool."""
    holder: str | None = None
    """The agent who holds it, when it comes with her from the pool she left (an admin moved
    her here): assigned to her at once, without an offer. The configuration naming her is
    written to this pool's stream before the pool she left reads its own, so she is known
    here; were she not, the work is routed like any other."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Update(WorkInput):
    """Attributes of a conversation changed; its place in the queue may change.

    ``customer_id``: the customer it belongs to now (customers merged), carried by the
    events the router writes for it from then on; None (inputs written before it was
    sent) leaves it as it was."""

    priority: int = 0
    skills: Mapping[str, int] = field(default_factory=dict)
    vip: bool = False
    sentiment: float | None = None
    customer_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Cancel(WorkInput):
    """The conversation no longer needs routing here.

    ``to_pool`` makes it a move (a supervisor's re-route): the pool holding the work while
    it waits or is offered rescinds the offer and forwards it there, keeping its age
    (``priority``, when given, replaces its priority); the target pool itself only takes
    the new priority; assigned work stays with its agent (it is transferred instead)."""

    reason: str = "canceled"
    to_pool: str | None = None
    priority: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentInput(CoreEvent):
    """An event from one agent's app."""

    agent_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SetPresence(AgentInput):
    """available, busy, away or offline."""

    presence: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Heartbeat(AgentInput):
    """The agent's app is alive. ``presence``: the presence her app shows (the gateway's
    record of what she last chose), taken only by a pool that has not heard her presence
    since she joined it (:func:`omniroute.routing.agents.on_heartbeat`)."""

    presence: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SetCapacity(AgentInput):
    """New capacity (refused when below the agent's current load)."""

    capacity: AgentCapacity
    auto_accept: bool | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Accept(AgentInput):
    """The agent accepts an offer."""

    offer_id: str
    work_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Decline(AgentInput):
    """The agent declines an offer, with a reason."""

    offer_id: str
    work_id: str
    reason: str = "declined"


@dataclass(frozen=True, slots=True, kw_only=True)
class WrapUp(AgentInput):
    """The agent finished with the customer and is wrapping up (capacity still held)."""

    work_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Resolve(AgentInput):
    """The agent closed the conversation: capacity frees."""

    work_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Transfer(AgentInput):
    """Hand an assigned conversation to another agent of the pool, or to another pool."""

    work_id: str
    target_agent: str | None = None
    target_pool: str | None = None
    reason: str = "transferred"


@dataclass(frozen=True, slots=True, kw_only=True)
class Tick(CoreEvent):
    """Time passed: offers time out, relaxation steps fire, hours open and close."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Configure(CoreEvent):
    """Admin: replace the pool's policy and/or agent roster (versioned)."""

    policy: PoolPolicy | None = None
    agents: tuple[AgentProfile, ...] | None = None
    fingerprint: str = ""
    version: int = 0
    """The routing-config version (0: unversioned, applied once per fingerprint)."""
    elsewhere: tuple[str, ...] = ()
    """Agents configured in other pools, as records written before ``moved`` name them."""
    moved: Mapping[str, str] = field(default_factory=dict)
    """Agent → the pool they are configured in, for agents of other pools: one leaving this
    pool for another takes the conversations she holds with her, and one who joined it
    unlisted leaves it."""


@dataclass(frozen=True, slots=True, kw_only=True)
class UpsertAgent(CoreEvent):
    """Admin: add an agent to the pool or change their profile (versioned)."""

    profile: AgentProfile


@dataclass(frozen=True, slots=True, kw_only=True)
class RemoveAgent(CoreEvent):
    """Admin: remove an agent; their offers are rescinded and their work requeued."""

    agent_id: str


OFFER_RENEWED = "offer renewed: the router was not running"
"""The rule of an ``offered`` decision that announces an open offer again, same id, with the
deadline it has after the router did not run (the first announcement's has passed)."""


class Kind(StrEnum):
    """What a decision did. The first six are addressed to an agent."""

    OFFERED = "offered"
    ASSIGNED = "assigned"
    REVOKED = "revoked"
    RESCINDED = "rescinded"
    REJECTED = "rejected"
    COMPLETED = "completed"
    QUEUED = "queued"
    REQUEUED = "requeued"
    RESOLVED = "resolved"
    TRANSFERRED = "transferred"
    DROPPED = "dropped"
    PARKED = "parked"
    IGNORED = "ignored"
    FORWARDED = "forwarded"
    CONFIGURED = "configured"


AGENT_KINDS = frozenset({Kind.OFFERED, Kind.ASSIGNED, Kind.REVOKED, Kind.RESCINDED,
                         Kind.REJECTED, Kind.COMPLETED})


@dataclass(slots=True, kw_only=True)
class Decision:
    """One thing the router decided, with the rule, the policy version and the inputs.

    Never changed once made (nothing assigns to a decision's fields). Not ``frozen``:
    a frozen dataclass sets each of the 17 fields through ``object.__setattr__``, which
    doubled the cost of making one (3.0 → 1.6 µs), about a tenth of a decision's cost.
    """

    seq: int
    at: float
    kind: Kind
    pool: str
    rule: str
    policy_version: int
    inputs: Mapping[str, Any]
    agent_id: str | None = None
    work_id: str | None = None
    customer_id: str | None = None
    channel: str | None = None
    priority: int | None = None
    offer_id: str | None = None
    expires_at: float | None = None
    reason: str | None = None
    target_pool: str | None = None
    forward: Route | Update | Cancel | None = None
    """What to put in ``target_pool``'s stream (a forwarded route, or an update or
    cancel following work that moved there)."""
