"""Erlang A (M/M/N+M): Erlang C with customers who give up (pure).

Customers abandon after an exponential patience with mean ``patience_s``.
Unlike Erlang C the queue is always stable, and abandonment relieves the team,
which is why Erlang C overstaffs chat, where visitors leave readily.

The birth-death chain's stationary distribution is summed until its terms
vanish. An arrival (PASTA) finding ``k ≥ N`` in the system waits for ``k - N + 1``
queue departures, each at rate ``N·μ + i·θ`` with ``i`` customers ahead, while its
own patience runs at rate ``θ``; ``P(answered within T)`` follows by
uniformization of that pure-death chain, exactly up to a truncation below 1e-12.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from omniroute.analytics.staffing import StaffingError

_TAIL = 1e-13


@dataclass(frozen=True)
class ErlangAResult:
    """Steady-state figures for ``agents`` under Erlang A."""

    agents: int
    load: float
    p_wait: float
    p_abandon: float
    service_level: float
    """Share of all arrivals answered within the target time."""
    asa_s: float
    """Mean wait of the customers who are answered."""
    occupancy: float


def _distribution(agents: int, arrival: float, service: float, abandon: float) -> list[float]:
    """Stationary probabilities π_0 … π_K of the number in the system."""
    terms = [1.0]
    for k in range(1, agents + 1):
        terms.append(terms[-1] * arrival / (k * service))
    total = sum(terms)
    k = agents
    while k < agents + 1_000_000:
        k += 1
        terms.append(terms[-1] * arrival / (agents * service + (k - agents) * abandon))
        total += terms[-1]
        if terms[-1] < _TAIL * total and terms[-1] <= terms[-2]:
            break
    return [t / total for t in terms]


def _answered_within(pi: list[float], agents: int, service: float, abandon: float,
                     target_s: float) -> float:
    """P(an arrival who waits is answered within ``target_s``), over arrivals who wait."""
    queued = pi[agents:]
    stages = len(queued)
    rates = [agents * service + i * abandon + abandon for i in range(stages)]
    top = max(rates)
    # state j (0-based) = j customers ahead of the tagged one; mass moves j → j-1,
    # from 0 into "answered"; patience (rate θ) moves it to "abandoned".
    mass = list(queued)
    answered_by_step = 0.0
    mean = top * target_s
    weight = math.exp(-mean)
    result = 0.0
    step = 0
    while True:
        result += weight * answered_by_step
        step += 1
        weight *= mean / step
        if step > mean and weight < _TAIL:
            break
        moved = [0.0] * stages
        for j, m in enumerate(mass):
            if m == 0.0:
                continue
            progress = (agents * service + j * abandon) / top
            stay = 1.0 - rates[j] / top
            moved[j] += m * stay
            if j == 0:
                answered_by_step += m * progress
            else:
                moved[j - 1] += m * progress
        mass = moved
    return result


def _served_wait(pi: list[float], agents: int, service: float, abandon: float) -> float:
    """E[wait · 1{answered}] over arrivals: stage by stage, from nobody ahead upwards."""
    answered_before, wait_before, total = 1.0, 0.0, 0.0
    for j, p in enumerate(pi[agents:]):
        rate = agents * service + (j + 1) * abandon
        progress = (agents * service + j * abandon) / rate
        wait_before = progress * (answered_before / rate + wait_before)
        answered_before = progress * answered_before
        total += p * wait_before
    return total


def evaluate_a(agents: int, contacts: float, interval_s: float, aht_s: float,
               patience_s: float, target_answer_s: float) -> ErlangAResult:
    """Erlang A figures for ``agents`` on duty."""
    if agents < 1 or aht_s <= 0 or patience_s <= 0 or interval_s <= 0 or contacts < 0:
        raise StaffingError("agents >= 1; handle time, patience and interval > 0")
    arrival, service, abandon = contacts / interval_s, 1.0 / aht_s, 1.0 / patience_s
    if arrival == 0:
        return ErlangAResult(agents, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0)
    pi = _distribution(agents, arrival, service, abandon)
    p_wait = sum(pi[agents:])
    in_queue = sum((k - agents) * p for k, p in enumerate(pi) if k > agents)
    p_abandon = abandon * in_queue / arrival
    busy = sum(min(k, agents) * p for k, p in enumerate(pi))
    served_fraction = 1.0 - p_abandon
    answered_late = _answered_within(pi, agents, service, abandon, target_answer_s)
    service_level = (1.0 - p_wait) + answered_late
    asa = _served_wait(pi, agents, service, abandon) / served_fraction if served_fraction else 0.0
    return ErlangAResult(agents, arrival * aht_s, p_wait, p_abandon, service_level,
                         max(0.0, asa), busy / agents)


def required_agents_a(contacts: float, interval_s: float, aht_s: float, patience_s: float,
                      target_sl: float, target_answer_s: float,
                      max_occupancy: float = 1.0) -> ErlangAResult:
    """The smallest team whose Erlang A service level and occupancy meet the targets."""
    start = max(1, math.floor(contacts / interval_s * aht_s / 2))  # never meets SL below A/2
    for agents in range(start, 10_001):
        figures = evaluate_a(agents, contacts, interval_s, aht_s, patience_s, target_answer_s)
        if figures.service_level >= target_sl and figures.occupancy <= max_occupancy:
            return figures
    raise StaffingError("no team of up to 10000 agents meets the targets")
