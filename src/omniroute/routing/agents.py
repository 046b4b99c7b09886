"""Handlers for agent events: presence, heartbeats, capacity, accept/decline, wrap-up,
resolve and transfer. An invalid event is rejected with a reason and changes nothing.
"""

from __future__ import annotations

from dataclasses import replace

from omniroute.routing.events import (
    Accept,
    AgentInput,
    Decline,
    Heartbeat,
    Kind,
    Resolve,
    SetCapacity,
    SetPresence,
    Transfer,
    WrapUp,
)
from omniroute.routing.placement import (
    Out,
    drain_agent,
    emit,
    forward,
    place,
    release,
    requeue,
)
from omniroute.routing.state import (
    ASSIGNED,
    OFFERED,
    WRAPPING,
    AgentState,
    Ended,
    PoolState,
    WorkState,
)

PRESENCES = frozenset({"available", "busy", "away", "offline"})


def reject(state: PoolState, out: Out, event: AgentInput, reason: str) -> None:
    """Answer a refused agent event; nothing else changes."""
    emit(state, out, Kind.REJECTED, "agent event refused", {"event": event.event_id,
         "type": type(event).__name__}, None, event.agent_id, reason=reason,
         work_id=getattr(event, "work_id", None), offer_id=getattr(event, "offer_id", None))


def repeated(state: PoolState, out: Out, agent: AgentState, event: AgentInput,
             what: str) -> None:
    """An answer the agent already gave, sent again (an app retrying a call whose first
    write landed although it never heard so): ignored, not refused."""
    emit(state, out, Kind.IGNORED, f"repeated agent event: {what}", {"event": event.event_id,
         "type": type(event).__name__}, None, event.agent_id,
         work_id=getattr(event, "work_id", None), offer_id=getattr(event, "offer_id", None))
    seen(state, out, agent, event.event_id, event.at)


def seen(state: PoolState, out: Out, agent: AgentState, cause: str,
         at: float | None = None) -> None:
    """A valid event proves the agent's app was alive at ``at`` (its own time stamp):
    clear 'lost', watch heartbeats."""
    at = state.now if at is None else at
    if at > agent.last_seen:
        agent.last_seen = at
    if agent.lost:
        agent.lost = False
        agent.idle_since = state.now
        state.refresh_ready(agent)
        drain_agent(state, out, agent, cause)
    watch(state, agent)


def watch(state: PoolState, agent: AgentState) -> None:
    """Arm the agent's heartbeat timers: one on the input clock at the grace (fires when
    later inputs arrive without this agent's), one on the pool clock after the grace plus
    ``input_stall_s`` (fires when nothing arrives at all)."""
    if agent.presence == "offline":
        return
    due, agent_id = agent.last_seen + state.policy.heartbeat_grace_s, agent.profile.agent_id
    if not agent.fed_armed:
        agent.fed_armed = True
        state.arm_fed(due, "heartbeat_fed", agent_id)
    if not agent.timer_armed:
        agent.timer_armed = True
        state.arm(due + state.policy.input_stall_s, "heartbeat", agent_id)


def queue_order(item: WorkState) -> tuple[int, float, int]:
    """The order work waits in: highest priority, then oldest, then arrival."""
    return (-item.priority, item.waiting_since, item.seq)


def rescind_offers(state: PoolState, out: Out, agent: AgentState, reason: str, cause: str,
                   revoke_assigned: bool = False, also: tuple[WorkState, ...] = ()) -> None:
    """Take back the agent's open offers (and, if asked, assigned work); requeue it all
    (with ``also``, already released) in queue order, no longer pinned to this agent."""
    agent_id = agent.profile.agent_id
    taken = list(also)
    for work_id, status in sorted(agent.held.items()):
        if status == OFFERED or (revoke_assigned and status == ASSIGNED):
            item = state.work[work_id]
            kind = Kind.RESCINDED if status == OFFERED else Kind.REVOKED
            emit(state, out, kind, reason, {"event": cause, "agent_load": agent.load}, item,
                 agent_id, offer_id=item.offer_id, reason=reason)
            release(state, item)
            taken.append(item)
    for item in sorted(taken, key=queue_order):
        if item.pin_agent == agent_id:
            item.pin_agent = None
        requeue(state, out, item, reason, cause)


def unpin(state: PoolState, out: Out, agent_id: str, cause: str) -> None:
    """Work waiting for this agent (sticky or transfer pin) goes to anyone now."""
    waiting = [state.work[key[3]] for sig in sorted(state.sigs_by_pin.get(agent_id, ()))
               for key in state.groups[sig]]
    for item in sorted(waiting, key=queue_order):
        state.dequeue(item)
        item.pin_agent = None
        place(state, out, item, cause)


