"""A pool's state and its indexes (pure, mutable, owned by one writer).

Indexes keep every decision logarithmic in the number of agents and items:

- ``ready``: agents that are available, not lost and below total capacity,
  sorted by the pool's selection key (longest idle, least occupied, round robin)
  then agent id, so the first eligible agent in order is the one to pick.
- ``groups``: waiting work grouped by what it needs (channel, skill
  requirement, pinned agent), each group sorted by (-priority, original age,
  arrival). When an agent frees capacity only the heads of the groups it can
  serve are compared.
- ``timers``: one heap of (due, seq, kind, ref) checked lazily when time advances.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import Any

from sortedcontainers import SortedList  # type: ignore[import-untyped]

from omniroute.routing.policy import AgentProfile, PoolPolicy, Selection

QUEUED, OFFERED, ASSIGNED, WRAPPING = "queued", "offered", "assigned", "wrapping"
Sig = tuple[str, tuple[tuple[str, int], ...], str | None]


class AgentState:
    """One agent's presence, load and holdings."""

    __slots__ = ("held", "idle_since", "last_seen", "load", "lost", "per_channel",
                 "presence", "profile", "ready_key", "rr_seq", "timer_armed")

    def __init__(self, profile: AgentProfile, now: float) -> None:
        self.profile = profile
        self.presence = "offline"
        self.lost = False
        self.last_seen = now
        self.load = 0
        self.per_channel: dict[str, int] = {}
        self.held: dict[str, str] = {}
        self.idle_since = now
        self.rr_seq = 0
        self.ready_key: tuple[Any, ...] | None = None
        self.timer_armed = False

    def fits(self, channel: str) -> bool:
        """Whether one more conversation on ``channel`` stays within every limit."""
        capacity = self.profile.capacity
        if self.load + capacity.weight(channel) > capacity.total:
            return False
        cap = capacity.cap(channel)
        return cap is None or self.per_channel.get(channel, 0) < cap

    def skilled(self, needs: tuple[tuple[str, int], ...]) -> bool:
        """Whether the agent meets every (skill, minimum level) in ``needs``."""
        skills = self.profile.skills
        return all(skills.get(name, -1) >= level for name, level in needs)


class WorkState:
    """One conversation waiting for, offered to, or held by an agent of the pool."""

    __slots__ = ("agent_id", "base_priority", "channel", "customer_id", "enqueued_at",
                 "excluded", "hops", "offer_expires", "offer_id", "pin_agent", "pin_until",
                 "priority", "queue_key", "relax_step", "sentiment", "seq", "sig", "skills",
                 "status", "vip", "waiting_since", "work_id")

    def __init__(self, work_id: str, customer_id: str, channel: str, seq: int) -> None:
        self.work_id = work_id
        self.customer_id = customer_id
        self.channel = channel
        self.seq = seq
        self.base_priority = 0
        self.priority = 0
        self.skills: dict[str, int] = {}
        self.vip = False
        self.sentiment: float | None = None
        self.waiting_since = 0.0
        self.enqueued_at = 0.0
        self.relax_step = 0
        self.pin_agent: str | None = None
        self.pin_until = 0.0
        self.excluded: set[str] = set()
        self.hops = 0
        self.status = QUEUED
        self.agent_id: str | None = None
        self.offer_id: str | None = None
        self.offer_expires = 0.0
        self.queue_key: tuple[Any, ...] | None = None
        self.sig: Sig | None = None


@dataclass
class PoolState:
    """Everything one pool knows; mutated only by :func:`omniroute.routing.engine.decide`."""

    policy: PoolPolicy
    version: int = 0
    now: float = 0.0
    seq: int = 0
    fingerprint: str = ""
    config_version: int = 0
    open: bool = True
    open_checked_minute: int = -1
    agents: dict[str, AgentState] = field(default_factory=dict)
    work: dict[str, WorkState] = field(default_factory=dict)
    ready: SortedList = field(default_factory=SortedList)
    groups: dict[Sig, SortedList] = field(default_factory=dict)
    sigs_by_pin: dict[str | None, set[Sig]] = field(default_factory=dict)
    timers: list[tuple[float, int, str, Any]] = field(default_factory=list)
    queued: int = 0

    @property
    def pool(self) -> str:
        """The pool's name."""
        return self.policy.pool

    def next_seq(self) -> int:
        """A fresh sequence number (decisions, offers, timers share one counter)."""
        self.seq += 1
        return self.seq

    def arm(self, due: float, kind: str, ref: Any) -> None:
        """Schedule a timer; it fires at the first input at or after ``due``."""
        heapq.heappush(self.timers, (due, self.next_seq(), kind, ref))

    # -- ready agents ---------------------------------------------------------

    def selection_key(self, agent: AgentState) -> tuple[Any, ...]:
        """The agent's place in ``ready`` under the pool's selection rule."""
        selection = self.policy.selection
        if selection is Selection.LEAST_OCCUPIED:
            total = agent.profile.capacity.total or 1
            return (agent.load / total, agent.idle_since, agent.profile.agent_id)
        if selection is Selection.ROUND_ROBIN:
            return (agent.rr_seq, agent.profile.agent_id)
        return (agent.idle_since, agent.profile.agent_id)

    def refresh_ready(self, agent: AgentState) -> None:
        """Re-index an agent after its presence, load or idle time changed."""
        if agent.ready_key is not None:
            self.ready.remove(agent.ready_key)
            agent.ready_key = None
        if (agent.presence == "available" and not agent.lost
                and agent.load < agent.profile.capacity.total):
            agent.ready_key = self.selection_key(agent)
            self.ready.add(agent.ready_key)

    # -- waiting work ---------------------------------------------------------

    def enqueue(self, item: WorkState, needs: tuple[tuple[str, int], ...]) -> None:
        """Put ``item`` in the group of everything that needs what it needs."""
        pin = item.pin_agent if item.pin_agent and item.pin_until > self.now else None
        sig: Sig = (item.channel, needs, pin)
        key = (-item.priority, item.waiting_since, item.seq, item.work_id)
        group = self.groups.get(sig)
        if group is None:
            group = self.groups[sig] = SortedList()
            self.sigs_by_pin.setdefault(pin, set()).add(sig)
        group.add(key)
        item.sig, item.queue_key, item.status = sig, key, QUEUED
        self.queued += 1

    def dequeue(self, item: WorkState) -> None:
        """Take ``item`` out of its group (it is being offered, dropped or moved)."""
        if item.sig is None:
            return
        group = self.groups[item.sig]
        group.remove(item.queue_key)
        if not group:
            del self.groups[item.sig]
            pinned = self.sigs_by_pin[item.sig[2]]
            pinned.discard(item.sig)
            if not pinned:
                del self.sigs_by_pin[item.sig[2]]
        item.sig, item.queue_key = None, None
        self.queued -= 1
