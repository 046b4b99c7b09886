"""Erlang C staffing with the chat concurrency factor and shrinkage (pure).

Inputs: ``contacts`` arriving per ``interval_s`` seconds, average handle time
``aht_s``, a service-level target "``target_sl`` answered within
``target_answer_s``", a ceiling on occupancy and the shrinkage share of paid
time not spent on contacts. Chat agents holding several chats at once are
modelled the usual way (callcentrehelper "Erlang C for Chat"): the handle time
is divided by a concurrency *factor* that is lower than the nominal number of
simultaneous chats (:data:`CONCURRENCY_FACTORS`).

The Erlang C probability of waiting is computed from the Erlang B recursion,
which never forms a factorial, so it is exact and overflow-free for any team size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

CONCURRENCY_FACTORS: dict[int, float] = {1: 1.0, 2: 1.7, 3: 2.5, 4: 2.9, 5: 3.5}
"""Max concurrent chats per agent → effective throughput multiple (callcentrehelper)."""

MAX_AGENTS = 100_000


class StaffingError(ValueError):
    """Inputs that admit no staffing answer (non-positive rates, shares outside 0..1)."""


def concurrency_factor(max_concurrent: int) -> float:
    """The throughput factor for agents holding up to ``max_concurrent`` chats.

    Above 5 the published table ends; the factor grows by 0.6 per extra chat
    (the 4 → 5 step), which is deliberately conservative.
    """
    if max_concurrent < 1:
        raise StaffingError("max concurrent chats must be at least 1")
    if max_concurrent in CONCURRENCY_FACTORS:
        return CONCURRENCY_FACTORS[max_concurrent]
    return CONCURRENCY_FACTORS[5] + 0.6 * (max_concurrent - 5)


def erlang_b(agents: int, load: float) -> float:
    """Blocking probability of M/M/N/N with ``load`` Erlangs (iterative recursion)."""
    blocking = 1.0
    for k in range(1, agents + 1):
        blocking = load * blocking / (k + load * blocking)
    return blocking


def erlang_c(agents: int, load: float) -> float:
    """Probability that a contact waits (M/M/N, no abandonment); 1.0 when ``load >= agents``."""
    if load <= 0:
        return 0.0
    if agents <= load:
        return 1.0
    blocking = erlang_b(agents, load)
    return agents * blocking / (agents - load * (1 - blocking))


@dataclass(frozen=True)
class ErlangResult:
    """What ``agents`` achieve on ``load`` Erlangs with effective handle time ``aht_s``."""

    agents: int
    load: float
    p_wait: float
    service_level: float
    asa_s: float
    occupancy: float


def evaluate(agents: int, load: float, aht_s: float, target_answer_s: float) -> ErlangResult:
    """Erlang C figures for a given number of agents on duty."""
    p_wait = erlang_c(agents, load)
    if agents <= load:
        return ErlangResult(agents, load, 1.0, 0.0, math.inf, 1.0 if agents else math.inf)
    spare = agents - load
    service_level = 1.0 - p_wait * math.exp(-spare * target_answer_s / aht_s)
    return ErlangResult(agents, load, p_wait, service_level, p_wait * aht_s / spare,
                        load / agents)


@dataclass(frozen=True)
class StaffingInput:
    """One interval's demand and the targets to meet."""

    contacts: float
    aht_s: float
    interval_s: float = 1800.0
    target_sl: float = 0.8
    target_answer_s: float = 20.0
    max_occupancy: float = 0.85
    shrinkage: float = 0.3
    max_concurrent: int = 1
    factor: float | None = None
    """Override the concurrency factor (e.g. one measured from history)."""

    def check(self) -> None:
        """Raise :class:`StaffingError` on inputs without an answer."""
        if self.contacts < 0 or self.aht_s <= 0 or self.interval_s <= 0:
            raise StaffingError("contacts must be >= 0, handle time and interval > 0")
        for name in ("target_sl", "max_occupancy"):
            if not 0 < getattr(self, name) <= 1:
                raise StaffingError(f"{name} must be in (0, 1]")
        if not 0 <= self.shrinkage < 1:
            raise StaffingError("shrinkage must be in [0, 1)")
        if self.target_answer_s < 0:
            raise StaffingError("target answer time must be >= 0")

    @property
    def effective_aht_s(self) -> float:
        """Handle time divided by the concurrency factor (EAHT)."""
        factor = self.factor if self.factor is not None else concurrency_factor(self.max_concurrent)
        return self.aht_s / factor

    @property
    def load(self) -> float:
        """Offered load in Erlangs: arrival rate x effective handle time."""
        return self.contacts / self.interval_s * self.effective_aht_s


@dataclass(frozen=True)
class StaffingResult:
    """The smallest team meeting the targets, and the team to roster for shrinkage."""

    agents: int
    rostered: int
    figures: ErlangResult
    effective_aht_s: float


def rostered(agents: int, shrinkage: float) -> int:
    """Paid heads so that ``agents`` are on contacts after ``shrinkage``.

    Rounded to 9 decimals before the ceiling: 14 / 0.7 is 20.000000000000004 in
    binary floating point and must roster 20, not 21.
    """
    return math.ceil(round(agents / (1 - shrinkage), 9))


def required_agents(demand: StaffingInput) -> StaffingResult:
    """The smallest N with service level ≥ target and occupancy ≤ the ceiling."""
    demand.check()
    load, aht = demand.load, demand.effective_aht_s
    if load == 0:
        zero = ErlangResult(0, 0.0, 0.0, 1.0, 0.0, 0.0)
        return StaffingResult(0, 0, zero, aht)
    agents = max(1, math.floor(load))
    while agents <= MAX_AGENTS:
        figures = evaluate(agents, load, aht, demand.target_answer_s)
        if (figures.service_level >= demand.target_sl
                and figures.occupancy <= demand.max_occupancy):
            return StaffingResult(agents, rostered(agents, demand.shrinkage), figures, aht)
        agents += 1
    raise StaffingError(f"no team of up to {MAX_AGENTS} agents meets the targets")