def on_presence(state: PoolState, out: Out, agent: AgentState, event: SetPresence) -> None:
    """available, busy, away or offline; away and offline give back pending offers."""
    if event.presence not in PRESENCES:
        reject(state, out, event, f"unknown presence {event.presence!r}")
        return
    before, agent.presence, agent.heard = agent.presence, event.presence, True
    if event.presence == "available" and before != "available":
        agent.idle_since = state.now
    state.refresh_ready(agent)
    seen(state, out, agent, event.event_id, event.at)
    if event.presence in ("away", "offline"):
        rescind_offers(state, out, agent, f"agent went {event.presence}", event.event_id)
    if event.presence == "offline":
        unpin(state, out, agent.profile.agent_id, event.event_id)
    drain_agent(state, out, agent, event.event_id)


def on_heartbeat(state: PoolState, out: Out, agent: AgentState, event: Heartbeat) -> None:
    """The agent's app is alive. A pool that has not heard her presence since she joined it
    takes the presence her app shows (the heartbeat's): an admin added her, moved her here
    or restored a version naming her while her app was open, and it said "available" while
    this pool had her offline (a user run's agent, put back by a restore, was offered
    nothing; 2026-12-06). Once heard, a heartbeat's presence is ignored: a presence event
    or the router's own "away" is newer than what the gateway had recorded."""
    if not agent.heard and event.presence in PRESENCES:
        if event.presence != agent.presence:
            on_presence(state, out, agent, SetPresence(at=event.at, event_id=event.event_id,
                                                       agent_id=event.agent_id,
                                                       presence=event.presence))
            return
        agent.heard = True
    seen(state, out, agent, event.event_id, event.at)


def on_capacity(state: PoolState, out: Out, agent: AgentState, event: SetCapacity) -> None:
    """New capacity, refused when it is below what the agent holds now."""
    capacity = event.capacity
    load = sum(capacity.weight(state.work[w].channel) for w in agent.held)
    over = [ch for ch, n in agent.per_channel.items()
            if (cap := capacity.cap(ch)) is not None and n > cap]
    if load > capacity.total or over:
        where = f" on {', '.join(sorted(over))}" if over else ""
        reject(state, out, event, f"capacity below current load{where} "
               f"(load {load}, total {capacity.total})")
        return
    auto = agent.profile.auto_accept if event.auto_accept is None else event.auto_accept
    agent.profile = replace(agent.profile, capacity=capacity, auto_accept=auto)
    agent.load = load
    state.refresh_ready(agent)
    seen(state, out, agent, event.event_id, event.at)
    drain_agent(state, out, agent, event.event_id)


def _offered_item(state: PoolState, out: Out, event: Accept | Decline) -> WorkState | None:
    item = state.work.get(event.work_id)
    if item is None or item.status != OFFERED or item.offer_id != event.offer_id:
        reject(state, out, event, "offer unknown, expired or already answered")
        return None
    if item.agent_id != event.agent_id:
        reject(state, out, event, "offer belongs to another agent")
        return None
    return item


def on_accept(state: PoolState, out: Out, agent: AgentState, event: Accept) -> None:
    """The agent takes the offered conversation (again: ignored)."""
    held = state.work.get(event.work_id)
    if held is not None and held.agent_id == event.agent_id and \
            held.offer_id == event.offer_id and held.status in (ASSIGNED, WRAPPING):
        repeated(state, out, agent, event, "offer already accepted")
        return
    item = _offered_item(state, out, event)
    if item is None:
        return
    item.status = agent.held[item.work_id] = ASSIGNED
    item.served = True
    waited = round(state.now - item.waiting_since, 6)
    emit(state, out, Kind.ASSIGNED, "offer accepted", {"event": event.event_id,
         "waited_s": waited}, item,
         agent.profile.agent_id, offer_id=item.offer_id)
    seen(state, out, agent, event.event_id, event.at)


def on_decline(state: PoolState, out: Out, agent: AgentState, event: Decline) -> None:
    """The agent refuses: the work goes back keeping its age, not to this agent again
    (the same decline again is ignored)."""
    left = state.work.get(event.work_id)
    if left is not None and event.agent_id in left.excluded and left.offer_id != event.offer_id:
        repeated(state, out, agent, event, "offer already declined")
        return
    item = _offered_item(state, out, event)
    if item is None:
        return
    emit(state, out, Kind.RESCINDED, "offer declined", {"event": event.event_id}, item,
         event.agent_id, offer_id=item.offer_id, reason=f"declined: {event.reason}")
    release(state, item)
    item.excluded.add(event.agent_id)
    if item.pin_agent == event.agent_id:
        item.pin_agent = None
    seen(state, out, agent, event.event_id, event.at)
    requeue(state, out, item, f"declined: {event.reason}", event.event_id)
    drain_agent(state, out, agent, event.event_id)


def _held_item(state: PoolState, out: Out, event: WrapUp | Resolve | Transfer,
               statuses: tuple[str, ...]) -> WorkState | None:
    item = state.work.get(event.work_id)
    if item is None or item.agent_id != event.agent_id or item.status not in statuses:
        reject(state, out, event, f"conversation is not {' or '.join(statuses)} to this agent")
        return None
    return item


