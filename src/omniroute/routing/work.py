"""Handlers for work entering, changing in and leaving a pool (route, update, cancel)."""

from __future__ import annotations

from omniroute.routing.events import Cancel, Kind, Route, Update
from omniroute.routing.placement import (
    Out,
    drain_agent,
    drop,
    effective_priority,
    emit,
    place,
    release,
)
from omniroute.routing.state import OFFERED, QUEUED, PoolState, WorkState


def on_route(state: PoolState, out: Out, event: Route) -> None:
    """A conversation needs an agent: offer it now or queue it, arming its timers."""
    existing = state.work.get(event.work_id)
    if existing is not None:
        if existing.status == QUEUED:
            _update(state, out, existing, event.priority, event.skills, event.vip,
                    event.sentiment, event.event_id)
        return
    now, policy = state.now, state.policy
    item = WorkState(event.work_id, event.customer_id, event.channel, state.next_seq())
    item.base_priority, item.skills = event.priority, dict(event.skills)
    item.vip, item.sentiment, item.hops = event.vip, event.sentiment, event.hops
    item.waiting_since = event.waiting_since if event.waiting_since is not None else now
    item.enqueued_at = now
    item.priority = effective_priority(state, item)
    _pin(state, item, event)
    ref = (item.work_id, item.seq)
    for index, step in enumerate(policy.relaxation, start=1):
        state.arm(now + step.after_s, "relax", (*ref, index))
    if policy.overflow is not None:
        state.arm(now + policy.overflow.after_s, "overflow", ref)
    if policy.ttl_s is not None:
        state.arm(now + policy.ttl_s, "ttl", ref)
    if policy.sla_s is not None and policy.sla_boost and item.waiting_since + policy.sla_s > now:
        state.arm(item.waiting_since + policy.sla_s, "sla", ref)
    state.work[item.work_id] = item
    place(state, out, item, event.event_id)


def _pin(state: PoolState, item: WorkState, event: Route) -> None:
    """Pin to a transfer target, or stick to the customer's last agent for a while."""
    policy, agents = state.policy, state.agents
    if event.pin_agent is not None and event.pin_agent in agents:
        item.pin_agent, item.pin_until = event.pin_agent, state.now + policy.transfer_pin_s
    elif (policy.sticky_s > 0 and event.last_agent in agents
          and agents[event.last_agent].presence != "offline"):
        item.pin_agent, item.pin_until = event.last_agent, state.now + policy.sticky_s
    if item.pin_agent is not None:
        state.arm(item.pin_until, "unpin", (item.work_id, item.seq, item.pin_until))


def on_update(state: PoolState, out: Out, event: Update) -> None:
    """Priority, skills, VIP or sentiment changed."""
    item = state.work.get(event.work_id)
    if item is not None:
        _update(state, out, item, event.priority, event.skills, event.vip, event.sentiment,
                event.event_id)


def _update(state: PoolState, out: Out, item: WorkState, priority: int,
            skills: object, vip: bool, sentiment: float | None, cause: str) -> None:
    item.base_priority, item.skills = priority, dict(skills)  # type: ignore[call-overload]
    item.vip, item.sentiment = vip, sentiment
    item.priority = effective_priority(state, item)
    if item.status == QUEUED:
        state.dequeue(item)
        place(state, out, item, cause)


def on_cancel(state: PoolState, out: Out, event: Cancel) -> None:
    """Stop routing a conversation: rescind its offer or revoke its assignment."""
    item = state.work.get(event.work_id)
    if item is None:
        return
    inputs = {"event": event.event_id}
    if item.status == QUEUED:
        drop(state, out, item, event.reason, event.event_id, park=False)
        return
    agent_id, offer_id = item.agent_id, item.offer_id
    kind = Kind.RESCINDED if item.status == OFFERED else Kind.REVOKED
    emit(state, out, kind, "conversation canceled", inputs, item, agent_id,
         offer_id=offer_id, reason=event.reason)
    agent = release(state, item)
    if kind is Kind.RESCINDED:
        drop(state, out, item, event.reason, event.event_id, park=False)
    else:
        del state.work[item.work_id]
    drain_agent(state, out, agent, event.event_id)
