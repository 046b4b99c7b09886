"""Putting work in front of agents: offer, queue, drain, requeue, drop, forward.

These are the moves every handler of :mod:`omniroute.routing.engine` is made
of. Each records a :class:`Decision` with its rule, inputs and policy version.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import combinations
from math import comb
from typing import Any

from omniroute.routing.events import Decision, Kind, Route
from omniroute.routing.matching import best_match
from omniroute.routing.policy import Selection, queue_skill, requirement
from omniroute.routing.state import (
    ASSIGNED,
    OFFERED,
    QUEUED,
    AgentState,
    PoolState,
    Sig,
    WorkState,
)

Out = list[Decision]


def emit(state: PoolState, out: Out, kind: Kind, rule: str, inputs: dict[str, Any],
         item: WorkState | None = None, agent_id: str | None = None, **extra: Any) -> None:
    """Record one decision."""
    state.seq += 1
    if item is not None:
        extra = {"work_id": item.work_id, "customer_id": item.customer_id,
                 "channel": item.channel, "priority": item.priority, **extra}
    out.append(Decision(seq=state.seq, at=state.now, kind=kind, pool=state.policy.pool,
                        rule=rule, policy_version=state.version, inputs=inputs,
                        agent_id=agent_id, **extra))


def needs_of(state: PoolState, item: WorkState) -> tuple[tuple[str, int], ...]:
    """The item's skill requirement at its current relaxation step, plus membership of
    the queue of its current routing target (relaxation never lowers that)."""
    policy = state.policy
    steps = policy.relaxation
    if not steps or not item.relax_step:
        needs = tuple(sorted(item.skills.items()))
    else:
        needs = requirement(item.skills, steps, item.relax_step)
    queue = policy.target_queue(item.target_step) if policy.targets else None
    if queue is not None:
        merged = dict(needs)
        merged[queue_skill(queue)] = 0
        needs = tuple(sorted(merged.items()))
    return needs


def targets_exhausted(state: PoolState, item: WorkState) -> bool:
    """Whether the item has waited out every routing target (the last one has a timeout)."""
    deadline = state.policy.target_deadline(len(state.policy.targets))
    return (bool(state.policy.targets) and deadline is not None
            and state.now >= item.enqueued_at + deadline)


def give_up(state: PoolState, out: Out, item: WorkState, rule: str, cause: str) -> None:
    """Work no target of this pool takes any more: to the overflow pool, else parked."""
    overflow = state.policy.overflow
    if overflow is not None:
        forward(state, out, item, overflow.pool, f"{rule}: overflow", cause)
    else:
        drop(state, out, item, rule, cause)


def effective_priority(state: PoolState, item: WorkState) -> int:
    """Base priority raised for VIPs, negative sentiment and SLA proximity."""
    policy = state.policy
    priority = item.base_priority
    if item.vip:
        priority += policy.vip_boost
    if item.sentiment is not None and item.sentiment <= policy.negative_sentiment_below:
        priority += policy.negative_sentiment_boost
    if policy.sla_s is not None and state.now >= item.waiting_since + policy.sla_s:
        priority += policy.sla_boost
    return priority


def pinned_to(state: PoolState, item: WorkState) -> str | None:
    """The agent the item waits for (sticky or transfer target) while the pin lasts."""
    if item.pin_agent is not None and item.pin_until > state.now:
        return item.pin_agent
    return None


def find_agent(state: PoolState, item: WorkState,
               needs: tuple[tuple[str, int], ...]) -> tuple[AgentState | None, int]:
    """The first eligible agent in selection order, and how many were looked at."""
    pin = pinned_to(state, item)
    if pin is not None:
        agent = state.agents.get(pin)
        ok = (agent is not None and agent.ready_key is not None and agent.fits(item.channel)
              and pin not in item.excluded)
        return (agent if ok else None), 1
    if state.policy.selection is Selection.BEST_MATCH:
        found = best_match(state, item, needs)
        if found is not None:
            return found
    checked = 0
    agents, excluded, channel = state.agents, item.excluded, item.channel
    for key in state.ready_with(needs, channel):
        checked += 1
        agent = agents[key[-1]]
        if key[-1] in excluded:
            continue
        if agent.fits(channel) and agent.skilled(needs):
            return agent, checked
    return None, checked


def offer(state: PoolState, out: Out, item: WorkState, agent: AgentState, rule: str,
          inputs: dict[str, Any]) -> None:
    """Offer ``item`` to ``agent`` (or assign it outright when the agent auto-accepts)."""
    agent_id = agent.profile.agent_id
    take(agent, item)
    agent.idle_since = state.now
    agent.rr_seq = state.next_seq()
    state.refresh_ready(agent)
    inputs["agent_load"] = agent.load
    inputs["waited_s"] = round(state.now - item.waiting_since, 6)
    if agent.profile.auto_accept:
        item.status = agent.held[item.work_id] = ASSIGNED
        item.served = True
        emit(state, out, Kind.ASSIGNED, f"{rule}; auto-accept", inputs, item, agent_id)
        return
    item.status = agent.held[item.work_id] = OFFERED
    item.offer_id = f"{state.pool}:{state.seq}"
    item.offer_expires = state.now + state.policy.offer_timeout_s
    state.arm(item.offer_expires, "offer", (item.work_id, item.offer_id))
    emit(state, out, Kind.OFFERED, rule, inputs, item, agent_id,
         offer_id=item.offer_id, expires_at=item.offer_expires)


def take(agent: AgentState, item: WorkState) -> None:
    """Make ``item`` the agent's: it takes its share of her capacity (:func:`release`
    gives it back). The caller sets its status and refreshes her place among the ready."""
    agent.load += agent.profile.capacity.weight(item.channel)
    agent.per_channel[item.channel] = agent.per_channel.get(item.channel, 0) + 1
    item.agent_id = agent.profile.agent_id


def release(state: PoolState, item: WorkState) -> AgentState:
    """Free the capacity ``item`` holds on its agent; returns that agent."""
    agent = state.agents[item.agent_id]  # type: ignore[index]
    agent.load -= agent.profile.capacity.weight(item.channel)
    agent.per_channel[item.channel] -= 1
    del agent.held[item.work_id]
    state.refresh_ready(agent)
    item.agent_id, item.offer_id, item.status = None, None, QUEUED
    return agent


def place(state: PoolState, out: Out, item: WorkState, cause: str,
          unparked: str | None = None) -> None:
    """Offer ``item`` to the best eligible agent, else queue it (cap permitting); work that
    was parked (``unparked``: why it is routed again) is queued with that reason in the
    decision's inputs, which announce it (:func:`omniroute.routing.wire.outputs`)."""
    needs = needs_of(state, item)
    if state.open:
        agent, checked = find_agent(state, item, needs)
        if agent is not None:
            inputs = {"event": cause, "selection": state.policy.selection.value,
                      "needs": dict(needs), "agents_checked": checked}
            if state.policy.targets:
                inputs["target"] = item.target_step
            offer(state, out, item, agent, f"{state.policy.selection.value} agent", inputs)
            return
    cap = state.policy.queue_cap
    if cap is not None and state.queued >= cap:
        if state.policy.overflow is not None:
            forward(state, out, item, state.policy.overflow.pool, "queue cap reached: overflow",
                    cause)
        else:
            drop(state, out, item, "queue full", cause)
        return
    state.enqueue(item, needs)
    inputs = {"event": cause, "needs": dict(needs), "queued": state.queued}
    if state.policy.targets:
        inputs["target"] = item.target_step
    if unparked is not None:
        inputs["unparked"] = unparked
    emit(state, out, Kind.QUEUED, "no eligible agent" if state.open else "pool closed",
         inputs, item)