def on_wrap_up(state: PoolState, out: Out, agent: AgentState, event: WrapUp) -> None:
    """Done with the customer; capacity is held until resolve or the wrap-up timeout."""
    wrapping = state.work.get(event.work_id)
    if wrapping is not None and wrapping.agent_id == event.agent_id and \
            wrapping.status == WRAPPING:
        repeated(state, out, agent, event, "already wrapping up")
        return
    item = _held_item(state, out, event, (ASSIGNED,))
    if item is None:
        return
    item.status = agent.held[item.work_id] = WRAPPING
    emit(state, out, Kind.RESOLVED, "agent wrapping up", {"event": event.event_id}, item,
         agent.profile.agent_id)
    state.arm(state.now + state.policy.wrap_up_timeout_s, "wrap", (item.work_id, item.seq))
    seen(state, out, agent, event.event_id, event.at)


def complete(state: PoolState, out: Out, item: WorkState, rule: str, cause: str) -> None:
    """Close the conversation and free its capacity, then drain the agent."""
    agent_id = item.agent_id
    if item.status == ASSIGNED:
        emit(state, out, Kind.RESOLVED, rule, {"event": cause}, item, agent_id)
    emit(state, out, Kind.COMPLETED, rule, {"event": cause}, item, agent_id)
    agent = release(state, item)
    del state.work[item.work_id]
    if agent_id is not None:
        _remember(state, item.work_id, (agent_id, state.now))
    drain_agent(state, out, agent, cause)


def _remember(state: PoolState, work_id: str, how: Ended) -> None:
    """Remember for ``dedupe_s`` how an agent's hold of the work ended."""
    state.closed.pop(work_id, None)  # re-inserted last: the oldest stays first
    state.closed[work_id] = how


def _let_go(state: PoolState, event: Resolve | Transfer) -> Ended | None:
    """How this agent's last hold of the work ended within ``dedupe_s``, when they do not
    hold it now (None: they hold it, or it was not theirs)."""
    current = state.work.get(event.work_id)
    if current is not None and current.agent_id == event.agent_id:
        return None
    how = state.closed.get(event.work_id)
    return how if how is not None and how[0] == event.agent_id else None


def on_resolve(state: PoolState, out: Out, agent: AgentState, event: Resolve) -> None:
    """The conversation is closed: capacity frees and the backlog drains (a resolve of work
    this agent's last hold of closed within ``dedupe_s`` is ignored; of work they
    transferred away, refused)."""
    how = _let_go(state, event)
    if how is not None and len(how) == 2:
        repeated(state, out, agent, event, "already resolved")
        return
    item = _held_item(state, out, event, (ASSIGNED, WRAPPING))
    if item is not None:
        seen(state, out, agent, event.event_id, event.at)
        complete(state, out, item, "resolved by agent", event.event_id)


def on_transfer(state: PoolState, out: Out, agent: AgentState, event: Transfer) -> None:
    """Hand the conversation to another agent of this pool or to another pool (the same
    transfer again, of work this agent transferred within ``dedupe_s``, is ignored)."""
    other_pool = event.target_pool not in (None, state.pool)
    target, to_pool = event.target_agent, event.target_pool if other_pool else None
    how = _let_go(state, event)
    if how is not None and len(how) == 4 and how[2:] == (target, to_pool):
        repeated(state, out, agent, event, "already transferred")
        return
    item = _held_item(state, out, event, (ASSIGNED,))
    if item is None:
        return
    if not other_pool and (target not in state.agents or target == event.agent_id):
        reject(state, out, event, f"target agent {target!r} is not another agent of this pool")
        return
    cause = event.event_id
    emit(state, out, Kind.REVOKED, "transfer", {"event": cause}, item, event.agent_id,
         reason=event.reason)
    emit(state, out, Kind.TRANSFERRED, event.reason, {"event": cause, "to_agent": target,
         "to_pool": event.target_pool}, item, target, reason=event.reason)
    release(state, item)
    _remember(state, item.work_id, (event.agent_id, state.now, target, to_pool))
    seen(state, out, agent, cause, event.at)
    if other_pool:
        forward(state, out, item, event.target_pool, "transfer", cause,  # type: ignore[arg-type]
                pin_agent=target)
    else:
        item.pin_agent, item.pin_until = target, state.now + state.policy.transfer_pin_s
        item.excluded.discard(target)
        state.arm(item.pin_until, "unpin", (item.work_id, item.seq, item.pin_until))
        requeue(state, out, item, "transfer", cause)
    drain_agent(state, out, agent, cause)


HANDLERS = {
    SetPresence: on_presence, Heartbeat: on_heartbeat,
    SetCapacity: on_capacity, Accept: on_accept, Decline: on_decline, WrapUp: on_wrap_up,
    Resolve: on_resolve, Transfer: on_transfer,
}
