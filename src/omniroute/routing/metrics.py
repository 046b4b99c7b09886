"""The router's Prometheus metrics (pool names are labels; never agent or customer ids)."""

from __future__ import annotations

import time
from collections import Counter as Tally
from collections.abc import Iterable

from prometheus_client import Counter, Gauge, Histogram

from omniroute.routing.events import Decision, Kind
from omniroute.routing.state import QUEUED, PoolState

QUEUE_DEPTH = Gauge("omniroute_router_queue_depth", "Work waiting in a pool's queue.", ["pool"])
OLDEST_WAIT = Gauge("omniroute_router_oldest_wait_seconds",
                    "Age of the oldest waiting work in a pool (original age).",
                    ["pool"])
AGENTS = Gauge("omniroute_router_agents", "Agents of a pool by presence (lost counted apart).",
               ["pool", "presence"])
DECISIONS = Counter("omniroute_router_decisions_total", "Decisions made, by kind.",
                    ["pool", "kind"])
OFFERS = Counter("omniroute_router_offers_total", "Offers by outcome.", ["pool", "outcome"])
DECISION_SECONDS = Histogram(
    "omniroute_router_decision_duration_seconds", "Time to apply one input to a pool.",
    buckets=(1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 5e-3, 0.025, 0.1))
REJECTED_INPUTS = Counter("omniroute_router_dead_letters_total",
                          "Inputs the router could not process (sent to the DLQ).", ["topic"])

OUTCOMES = {"offer accepted": "accepted", "offer declined": "declined",
            "offer timed out": "timed_out"}


def count(decisions: Iterable[Decision]) -> None:
    """Count decisions and offer outcomes."""
    tally: Tally[tuple[str, str]] = Tally()
    for d in decisions:
        tally[(d.pool, d.kind.value)] += 1
        if d.kind is Kind.OFFERED:
            OFFERS.labels(d.pool, "offered").inc()
        elif d.rule in OUTCOMES:
            OFFERS.labels(d.pool, OUTCOMES[d.rule]).inc()
        elif d.kind is Kind.ASSIGNED and d.rule.endswith("auto-accept"):
            OFFERS.labels(d.pool, "auto_accepted").inc()
    for (pool, kind), n in tally.items():
        DECISIONS.labels(pool, kind).inc(n)


def observe_pool(state: PoolState, now: float | None = None) -> None:
    """Refresh the gauges of one pool (a scan: call every few seconds, not per input)."""
    now = time.time() if now is None else now
    QUEUE_DEPTH.labels(state.pool).set(state.queued)
    waiting = [i.waiting_since for i in state.work.values() if i.status == QUEUED]
    OLDEST_WAIT.labels(state.pool).set(max(0.0, now - min(waiting)) if waiting else 0.0)
    presences: Tally[str] = Tally(
        "lost" if a.lost else a.presence for a in state.agents.values())
    for presence in ("available", "busy", "away", "offline", "lost"):
        AGENTS.labels(state.pool, presence).set(presences.get(presence, 0))
