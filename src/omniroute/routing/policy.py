"""Routing policy: what a pool and its agents are configured to do (pure values).

A pool is the unit of partitioning: all its agents and all its waiting work
live in one ordered stream, so a single writer decides. Every agent belongs to
exactly one pool (an agent no configuration lists joins the ``auto_join``
pool, the built-in ``default`` one out of the box) and to any number of its
queues, with one capacity across them. Times are seconds
(floats); instants are POSIX timestamps.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from zoneinfo import ZoneInfo


class Selection(StrEnum):
    """How the router picks among eligible agents; ties break on agent id."""

    LONGEST_IDLE = "longest_idle"
    LEAST_OCCUPIED = "least_occupied"
    ROUND_ROBIN = "round_robin"
    BEST_MATCH = "best_match"
    """Highest proficiency first: the sum of the agent's levels in the skills the work
    needs, then longest idle, then agent id (work needing no skill: longest idle)."""


QUEUE_PREFIX = "queue:"
"""Membership of a queue is a skill named ``queue:<name>`` at level 0: the skill indexes
find a queue's agents, and one agent in several queues has one capacity."""


def queue_skill(queue: str) -> str:
    """The skill that stands for membership of ``queue``."""
    return QUEUE_PREFIX + queue


@dataclass(frozen=True, slots=True)
class ChannelRule:
    """How much one conversation on a channel weighs, and how many an agent may hold."""

    weight: int = 1
    cap: int | None = None


@dataclass(frozen=True, slots=True)
class AgentCapacity:
    """Total capacity plus per-channel weights and caps (``3 chats, or 1 email + 2 chats``)."""

    total: int
    channels: Mapping[str, ChannelRule] = field(default_factory=dict)

    def weight(self, channel: str) -> int:
        """The weight of one conversation on ``channel``."""
        rule = self.channels.get(channel)
        return rule.weight if rule else 1

    def cap(self, channel: str) -> int | None:
        """How many conversations on ``channel`` an agent may hold (None: no cap)."""
        rule = self.channels.get(channel)
        return rule.cap if rule else None


@dataclass(frozen=True, slots=True)
class AgentProfile:
    """An agent as configured: pool, capacity, skills with levels, auto-accept."""

    agent_id: str
    pool: str
    capacity: AgentCapacity
    skills: Mapping[str, int] = field(default_factory=dict)
    auto_accept: bool = False
    joined: bool = False
    """Joined an ``auto_join`` pool by sending an event, without being configured."""


DEFAULT_JOIN_CAPACITY = AgentCapacity(3, {"email": ChannelRule(1, 1)})
"""What an agent who joins an ``auto_join`` pool unlisted may hold: three conversations
at once, at most one of them email (override with the pool's ``join_capacity``)."""


@dataclass(frozen=True, slots=True)
class RelaxStep:
    """After ``after_s`` in the pool, lower every required level, drop skills, or drop all."""

    after_s: float
    lower_by: int = 0
    drop: tuple[str, ...] = ()
    drop_all: bool = False


@dataclass(frozen=True, slots=True)
class Overflow:
    """Move still-waiting work to ``pool`` after ``after_s`` in this pool."""

    after_s: float
    pool: str


@dataclass(frozen=True, slots=True)
class Target:
    """One step of a pool's ordered routing targets (a TaskRouter workflow target): offer
    the work to agents of ``queue`` (None: any agent of the pool) for ``timeout_s``
    (None: for as long as it waits), then go on to the next target."""

    queue: str | None = None
    timeout_s: float | None = None


@dataclass(frozen=True, slots=True)
class BusinessHours:
    """Weekly opening hours in a time zone: weekday (0 = Monday) -> (start, end) minutes;
    ``holidays`` are local dates (``YYYY-MM-DD``) closed all day."""

    timezone: str
    weekly: Mapping[int, tuple[tuple[int, int], ...]]
    holidays: tuple[str, ...] = ()

    def is_open(self, at: float) -> bool:
        """Whether the pool is open at POSIX time ``at``."""
        local = datetime.fromtimestamp(at, UTC).astimezone(ZoneInfo(self.timezone))
        if self.holidays and local.date().isoformat() in self.holidays:
            return False
        minute = local.hour * 60 + local.minute
        return any(start <= minute < end for start, end in self.weekly.get(local.weekday(), ()))


@dataclass(frozen=True, slots=True)
class PoolPolicy:
    """Everything a pool decides by; each change bumps the pool's policy version."""

    pool: str
    selection: Selection = Selection.LONGEST_IDLE
    offer_timeout_s: float = 30.0
    heartbeat_grace_s: float = 60.0
    requeue_on_lost: bool = True
    away_on_offer_timeout: bool = True
    wrap_up_timeout_s: float = 120.0
    queue_cap: int | None = None
    ttl_s: float | None = None
    relaxation: tuple[RelaxStep, ...] = ()
    overflow: Overflow | None = None
    sticky_s: float = 0.0
    transfer_pin_s: float = 300.0
    business_hours: BusinessHours | None = None
    vip_boost: int = 0
    negative_sentiment_boost: int = 0
    negative_sentiment_below: float = -0.5
    sla_s: float | None = None
    sla_boost: int = 0
    max_hops: int = 3
    auto_join: bool = False
    join_capacity: AgentCapacity = field(default_factory=lambda: DEFAULT_JOIN_CAPACITY)
    dedupe_s: float = 3600.0
    input_stall_s: float = 120.0
    targets: tuple[Target, ...] = ()
    """Ordered routing targets (empty: any agent of the pool, for as long as it waits)."""

    def target_queue(self, step: int) -> str | None:
        """The queue of target ``step`` (None: no targets, or a target open to anyone)."""
        targets = self.targets
        return targets[min(step, len(targets) - 1)].queue if targets else None

    def target_deadline(self, step: int) -> float | None:
        """Seconds from pool entry until target ``step`` (1-based: the first ``step``
        targets' timeouts summed) is reached; None when one of them never times out."""
        total = 0.0
        for target in self.targets[:step]:
            if target.timeout_s is None:
                return None
            total += target.timeout_s
        return total


def requirement(
    skills: Mapping[str, int], steps: tuple[RelaxStep, ...], applied: int
) -> tuple[tuple[str, int], ...]:
    """The skill requirement after the first ``applied`` relaxation steps, sorted."""
    levels = dict(skills)
    for step in steps[:applied]:
        if step.drop_all:
            return ()
        for name in step.drop:
            levels.pop(name, None)
        if step.lower_by:
            levels = {k: v - step.lower_by for k, v in levels.items() if v - step.lower_by >= 0}
    return tuple(sorted(levels.items()))
