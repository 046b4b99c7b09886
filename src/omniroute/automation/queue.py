"""A live view of each pool's queue, for expected-wait estimates.

Fed by what the worker already sees: conversations starting to wait (routing
requests), the router's assigned/resolved news, and agents' presence and
capacity (``omniroute.agent-events.v1``). It lives in memory per worker
process; with several workers each sees the conversations and agents of its
own partitions, a sample in which position and available agents shrink
together, so the estimate keeps its scale. Handle time is the median of the
pool's last 50 assigned-to-resolved spans.

A view built from events starts empty: a worker that restarted knew no agent
until one changed presence, and told every customer "later today" while agents
sat idle (a user run, 2026-12-06). So the routers' own figures take precedence
where they are fresh: every router publishes its pools' staffing every 2 s
(:mod:`omniroute.routing.statsfeed`), and the worker follows them
(:meth:`QueueView.router_stats`). They count every agent of the pool, not a
sample. With them a conversation starting to wait is behind the router's whole
queue and the conversations this worker sent it since the figures were
observed (``observed_at``); the conversations offered to an agent are in the
figures' free slots, not ahead of it. Until 2026-12-07 every conversation this
worker had seen waiting counted ahead, offered ones too: a customer writing
while an agent with three chats had one offer pending was told "in about 2
minutes" (user run 48).

Figures observed every 2 s and published up to 2 s later lag a change by up to
4 s: a customer who wrote a second after the first agent of the day went
available was told "later today" (user runs 25 and 48). So where the figures
say nobody is on duty and this worker saw an agent go available after the
router observed them, its own view
(the agents it saw, their load as far as it saw it) stands until the next
figures. Only then: where the figures count someone, they know each agent's
load, which this worker's view may not, and a wait estimated 2 s late is
still an estimate of the right scale, where "later today" is not.
"""

from __future__ import annotations

import math
import statistics
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sortedcontainers import SortedList  # type: ignore[import-untyped]

from omniroute.automation.wait import QueueState
from omniroute.routing.stats import PublishedStaffing, published_staffing

ANY_POOL = "*"
MIN_SAMPLES = 5
SAMPLES = 50


@dataclass
class AgentView:
    """What the queue view knows of one agent."""

    pool: str = ANY_POOL
    available: bool = False
    capacity: int = 1
    active: set[str] = field(default_factory=set)

    @property
    def free(self) -> int:
        """Conversations the agent could still take."""
        return max(0, self.capacity - len(self.active))


@dataclass
class Staffing:
    """The available agents of one pool, summed: kept as agents change, read per estimate."""

    available: int = 0
    free: int = 0
    capacities: Counter[int] = field(default_factory=Counter)
    changed_at: float = float("-inf")
    """When an agent of the pool last changed presence or capacity (POSIX seconds)."""

    def add(self, agent: AgentView, sign: int) -> None:
        """Count ``agent`` in (``sign`` 1) or out (-1)."""
        self.available += sign
        self.free += sign * agent.free
        self.capacities[agent.capacity] += sign
        if not self.capacities[agent.capacity]:
            del self.capacities[agent.capacity]

    def concurrency(self) -> int:
        """The median capacity, rounded (1 without agents), as ``statistics.median`` gives it."""
        if not self.available:
            return 1
        low_index, high_index = (self.available - 1) // 2, self.available // 2
        low, high, seen = None, 0, 0
        for capacity in sorted(self.capacities):
            seen += self.capacities[capacity]
            if low is None and low_index < seen:
                low = capacity
            if high_index < seen:
                high = capacity
                break
        assert low is not None
        return round((low + high) / 2)


