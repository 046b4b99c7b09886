"""Handlers for work entering, changing in and leaving a pool (route, update, cancel)."""

from __future__ import annotations

from dataclasses import replace

from omniroute.routing.events import Cancel, Kind, Route, Update
from omniroute.routing.placement import (
    Out,
    arm_limits,
    drain_agent,
    drop,
    effective_priority,
    emit,
    forward,
    place,
    release,
    take,
)
from omniroute.routing.state import (
    ASSIGNED,
    OFFERED,
    QUEUED,
    WRAPPING,
    AgentState,
    PoolState,
    WorkState,
)


def follow(state: PoolState, out: Out, event: Route | Update | Cancel) -> bool:
    """An input for work that moved to another pool goes there (one owner per
    conversation); whether it did. A route forwarded back here takes the work back."""
    moved = state.moved.get(event.work_id)
    if moved is None:
        return False
    if isinstance(event, Route) and event.hops > 0:
        del state.moved[event.work_id]
        return False
    del state.moved[event.work_id]
    state.moved[event.work_id] = (moved[0], state.now)  # still there: keep following
    emit(state, out, Kind.FORWARDED, "conversation lives in another pool",
         {"event": event.event_id, "to": moved[0], "moved_at": moved[1]}, None,
         work_id=event.work_id, target_pool=moved[0],
         forward=replace(event, at=state.now))
    return True


def on_route(state: PoolState, out: Out, event: Route) -> None:
    """A conversation needs an agent: offer it now or queue it, arming its timers. The same
    request again (same event id, within ``dedupe_s``) is ignored; a request for work the
    pool holds updates it if it waits, hands it back to its agent if it was wrapping up."""
    if event.event_id and event.event_id in state.seen_routes:
        emit(state, out, Kind.IGNORED, "duplicate route request",
             {"event": event.event_id, "first_seen": state.seen_routes[event.event_id]},
             None, work_id=event.work_id)
        return
    if event.event_id:
        state.seen_routes[event.event_id] = state.now
    if follow(state, out, event):
        return
    existing = state.work.get(event.work_id)
    if existing is not None:
        _again(state, out, existing, event)
        return
    item = WorkState(event.work_id, event.customer_id, event.channel, state.next_seq())
    item.base_priority, item.skills = event.priority, dict(event.skills)
    item.vip, item.sentiment, item.hops = event.vip, event.sentiment, event.hops
    item.waiting_since = event.waiting_since if event.waiting_since is not None else state.now
    item.enqueued_at = state.now
    item.priority = effective_priority(state, item)
    holder = state.agents.get(event.holder) if event.holder is not None else None
    if holder is not None:  # it came with its agent, whom an admin moved to this pool
        _keep_with(state, out, item, holder, event.event_id)
        return
    _pin(state, item, event)
    arm_limits(state, item)
    state.work[item.work_id] = item
    place(state, out, item, event.event_id, event.unparked)


def _keep_with(state: PoolState, out: Out, item: WorkState, agent: AgentState,
               cause: str) -> None:
    """Assign ``item`` to the agent who held it in the pool she left, without an offer: her
    load here counts it (over her capacity she keeps it and gets nothing new)."""
    take(agent, item)
    item.served = True
    item.status = agent.held[item.work_id] = ASSIGNED
    state.work[item.work_id] = item
    state.refresh_ready(agent)
    emit(state, out, Kind.ASSIGNED, "came with its agent from another pool",
         {"event": cause, "agent_load": agent.load}, item, item.agent_id)


def _again(state: PoolState, out: Out, item: WorkState, event: Route) -> None:
    """A route request for work already here (its customer is the conversation's now)."""
    item.customer_id = event.customer_id
    if item.status == QUEUED:
        _update(state, out, item, event.priority, event.skills, event.vip,
                event.sentiment, event.event_id)
    elif item.status == WRAPPING:  # the customer wrote again: back to the same agent
        agent = state.agents[item.agent_id]  # type: ignore[index]
        item.status = agent.held[item.work_id] = ASSIGNED
        emit(state, out, Kind.ASSIGNED, "reopened during wrap-up",
             {"event": event.event_id}, item, item.agent_id)
    else:
        emit(state, out, Kind.IGNORED, f"already {item.status}",
             {"event": event.event_id}, item, item.agent_id)


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
    if follow(state, out, event):
        return
    item = state.work.get(event.work_id)
    if item is not None:
        if event.customer_id:
            item.customer_id = event.customer_id
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
    """Stop routing a conversation: rescind its offer or revoke its assignment (or, for a
    move, forward it: :func:`_move`)."""
    if follow(state, out, event):
        return
    item = state.work.get(event.work_id)
    if item is None:
        return
    if event.to_pool is not None:
        _move(state, out, item, event)
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


def _move(state: PoolState, out: Out, item: WorkState, event: Cancel) -> None:
    """A supervisor's re-route of work this pool holds (see :class:`Cancel`): waiting or
    offered work goes to ``event.to_pool`` (an offer is rescinded first, so the work has
    one owner at a time) without its skill requirements: the supervisor chose the pool;
    in the target pool only its priority changes; assigned or wrapping work stays (it
    moves by a transfer)."""
    target = event.to_pool
    assert target is not None
    if event.priority is not None:
        item.base_priority = event.priority
    if target == state.pool:
        if item.status == QUEUED:
            _update(state, out, item, item.base_priority, item.skills, item.vip,
                    item.sentiment, event.event_id)
        return
    if item.status in (ASSIGNED, WRAPPING):
        emit(state, out, Kind.IGNORED, f"already {item.status}: transfer it instead",
             {"event": event.event_id, "to": target}, item, item.agent_id)
        return
    # the supervisor chose the pool: its agents take it whatever skills triage asked for
    # (a user run's billing email, moved to support with skill billing, waited there
    # for nobody)
    item.skills = {}
    agent = None
    if item.status == OFFERED:
        emit(state, out, Kind.RESCINDED, "conversation re-routed",
             {"event": event.event_id, "to": target}, item, item.agent_id,
             offer_id=item.offer_id, reason=event.reason)
        agent = release(state, item)
    forward(state, out, item, target, event.reason, event.event_id)
    if agent is not None:
        drain_agent(state, out, agent, event.event_id)
