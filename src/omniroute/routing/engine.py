"""``decide(state, event) -> (state, decisions)``: the routing core's one entry point.

Deterministic: the clock is the largest ``at`` seen so far, timers fire in
(due, arming order) when an input moves the clock past them, and every tie
breaks on ids or sequence numbers. Replaying a pool's input log from an empty
state therefore reproduces every decision exactly.
"""

from __future__ import annotations

import copy
import heapq
from collections.abc import Callable
from typing import Any

from omniroute.routing import admin
from omniroute.routing import agents as agent_rules
from omniroute.routing import work as work_rules
from omniroute.routing.events import (
    AgentInput,
    Cancel,
    Configure,
    CoreEvent,
    Decision,
    Kind,
    RemoveAgent,
    Route,
    Tick,
    Update,
    UpsertAgent,
)
from omniroute.routing.placement import (
    Out,
    drain_agent,
    drain_all,
    drop,
    effective_priority,
    emit,
    forward,
    place,
    release,
    requeue,
)
from omniroute.routing.policy import AgentProfile, PoolPolicy
from omniroute.routing.state import OFFERED, QUEUED, WRAPPING, AgentState, PoolState


def new_pool(policy: PoolPolicy, agents: tuple[AgentProfile, ...] = ()) -> PoolState:
    """An empty pool at version 0 (configuration normally arrives as a Configure event)."""
    state = PoolState(policy=policy)
    for profile in agents:
        state.agents[profile.agent_id] = AgentState(profile, 0.0)
    return state


ADMIN = (Configure, UpsertAgent, RemoveAgent)


class InputFailed(Exception):
    """An input the core could not apply; ``state`` is the pool exactly as before it."""

    def __init__(self, state: PoolState, error: Exception) -> None:
        super().__init__(f"{type(error).__name__}: {error}")
        self.state = state


def decide(state: PoolState, event: CoreEvent) -> tuple[PoolState, list[Decision]]:
    """Apply one input to a pool; returns the state to keep and what was decided.

    All or nothing: admin inputs (rare, and touching every agent) run on a copy that
    replaces the pool only when they succeed; other inputs validate before they
    mutate. Either way a failing input raises :class:`InputFailed` with the state
    as it was, so the caller never keeps a half-applied pool.
    """
    if isinstance(event, ADMIN):
        before = copy.deepcopy(state)
        try:
            return state, _apply(state, event)
        except Exception as exc:
            raise InputFailed(before, exc) from exc
    return state, _apply(state, event)


def _apply(state: PoolState, event: CoreEvent) -> list[Decision]:
    out: Out = []
    advance(state, out, event.at, event.event_id)
    if isinstance(event, AgentInput):
        agent = state.agents.get(event.agent_id)
        if agent is None and state.policy.auto_join:
            agent = admin.join(state, event.agent_id)
        if agent is None:
            agent_rules.reject(state, out, event, "unknown agent in this pool")
        else:
            agent_rules.HANDLERS[type(event)](state, out, agent, event)  # type: ignore[operator]
    elif isinstance(event, Route):
        work_rules.on_route(state, out, event)
    elif isinstance(event, Update):
        work_rules.on_update(state, out, event)
    elif isinstance(event, Cancel):
        work_rules.on_cancel(state, out, event)
    elif isinstance(event, Configure):
        if admin.applies(state, event):
            admin.configure(state, out, event)
            advance(state, out, state.now, event.event_id)
            drain_all(state, out, event.event_id)
    elif isinstance(event, UpsertAgent):
        admin.upsert_agent(state, out, event)
    elif isinstance(event, RemoveAgent):
        admin.remove_agent(state, out, event)
    elif not isinstance(event, Tick):
        raise TypeError(f"not a routing event: {type(event).__name__}")
    return out


