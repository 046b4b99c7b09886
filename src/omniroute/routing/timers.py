"""What happens when a pool's timers fire: offer expiry, heartbeats, relaxation,
routing targets, overflow, time-to-live, SLA, pin expiry and wrap-up.

Timers are armed with the policy of their time; each handler re-checks the
*current* policy (a configuration change re-arms them with :func:`arm_limits`),
so a removed or changed limit never fires with its old value.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from omniroute.routing import agents as agent_rules
from omniroute.routing.events import Kind
from omniroute.routing.placement import (
    Out,
    drain_agent,
    drop,
    effective_priority,
    emit,
    forward,
    give_up,
    place,
    release,
    requeue,
)
from omniroute.routing.state import OFFERED, QUEUED, WRAPPING, PoolState

OFFER_TIMED_OUT = "offer timed out"
"""The reason of a rescinded offer nobody answered in time (the gateway reads it back to show
the agent away)."""


def _offer_timeout(state: PoolState, out: Out, ref: tuple[str, str], cause: str) -> None:
    item = state.work.get(ref[0])
    if item is None or item.status != OFFERED or item.offer_id != ref[1]:
        return
    agent = state.agents[item.agent_id]  # type: ignore[index]
    agent_id = agent.profile.agent_id
    emit(state, out, Kind.RESCINDED, OFFER_TIMED_OUT, {"event": cause, "timer": "offer"},
         item, agent_id, offer_id=item.offer_id, reason=OFFER_TIMED_OUT)
    release(state, item)
    if item.pin_agent == agent_id:  # a silent agent is not waited for
        item.pin_agent = None
    if state.policy.away_on_offer_timeout:
        # away, the agent is offered nothing until they choose available again, and then
        # this work too: excluded for good, it waited for ever in a pool where they were
        # the only one who could take it (a user run's mail, until 2026-12-05)
        agent.presence, agent.heard = "away", True
        state.refresh_ready(agent)
        agent_rules.rescind_offers(state, out, agent, "agent set away: offer timed out", cause,
                                   also=(item,))
    else:
        item.excluded.add(agent_id)  # still available: not offered the same work again
        requeue(state, out, item, OFFER_TIMED_OUT, cause)
    drain_agent(state, out, agent, cause)


def _heartbeat(state: PoolState, out: Out, ref: str, cause: str, on_fed: bool) -> None:
    agent = state.agents.get(ref)
    if agent is None:
        return
    if on_fed:
        agent.fed_armed = False
    else:
        agent.timer_armed = False
    if agent.presence == "offline" or agent.lost:
        return
    due = agent.last_seen + state.policy.heartbeat_grace_s
    stalled = due + state.policy.input_stall_s
    if state.fed < due and state.now < stalled:  # inputs may be late: wait for them
        agent_rules.watch(state, agent)
        return
    agent.lost = True
    state.refresh_ready(agent)
    agent_rules.rescind_offers(state, out, agent, "agent lost (no heartbeat)", cause,
                               revoke_assigned=state.policy.requeue_on_lost)


def _item(state: PoolState, ref: tuple[Any, ...]) -> Any:
    item = state.work.get(ref[0])
    return item if item is not None and item.seq == ref[1] else None


def _relax(state: PoolState, out: Out, ref: tuple[str, int, int], cause: str) -> None:
    item, steps = _item(state, ref), state.policy.relaxation
    if item is None or ref[2] <= item.relax_step or ref[2] > len(steps):
        return
    if state.now < item.enqueued_at + steps[ref[2] - 1].after_s:
        return
    item.relax_step = ref[2]
    if item.status == QUEUED:
        state.dequeue(item)
        place(state, out, item, cause)


def _target(state: PoolState, out: Out, ref: tuple[str, int, int], cause: str) -> None:
    """The current routing target timed out: go on to the next one (its queue's agents),
    or, after the last, to the overflow pool or parking (work never assigned here)."""
    item, policy = _item(state, ref), state.policy
    step = ref[2]
    if item is None or step <= item.target_step or step > len(policy.targets):
        return
    deadline = policy.target_deadline(step)
    if deadline is None or state.now < item.enqueued_at + deadline:
        return
    if step == len(policy.targets):
        if item.status == QUEUED and not item.served:
            give_up(state, out, item, "routing targets exhausted", cause)
        return
    item.target_step = step
    if item.status == QUEUED:
        state.dequeue(item)
        place(state, out, item, cause)


def _overflow(state: PoolState, out: Out, ref: tuple[str, int], cause: str) -> None:
    item, overflow = _item(state, ref), state.policy.overflow
    if (item is not None and item.status == QUEUED and overflow is not None
            and state.now >= item.enqueued_at + overflow.after_s):
        forward(state, out, item, overflow.pool, "overflow timeout", cause)


def _ttl(state: PoolState, out: Out, ref: tuple[str, int], cause: str) -> None:
    item, ttl = _item(state, ref), state.policy.ttl_s
    if (item is not None and item.status == QUEUED and ttl is not None
            and state.now >= item.enqueued_at + ttl):
        drop(state, out, item, "queue time-to-live expired", cause)


def _sla(state: PoolState, out: Out, ref: tuple[str, int], cause: str) -> None:
    item = _item(state, ref)
    if item is not None and item.priority != effective_priority(state, item):
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
    "offer": _offer_timeout, "relax": _relax, "target": _target, "overflow": _overflow, "ttl": _ttl,
    "sla": _sla, "unpin": _unpin, "wrap": _wrap,
    "heartbeat": lambda s, o, r, c: _heartbeat(s, o, r, c, on_fed=False),
    "heartbeat_fed": lambda s, o, r, c: _heartbeat(s, o, r, c, on_fed=True),
}