@dataclass
class Waiting:
    """One pool's waiting conversations in the order they started waiting."""

    since: dict[str, float] = field(default_factory=dict)
    order: SortedList = field(default_factory=SortedList)
    """``(since, conversation id)`` pairs, sorted: a position is one bisection."""
    entered: dict[str, float] = field(default_factory=dict)
    arrivals: SortedList = field(default_factory=SortedList)
    """``(entered, conversation id)``: when each reached this worker, by its clock."""

    def add(self, conversation_id: str, since: float, entered: float) -> None:
        self.discard(conversation_id)
        self.since[conversation_id] = since
        self.order.add((since, conversation_id))
        self.entered[conversation_id] = entered
        self.arrivals.add((entered, conversation_id))

    def discard(self, conversation_id: str) -> None:
        since = self.since.pop(conversation_id, None)
        if since is not None:
            self.order.remove((since, conversation_id))
            self.arrivals.remove((self.entered.pop(conversation_id), conversation_id))

    def entered_after(self, at: float, conversation_id: str) -> int:
        """Other conversations that started waiting here after ``at``."""
        count = len(self.arrivals) - int(self.arrivals.bisect_left((math.nextafter(at, math.inf),)))
        mine = self.entered.get(conversation_id)
        return count - (mine is not None and mine > at)

    def ahead_of(self, conversation_id: str) -> int:
        """Other conversations waiting since no later than this one (all, if it does not wait)."""
        mine = self.since.get(conversation_id)
        if mine is None:
            return len(self.since)
        return int(self.order.bisect_left((math.nextafter(mine, math.inf),))) - 1