def drain_agent(state: PoolState, out: Out, agent: AgentState, cause: str) -> None:
    """While the agent has room, offer them the oldest highest-priority work they can take."""
    if not state.groups:
        return  # nothing waits
    agent_id = agent.profile.agent_id
    work = state.work
    names = tuple(sorted(agent.profile.skills))
    while state.open and agent.ready_key is not None:
        best = None
        for sig in _servable(state, agent, names):
            pinned = sig[2] is not None
            if not agent.fits(sig[0]) or (not pinned and not agent.skilled(sig[1])):
                continue
            for key in state.groups[sig]:
                if not pinned and agent_id in work[key[3]].excluded:
                    continue
                if best is None or key < best:
                    best = key
                break
        if best is None:
            return
        item = work[best[3]]
        state.dequeue(item)
        inputs = {"event": cause, "needs": dict(needs_of(state, item))}
        offer(state, out, item, agent, "capacity freed: oldest highest-priority work", inputs)


def _servable(state: PoolState, agent: AgentState, names: tuple[str, ...]) -> Iterator[Sig]:
    """Groups the agent might serve: pinned to them, or needing a combination of the skills
    they have (looked up by name; levels are checked by the caller), on a channel they have
    room for. An agent with so many skills that the combinations outnumber the groups of a
    channel looks at that channel's groups instead."""
    yield from state.sigs_by_pin.get(agent.profile.agent_id, ())
    sizes = [size for size in state.need_sizes if size <= len(names)]
    combos = sum(comb(len(names), size) for size in sizes)
    for channel, by_skill in state.sigs_by_need.items():
        if not agent.fits(channel):
            continue
        if combos > len(by_skill):
            for every in by_skill.values():
                yield from every
            continue
        for size in sizes:
            for combo in combinations(names, size):
                found = by_skill.get(combo)
                if found:
                    yield from found


