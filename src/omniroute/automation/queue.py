"""A live view of each pool's queue, for expected-wait estimates.

Fed by what the worker already sees: conversations starting to wait (routing
requests), the router's assigned/resolved news, and agents' presence and
capacity (``omniroute.agent-events.v1``). It lives in memory per worker
process; with several workers each sees the conversations and agents of its
own partitions, a sample in which position and available agents shrink
together, so the estimate keeps its scale. Handle time is the median of the
pool's last 50 assigned-to-resolved spans.
"""

from __future__ import annotations

import statistics
from collections import deque
from dataclasses import dataclass, field

from omniroute.automation.wait import QueueState

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


@dataclass
class QueueView:
    """Waiting conversations, agents and recent handle times per pool."""

    waiting: dict[str, dict[str, float]] = field(default_factory=dict)
    assigned_at: dict[str, tuple[str, str, float]] = field(default_factory=dict)
    agents: dict[str, AgentView] = field(default_factory=dict)
    handle_times: dict[str, deque[float]] = field(default_factory=dict)

    def wait(self, pool: str, conversation_id: str, since: float) -> None:
        """``conversation_id`` waits in ``pool`` since ``since`` (POSIX seconds)."""
        for queue in self.waiting.values():
            queue.pop(conversation_id, None)
        self.waiting.setdefault(pool, {})[conversation_id] = since

    def assigned(self, conversation_id: str, agent_id: str, pool: str | None, at: float) -> None:
        """The router gave the conversation to an agent."""
        for queue in self.waiting.values():
            queue.pop(conversation_id, None)
        agent = self.agents.setdefault(agent_id, AgentView(pool=pool or ANY_POOL))
        agent.active.add(conversation_id)
        self.assigned_at[conversation_id] = (agent_id, pool or agent.pool, at)

    def resolved(self, conversation_id: str, at: float) -> None:
        """The conversation ended; its handle time becomes a sample of its pool."""
        for queue in self.waiting.values():
            queue.pop(conversation_id, None)
        held = self.assigned_at.pop(conversation_id, None)
        if held is None:
            return
        agent_id, pool, started = held
        if agent_id in self.agents:
            self.agents[agent_id].active.discard(conversation_id)
        self.handle_times.setdefault(pool, deque(maxlen=SAMPLES)).append(max(0.0, at - started))

    def presence(self, agent_id: str, pool: str | None, available: bool | None,
                 capacity: int | None) -> None:
        """An agent's presence or capacity changed."""
        agent = self.agents.setdefault(agent_id, AgentView())
        if pool:
            agent.pool = pool
        if available is not None:
            agent.available = available
        if capacity is not None:
            agent.capacity = capacity

    def state(self, pool: str | None, conversation_id: str, default_handle_s: float) -> QueueState:
        """The queue as ``conversation_id`` sees it in ``pool``."""
        key = pool or ANY_POOL
        queue = self.waiting.get(key, {})
        mine = queue.get(conversation_id)
        ahead = sum(1 for cid, since in queue.items()
                    if cid != conversation_id and (mine is None or since <= mine))
        agents = [a for a in self.agents.values()
                  if a.available and (a.pool in (key, ANY_POOL) or key == ANY_POOL)]
        free = sum(max(0, a.capacity - len(a.active)) for a in agents)
        concurrency = round(statistics.median([a.capacity for a in agents])) if agents else 1
        samples = self.handle_times.get(key, ())
        handle = statistics.median(samples) if len(samples) >= MIN_SAMPLES else default_handle_s
        return QueueState(position=ahead + 1, agents_available=len(agents), free_slots=free,
                          concurrency=concurrency, handle_time_s=handle)
