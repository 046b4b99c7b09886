"""``decide(state, event) -> (state, decisions)``: the routing core's one entry point.

Deterministic: the clock is the largest ``at`` seen so far, timers fire in
(due, arming order) when an input moves the clock past them, and every tie
breaks on ids or sequence numbers. Replaying a pool's input log from an empty
state therefore reproduces every decision exactly.
"""

from __future__ import annotations

import copy
import heapq

from omniroute.routing import admin, stats
from omniroute.routing import agents as agent_rules
from omniroute.routing import work as work_rules
from omniroute.routing.events import (
    OFFER_RENEWED,
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
    WorkInput,
)
from omniroute.routing.placement import (
    Out,
    drain_all,
    emit,
)
from omniroute.routing.policy import AgentProfile, PoolPolicy
from omniroute.routing.state import OFFERED, AgentState, PoolState, WorkState
from omniroute.routing.timers import TIMERS


def new_pool(policy: PoolPolicy, agents: tuple[AgentProfile, ...] = ()) -> PoolState:
    """An empty pool at version 0 (configuration normally arrives as a Configure event)."""
    state = PoolState(policy=policy)
    for profile in agents:
        state.agents[profile.agent_id] = AgentState(profile, 0.0)
    return state


ADMIN = (Configure, UpsertAgent, RemoveAgent)

CLOCK_STOPPED_S = 30.0
"""A running router ticks every pool each second, so a clock that jumps further than this
in one input means the router was not running (a restart, a broker outage): that time is
not counted as the agents' silence (see :func:`advance`)."""


def _fed(event: CoreEvent) -> bool:
    """Whether ``event`` came through the repartition hop (stamped with its own time there):
    agents' events always, conversations' inputs unless their producer wrote them
    straight into the pool's stream."""
    return isinstance(event, AgentInput) or (isinstance(event, WorkInput) and not event.direct)


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
            out = _apply(state, event)
        except Exception as exc:
            raise InputFailed(before, exc) from exc
    else:
        out = _apply(state, event)
    stats.record(state, out)
    return state, out


def _apply(state: PoolState, event: CoreEvent) -> list[Decision]:
    out: Out = []
    if isinstance(event, AgentInput):
        _heard_from(state, event)
    advance(state, out, event.at, event.event_id, fed=_fed(event))
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


def _heard_from(state: PoolState, event: AgentInput) -> None:
    """An agent's own input proves them present at its time, before the clock moves there:
    the heartbeat deadline it meets is not fired first. After a stack restart an agent's
    first heartbeat came 60.0004 s after the last, and its own arrival made them lost and
    took back their three conversations (a user run, 2026-12-05)."""
    agent = state.agents.get(event.agent_id)
    if agent is not None and event.at > agent.last_seen:
        agent.last_seen = event.at


def _clock_stopped(state: PoolState, gap: float) -> list[tuple[WorkState, str]]:
    """The router did not run for ``gap`` seconds: nobody could be heard meanwhile, so every
    agent's silence so far is kept as it was and the gap is not added to it, and an offer
    keeps the time it had left (it timed out at the router's return and set its agent away,
    after a user run's two-minute stop of the whole stack). Returns the offers moved, to be
    announced again with their new deadline (:func:`advance`)."""
    for agent in state.agents.values():
        agent.last_seen += gap
    moved = [(item, item.offer_id) for item in state.work.values()
             if item.status == OFFERED and item.offer_id is not None]
    if moved:
        for item, _offer in moved:
            item.offer_expires += gap
        timers = state.timers
        timers[:] = [(due + gap if kind == "offer" else due, seq, kind, ref)
                     for due, seq, kind, ref in timers]
        heapq.heapify(timers)
    return moved


def _renew(state: PoolState, out: Out, moved: list[tuple[WorkState, str]], gap: float,
           cause: str) -> None:
    """Announce each offer still open after a stop again, same id, with its new deadline: the
    deadline its first announcement gave has passed, and agent apps hide an expired offer
    (a user run's agent never saw the offer the router kept for her, and it timed out)."""
    for item, offer_id in moved:
        if item.status == OFFERED and item.offer_id == offer_id:
            emit(state, out, Kind.OFFERED, OFFER_RENEWED,
                 {"event": cause, "stopped_s": round(gap, 3)}, item, item.agent_id,
                 offer_id=offer_id, expires_at=item.offer_expires)


def advance(state: PoolState, out: Out, at: float, cause: str, fed: bool = False) -> None:
    """Move the clock to ``at`` (never backwards), firing due timers each at its own
    time with business hours tracked in between; an input that came through the
    repartition hop (``fed``) also moves the input clock and fires its timers. A jump of
    more than :data:`CLOCK_STOPPED_S` (the router was not running) is not counted as the
    agents' silence, nor taken from open offers."""
    moved: list[tuple[WorkState, str]] = []
    gap = at - state.now
    if state.now and gap > CLOCK_STOPPED_S:
        moved = _clock_stopped(state, gap)
    timers = state.timers
    while timers and timers[0][0] <= at:
        due, _seq, kind, ref = heapq.heappop(timers)
        if due > state.now:
            state.now = due
            _hours(state, out, cause)
        TIMERS[kind](state, out, ref, cause)
    if at > state.now:
        state.now = at
    _hours(state, out, cause)
    if moved:
        _renew(state, out, moved, gap, cause)
    if fed and at > state.fed:
        state.fed = at
        fed_timers = state.fed_timers
        while fed_timers and fed_timers[0][0] <= at:
            _due, _seq, kind, ref = heapq.heappop(fed_timers)
            TIMERS[kind](state, out, ref, cause)
    _forget(state)


def _hours(state: PoolState, out: Out, cause: str) -> None:
    """Open or close the pool at minute boundaries; opening drains the backlog."""
    minute = int(state.now // 60)
    if minute != state.open_checked_minute:
        state.open_checked_minute = minute
        hours = state.policy.business_hours
        was_open, state.open = state.open, hours.is_open(state.now) if hours else True
        if state.open and not was_open:
            drain_all(state, out, cause)


def _forget(state: PoolState) -> None:
    """Drop route ids, forwarding pointers and closed work older than ``dedupe_s``."""
    horizon = state.now - state.policy.dedupe_s
    for table in (state.seen_routes, state.moved, state.closed):
        while table:
            key = next(iter(table))
            stamp = table[key]
            if (stamp if isinstance(stamp, float | int) else stamp[1]) >= horizon:
                break
            del table[key]
