"""The router's Prometheus metrics (pool names are labels; never agent or customer ids).

Facts the whole pipeline shares (queue depth and age, agents, offers, dead
letters, messages, processing time, time to assignment, rebalances) are recorded
into :mod:`omniroute.observability.pipeline`; only router-specific facts are
defined here.
"""

from __future__ import annotations

import time
from collections import Counter as Tally
from collections.abc import Iterable
from typing import Any

from prometheus_client import Counter, Histogram

from omniroute.observability.pipeline import (
    AGENTS,
    END_TO_END_SECONDS,
    OFFERS,
    QUEUE_DEPTH,
    QUEUE_OLDEST_AGE,
)
from omniroute.routing import stats
from omniroute.routing.events import OFFER_RENEWED, Decision, Kind
from omniroute.routing.state import QUEUED, PoolState

COMPONENT = "router"
DECISIONS = Counter("omniroute_router_decisions_total", "Decisions made, by kind.",
                    ["pool", "kind"])
DECISION_SECONDS = Histogram(
    "omniroute_router_decision_duration_seconds", "Time to apply one input to a pool.",
    buckets=(1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 5e-3, 0.025, 0.1))

RESCIND_OUTCOMES = {"offer declined": "declined", "offer timed out": "timed_out"}


def offer_outcomes(decision: Decision) -> tuple[str, ...]:
    """The OFFERS outcomes one decision counts as (an auto-accept is offered + accepted)."""
    d = decision
    if d.kind is Kind.OFFERED:
        return ("offered",) if d.rule != OFFER_RENEWED else ()
    if d.kind is Kind.ASSIGNED:
        if d.rule == "offer accepted":
            return ("accepted",)
        if d.rule.endswith("auto-accept"):
            return ("offered", "accepted")
    if d.kind is Kind.RESCINDED:
        return (RESCIND_OUTCOMES.get(d.rule, "rescinded"),)
    return ()


def count(decisions: Iterable[Decision]) -> None:
    """Count decisions and offer outcomes; time to assignment from event times."""
    tally: Tally[tuple[str, str]] = Tally()
    offers: Tally[tuple[str, str]] = Tally()
    for d in decisions:
        tally[(d.pool, d.kind.value)] += 1
        for outcome in offer_outcomes(d):
            offers[(d.pool, outcome)] += 1
        waited = d.inputs.get("waited_s")
        if d.kind is Kind.ASSIGNED and isinstance(waited, int | float):
            END_TO_END_SECONDS.labels("assigned", d.channel or "none").observe(max(0.0, waited))
    for (pool, kind), n in tally.items():
        DECISIONS.labels(pool, kind).inc(n)
    for (pool, outcome), n in offers.items():
        OFFERS.labels(pool, outcome).inc(n)


LATEST: dict[str, tuple[float, dict[str, Any]]] = {}
"""Each pool this process decides: (wall-clock time observed, :func:`stats.pool_stats`);
:mod:`omniroute.routing.statsfeed` publishes the fresh ones for the gateway."""


def observe_pool(state: PoolState, now: float | None = None) -> None:
    """Refresh the gauges and the statistics of one pool (a scan: call every few seconds,
    not per input)."""
    now = time.time() if now is None else now
    # observed_at: the wall clock when these figures were taken, after the inputs read so far
    # were decided and committed (``as_of`` is the pool's own clock, its inputs' times)
    LATEST[state.pool] = (now, {**stats.pool_stats(state, now), "observed_at": now})
    QUEUE_DEPTH.labels(state.pool).set(state.queued)
    waiting = [i.waiting_since for i in state.work.values() if i.status == QUEUED]
    QUEUE_OLDEST_AGE.labels(state.pool).set(max(0.0, now - min(waiting)) if waiting else 0.0)
    presences: Tally[str] = Tally(
        "lost" if a.lost else a.presence for a in state.agents.values())
    for presence in ("available", "busy", "away", "offline", "lost"):
        AGENTS.labels(state.pool, presence).set(presences.get(presence, 0))