def advance(state: PoolState, out: Out, at: float, cause: str) -> None:
    """Move the clock to ``at`` (never backwards), fire due timers, track business hours."""
    if at > state.now:
        state.now = at
    timers = state.timers
    while timers and timers[0][0] <= state.now:
        _due, _seq, kind, ref = heapq.heappop(timers)
        TIMERS[kind](state, out, ref, cause)
    hours = state.policy.business_hours
    minute = int(state.now // 60)
    if minute != state.open_checked_minute:
        state.open_checked_minute = minute
        was_open, state.open = state.open, hours.is_open(state.now) if hours else True
        if state.open and not was_open:
            drain_all(state, out, cause)


def _offer_timeout(state: PoolState, out: Out, ref: tuple[str, str], cause: str) -> None:
    item = state.work.get(ref[0])
    if item is None or item.status != OFFERED or item.offer_id != ref[1]:
        return
    agent = state.agents[item.agent_id]  # type: ignore[index]
    emit(state, out, Kind.RESCINDED, "offer timed out", {"event": cause}, item,
         item.agent_id, offer_id=item.offer_id, reason="offer timed out")
    release(state, item)
    if state.policy.away_on_offer_timeout:
        agent.presence = "away"
        state.refresh_ready(agent)
    else:
        item.excluded.add(agent.profile.agent_id)
    requeue(state, out, item, "offer timed out", cause)
    drain_agent(state, out, agent, cause)


def _heartbeat(state: PoolState, out: Out, agent_id: str, cause: str) -> None:
    agent = state.agents.get(agent_id)
    if agent is None:
        return
    agent.timer_armed = False
    if agent.presence == "offline" or agent.lost:
        return
    due = agent.last_seen + state.policy.heartbeat_grace_s
    if due > state.now:
        agent.timer_armed = True
        state.arm(due, "heartbeat", agent_id)
        return
    agent.lost = True
    state.refresh_ready(agent)
    agent_rules.rescind_offers(state, out, agent, "agent lost (no heartbeat)", cause,
                               revoke_assigned=state.policy.requeue_on_lost)


def _item(state: PoolState, ref: tuple[Any, ...]) -> Any:
    item = state.work.get(ref[0])
    return item if item is not None and item.seq == ref[1] else None


def _relax(state: PoolState, out: Out, ref: tuple[str, int, int], cause: str) -> None:
    item = _item(state, ref)
    if item is None or ref[2] <= item.relax_step:
        return
    item.relax_step = ref[2]
    if item.status == QUEUED:
        state.dequeue(item)
        place(state, out, item, cause)


def _overflow(state: PoolState, out: Out, ref: tuple[str, int], cause: str) -> None:
    item = _item(state, ref)
    if item is not None and item.status == QUEUED and state.policy.overflow is not None:
        forward(state, out, item, state.policy.overflow.pool, "overflow timeout", cause)


def _ttl(state: PoolState, out: Out, ref: tuple[str, int], cause: str) -> None:
    item = _item(state, ref)
    if item is not None and item.status == QUEUED:
        drop(state, out, item, "queue time-to-live expired", cause)


def _sla(state: PoolState, out: Out, ref: tuple[str, int], cause: str) -> None:
    item = _item(state, ref)
    if item is not None:
        item.priority = effective_priority(state, item)
        if item.status == QUEUED:
            state.dequeue(item)
            place(state, out, item, cause)


def _unpin(state: PoolState, out: Out, ref: tuple[str, int, float], cause: str) -> None:
    item = _item(state, ref)
    if item is not None and item.pin_until == ref[2]:
        item.pin_agent = None
        if item.status == QUEUED:
            state.dequeue(item)
            place(state, out, item, cause)


def _wrap(state: PoolState, out: Out, ref: tuple[str, int], cause: str) -> None:
    item = _item(state, ref)
    if item is not None and item.status == WRAPPING:
        agent_rules.complete(state, out, item, "wrap-up timed out", cause)


TimerRule = Callable[[PoolState, Out, Any, str], None]
"""A timer's handler; ``ref`` is whatever the rule armed the timer with."""

TIMERS: dict[str, TimerRule] = {
    "offer": _offer_timeout, "heartbeat": _heartbeat, "relax": _relax,
    "overflow": _overflow, "ttl": _ttl, "sla": _sla, "unpin": _unpin, "wrap": _wrap,
}