def drain_all(state: PoolState, out: Out, cause: str) -> None:
    """Drain every ready agent, best first (after hours open or a configuration change)."""
    for key in list(state.ready):
        agent = state.agents.get(key[-1])
        if agent is not None:
            drain_agent(state, out, agent, cause)


def arm_limits(state: PoolState, item: WorkState) -> None:
    """Arm the item's time limits (relaxation, overflow, TTL, SLA) under the current policy,
    measured from its entry in the pool (``enqueued_at``)."""
    policy, ref = state.policy, (item.work_id, item.seq)
    for index, step in enumerate(policy.relaxation, start=1):
        state.arm(item.enqueued_at + step.after_s, "relax", (*ref, index))
    for index in range(1, len(policy.targets) + 1):
        deadline = policy.target_deadline(index)
        if deadline is None:
            break
        state.arm(item.enqueued_at + deadline, "target", (*ref, index))
    if policy.overflow is not None:
        state.arm(item.enqueued_at + policy.overflow.after_s, "overflow", ref)
    if policy.ttl_s is not None:
        state.arm(item.enqueued_at + policy.ttl_s, "ttl", ref)
    if policy.sla_s is not None and policy.sla_boost:
        state.arm(max(item.waiting_since + policy.sla_s, state.now), "sla", ref)


def requeue(state: PoolState, out: Out, item: WorkState, rule: str, cause: str) -> None:
    """Return work to the queue keeping its original age. Time limits from pool entry
    apply only to work never assigned here: a transfer or a revoked assignment is not
    parked or overflowed for having waited long before it was served; its limits count
    again from its return (before 2026-12-05 they never did: in a user run two
    conversations revoked from an agent an admin removed waited for ever in a pool left
    with nobody, its overflow never firing)."""
    policy = state.policy
    emit(state, out, Kind.REQUEUED, rule, {
        "event": cause, "waited_s": round(state.now - item.waiting_since, 6),
        "in_pool_s": round(state.now - item.enqueued_at, 6), "served": item.served}, item)
    if item.served:
        item.enqueued_at = state.now
        arm_limits(state, item)
        place(state, out, item, cause)
    elif policy.ttl_s is not None and state.now >= item.enqueued_at + policy.ttl_s:
        drop(state, out, item, "queue time-to-live expired", cause)
    elif policy.overflow is not None and state.now >= item.enqueued_at + policy.overflow.after_s:
        forward(state, out, item, policy.overflow.pool, "overflow timeout", cause)
    elif targets_exhausted(state, item):
        give_up(state, out, item, "routing targets exhausted", cause)
    else:
        place(state, out, item, cause)


def drop(state: PoolState, out: Out, item: WorkState, reason: str, cause: str,
         park: bool = True) -> None:
    """Stop routing ``item`` here, saying why: ``parked`` (it could not be routed and
    waits for a new routing request), or ``dropped`` (canceled: nobody waits)."""
    state.dequeue(item)
    state.work.pop(item.work_id, None)
    emit(state, out, Kind.PARKED if park else Kind.DROPPED, reason,
         {"event": cause, "waited_s": round(state.now - item.waiting_since, 6),
          "in_pool_s": round(state.now - item.enqueued_at, 6), "hops": item.hops},
         item, reason=reason)


def forward(state: PoolState, out: Out, item: WorkState, pool: str, rule: str, cause: str,
            pin_agent: str | None = None) -> None:
    """Move ``item`` to another pool's stream, keeping its age."""
    if item.hops >= state.policy.max_hops or pool == state.pool:
        drop(state, out, item, f"{rule}: no further pool (hops {item.hops})", cause)
        return
    state.dequeue(item)
    route = leave_for(state, item, pool, pin_agent)
    emit(state, out, Kind.FORWARDED, rule, {"event": cause, "to": pool}, item,
         reason=rule, forward=route, target_pool=pool)


def leave_for(state: PoolState, item: WorkState, pool: str, pin_agent: str | None = None,
              holder: str | None = None) -> Route:
    """Take ``item`` out of this pool, remembering where it went (inputs for it follow
    it there): the route that puts it in ``pool``'s stream, keeping its age."""
    state.work.pop(item.work_id, None)
    state.moved.pop(item.work_id, None)
    state.moved[item.work_id] = (pool, state.now)
    return Route(at=state.now, event_id=f"fwd:{state.pool}:{state.seq + 1}",
                 work_id=item.work_id, customer_id=item.customer_id, channel=item.channel,
                 priority=item.base_priority, skills=dict(item.skills), vip=item.vip,
                 sentiment=item.sentiment, waiting_since=item.waiting_since,
                 pin_agent=pin_agent, hops=item.hops + 1, holder=holder)