@dataclass
class QueueView:
    """Waiting conversations, agents and recent handle times per pool.

    Every estimate is O(log waiting + pools): positions come from a sorted list per
    pool and the available agents' counts from sums kept as agents change (they
    were scans of every waiting conversation and every agent, once per new
    conversation: milliseconds at a backlog of thousands or 10,000 agents).
    """

    waiting: dict[str, Waiting] = field(default_factory=dict)
    waits_in: dict[str, str] = field(default_factory=dict)
    """Conversation id -> the pool it waits in."""
    assigned_at: dict[str, tuple[str, str, float]] = field(default_factory=dict)
    agents: dict[str, AgentView] = field(default_factory=dict)
    staffing: dict[str, Staffing] = field(default_factory=dict)
    """Pool -> its available agents (an agent of ``ANY_POOL`` counts in every pool)."""
    handle_times: dict[str, deque[float]] = field(default_factory=dict)
    router: dict[str, PublishedStaffing] = field(default_factory=dict)
    """Pool -> the latest staffing and queue length its router published."""

    def router_stats(self, pool: str, doc: dict[str, Any]) -> None:
        """A router's statistics of ``pool`` (``pool_stats`` with ``published_at``); ones
        without staffing (a router of an older version) are ignored."""
        figures = published_staffing(doc)
        if figures is not None:
            self.router[pool] = figures

    def _router_figures(self, pool: str, now: float) -> PublishedStaffing | None:
        """The fresh figures ``pool``'s router published, if any."""
        figures = self.router.get(pool)
        return figures if figures is not None and figures.trusted(now) else None

    def wait(self, pool: str, conversation_id: str, since: float,
             entered: float | None = None) -> None:
        """``conversation_id`` waits in ``pool`` since ``since`` (POSIX seconds, its
        message's time); ``entered``: when it reached this worker (by default ``since``)."""
        self.stop_waiting(conversation_id)
        self.waiting.setdefault(pool, Waiting()).add(
            conversation_id, since, since if entered is None else entered)
        self.waits_in[conversation_id] = pool

    def stop_waiting(self, conversation_id: str) -> None:
        """``conversation_id`` waits in no pool (assigned, resolved, or parked: no pool
        takes it)."""
        pool = self.waits_in.pop(conversation_id, None)
        if pool is not None:
            self.waiting[pool].discard(conversation_id)

    def assigned(self, conversation_id: str, agent_id: str, pool: str | None, at: float) -> None:
        """The router gave the conversation to an agent."""
        self.stop_waiting(conversation_id)
        agent = self.agents.get(agent_id)
        if agent is None:
            agent = self.agents[agent_id] = AgentView(pool=pool or ANY_POOL)
        self._change(agent, lambda: agent.active.add(conversation_id))
        self.assigned_at[conversation_id] = (agent_id, pool or agent.pool, at)

    def resolved(self, conversation_id: str, at: float) -> None:
        """The conversation ended; its handle time becomes a sample of its pool."""
        self.stop_waiting(conversation_id)
        held = self.assigned_at.pop(conversation_id, None)
        if held is None:
            return
        agent_id, pool, started = held
        agent = self.agents.get(agent_id)
        if agent is not None:
            self._change(agent, lambda: agent.active.discard(conversation_id))
        self.handle_times.setdefault(pool, deque(maxlen=SAMPLES)).append(max(0.0, at - started))

    def presence(self, agent_id: str, pool: str | None, available: bool | None,
                 capacity: int | None, at: float | None = None) -> None:
        """An agent's presence or capacity changed (seen at ``at``, POSIX seconds; now)."""
        agent = self.agents.get(agent_id)
        if agent is None:
            agent = self.agents[agent_id] = AgentView()
        seen = time.time() if at is None else at

        def change() -> None:
            if pool:
                agent.pool = pool
            if available is not None:
                agent.available = available
            if capacity is not None:
                agent.capacity = capacity
        self._change(agent, change)
        self.staffing.setdefault(agent.pool, Staffing()).changed_at = seen

    def _change(self, agent: AgentView, change: Callable[[], None]) -> None:
        """Apply ``change`` to ``agent``, keeping its pool's staffing sums."""
        if agent.available:
            self.staffing.setdefault(agent.pool, Staffing()).add(agent, -1)
        change()
        if agent.available:
            self.staffing.setdefault(agent.pool, Staffing()).add(agent, 1)

    def _staffing_of(self, key: str) -> Staffing:
        """The available agents ``key`` may be served by (every agent for ``ANY_POOL``)."""
        pools = list(self.staffing) if key == ANY_POOL else [key, ANY_POOL]
        total = Staffing()
        for pool in pools:
            part = self.staffing.get(pool)
            if part is None:
                continue
            total.changed_at = max(total.changed_at, part.changed_at)
            if part.available:
                total.available += part.available
                total.free += part.free
                total.capacities.update(part.capacities)
        return total

    def _came_on_duty(self, key: str, router: PublishedStaffing) -> bool:
        """Whether the figures say nobody is on duty and this worker saw an agent of ``key``
        go available since the router observed them (see the module docstring)."""
        if router.available:
            return False
        staffing = self._staffing_of(key)
        return bool(staffing.available) and staffing.changed_at > router.observed_at

    def state(self, pool: str | None, conversation_id: str, default_handle_s: float,
              entering: bool = False, now: float | None = None) -> QueueState:
        """The queue as ``conversation_id`` sees it in ``pool``; ``entering``: it starts
        waiting now (its routing request is being sent), behind the router's whole queue.

        No ``pool`` (no rule matches and the live configuration has no default): the router
        parks the conversation and no agent sees it until it is routed again, so the wait
        is unknown (no agent on duty for it). User run 52's parked customers were told
        "in a moment": every pool's free slots had been counted for them.
        """
        if pool is None:
            return QueueState(position=1, agents_available=0, free_slots=0, concurrency=1,
                              handle_time_s=default_handle_s)
        queue = self.waiting.get(pool)
        position = (queue.ahead_of(conversation_id) if queue is not None else 0) + 1
        samples = self.handle_times.get(pool, ())
        handle = statistics.median(samples) if len(samples) >= MIN_SAMPLES else default_handle_s
        router = self._router_figures(pool, time.time() if now is None else now)
        if router is not None and not self._came_on_duty(pool, router):
            # the figures count what the router had seen: its queue, and in its free slots
            # the conversations offered or assigned. This view also holds offered ones as
            # waiting (no offer reaches it): only those newer than the figures add to them.
            behind = router.waiting + (queue.entered_after(router.observed_at, conversation_id)
                                       if queue is not None else 0) + 1
            position = behind if entering else min(position, behind)
            return QueueState(position=position, agents_available=router.available,
                              free_slots=router.free_slots, concurrency=router.concurrency,
                              handle_time_s=handle)
        if router is not None and entering:
            position = max(position, router.waiting + 1)
        staffing = self._staffing_of(pool)
        return QueueState(position=position, agents_available=staffing.available,
                          free_slots=staffing.free, concurrency=staffing.concurrency(),
                          handle_time_s=handle)
