"""A discrete-event simulation of a chat team: concurrency, slowdown and impatience (pure).

Erlang C assumes one contact per agent and customers who never leave; chat
breaks both. Here ``agents`` each hold up to ``max_concurrent`` chats; an agent
holding ``k`` chats progresses through them ``factor(k)`` times as fast as
through one (:func:`~omniroute.analytics.staffing.concurrency_factor`), shared
equally, so each chat takes longer the more an agent juggles. A new chat goes
to the agent holding the fewest (ties: lowest index); waiting customers leave
after an exponential patience. Arrivals are Poisson, chat effort exponential
with mean ``aht_s`` at concurrency 1. Every clock is exponential, so the run is
a continuous-time Markov chain simulated event by event with a seeded
``random.Random``: the same inputs and seed give the same figures.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass

from omniroute.analytics.staffing import StaffingError, concurrency_factor


@dataclass(frozen=True)
class ChatTeam:
    """What to simulate."""

    agents: int
    contacts: float
    interval_s: float
    aht_s: float
    max_concurrent: int = 3
    patience_s: float | None = None
    target_answer_s: float = 60.0
    horizon_s: float = 8 * 3600.0
    warmup_s: float = 1800.0
    seed: int = 1


@dataclass(frozen=True)
class ChatFigures:
    """What the simulated team achieved after the warm-up."""

    arrivals: int
    answered: int
    abandoned: int
    service_level: float
    """Answered within the target ÷ all arrivals (abandoned count as missed)."""
    asa_s: float
    abandon_rate: float
    occupancy: float
    """Share of agent time with at least one chat."""
    concurrency: float
    """Time-weighted mean chats per agent while holding at least one."""


def simulate(team: ChatTeam) -> ChatFigures:
    """Run the simulation once and measure it."""
    if team.agents < 1 or team.aht_s <= 0 or team.interval_s <= 0 or team.contacts < 0:
        raise StaffingError("agents >= 1; handle time and interval > 0")
    rng = random.Random(team.seed)
    arrival_rate = team.contacts / team.interval_s
    service = 1.0 / team.aht_s
    abandon = 1.0 / team.patience_s if team.patience_s else 0.0
    rates = [0.0] + [service * concurrency_factor(k) for k in range(1, team.max_concurrent + 1)]
    held = [0] * team.agents
    queue: deque[float] = deque()
    now = 0.0
    stats = {"arrivals": 0, "answered": 0, "abandoned": 0, "fast": 0}
    waited = 0.0
    busy_time = chats_time = 0.0
    while now < team.horizon_s:
        total_service = sum(rates[k] for k in held)
        total = arrival_rate + total_service + abandon * len(queue)
        if total == 0:
            break
        step = rng.expovariate(total)
        if now + step > team.warmup_s:
            span = min(now + step, team.horizon_s) - max(now, team.warmup_s)
            busy_time += span * sum(1 for k in held if k)
            chats_time += span * sum(held)
        now += step
        counting = now > team.warmup_s
        pick = rng.random() * total
        if pick < arrival_rate:
            stats["arrivals"] += counting
            queue.append(now if counting else -1.0)
        elif pick < arrival_rate + total_service:
            pick -= arrival_rate
            for i, k in enumerate(held):
                pick -= rates[k]
                if pick < 0:
                    held[i] -= 1
                    break
        else:
            since = queue[rng.randrange(len(queue))]
            queue.remove(since)
            stats["abandoned"] += since >= 0
        while queue:
            free = min(range(team.agents), key=lambda i: (held[i], i))
            if held[free] >= team.max_concurrent:
                break
            held[free] += 1
            since = queue.popleft()
            if since >= 0:
                stats["answered"] += 1
                waited += now - since
                stats["fast"] += now - since <= team.target_answer_s
    arrivals = max(1, stats["arrivals"])
    agent_time = max(1e-9, (team.horizon_s - team.warmup_s) * team.agents)
    return ChatFigures(
        arrivals=stats["arrivals"], answered=stats["answered"], abandoned=stats["abandoned"],
        service_level=stats["fast"] / arrivals,
        asa_s=waited / stats["answered"] if stats["answered"] else 0.0,
        abandon_rate=stats["abandoned"] / arrivals,
        occupancy=busy_time / agent_time,
        concurrency=chats_time / busy_time if busy_time else 0.0,
    )


def required_agents_sim(team: ChatTeam, target_sl: float,
                        max_abandon: float = 1.0) -> tuple[int, ChatFigures]:
    """The smallest head count whose simulated service level and abandonment meet targets."""
    for agents in range(1, 2001):
        figures = simulate(ChatTeam(**{**team.__dict__, "agents": agents}))
        if figures.service_level >= target_sl and figures.abandon_rate <= max_abandon:
            return agents, figures
    raise StaffingError("no team of up to 2000 agents meets the targets in simulation")
