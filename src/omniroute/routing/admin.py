"""Admin inputs of a pool: configure (policy and roster), upsert/remove one agent, and
agents joining an ``auto_join`` pool by sending their first event.

Each is applied completely or not at all: :func:`omniroute.routing.engine.decide`
runs them on a copy of the pool and keeps the copy only when they succeed.
"""

from __future__ import annotations

from dataclasses import replace

from omniroute.routing import agents as agent_rules
from omniroute.routing.events import Configure, Kind, RemoveAgent, UpsertAgent
from omniroute.routing.placement import (
    Out,
    arm_limits,
    drain_agent,
    effective_priority,
    emit,
    leave_for,
    needs_of,
    release,
)
from omniroute.routing.policy import AgentProfile
from omniroute.routing.state import ASSIGNED, AgentState, PoolState, WorkState


def _clear_ready(state: PoolState) -> None:
    """Empty the ready index: its keys have the old selection rule's shape."""
    state.clear_ready()


def reindex(state: PoolState) -> None:
    """Rebuild the ready index and the queue after the selection rule or skills changed."""
    _clear_ready(state)
    for agent in state.agents.values():
        state.refresh_ready(agent)
    queued = [i for i in state.work.values() if i.sig is not None]
    for item in queued:
        state.dequeue(item)
    for item in sorted(queued, key=lambda i: i.seq):
        item.priority = effective_priority(state, item)
        state.enqueue(item, needs_of(state, item))


def applies(state: PoolState, event: Configure) -> bool:
    """Whether ``event`` is new to the pool: a higher config version, or (unversioned)
    a fingerprint other than the current one."""
    if event.version:
        return event.version > state.config_version
    return not (event.fingerprint and event.fingerprint == state.fingerprint)


def configure(state: PoolState, out: Out, event: Configure) -> None:
    """Admin: replace the policy and/or the roster; bumps the policy version."""
    state.version += 1
    state.config_version = max(state.config_version, event.version)
    state.fingerprint = event.fingerprint
    _clear_ready(state)
    if event.policy is not None:
        state.policy = replace(event.policy, pool=state.pool)
        state.open_checked_minute = -1
        for work_id in sorted(state.work):  # time limits under the new policy
            arm_limits(state, state.work[work_id])
    over: list[str] = []
    if event.agents is not None:
        keep = {p.agent_id for p in event.agents}
        elsewhere = set(event.elsewhere) | set(event.moved)
        leaving = [a for a, agent in state.agents.items() if a not in keep and (
            not agent.profile.joined or not state.policy.auto_join or a in elsewhere)]
        for profile in event.agents:  # the new roster first: leavers' work goes to it
            agent = upsert(state, replace(profile, pool=state.pool))
            if over_capacity(agent):
                over.append(profile.agent_id)
        for agent in state.agents.values():
            if agent.ready_key is None:
                state.refresh_ready(agent)
        for agent_id in sorted(leaving):
            remove(state, out, agent_id, event.event_id, event.moved.get(agent_id))
    reindex(state)
    emit(state, out, Kind.CONFIGURED, "configuration applied", {
        "event": event.event_id, "fingerprint": event.fingerprint, "version": event.version,
        "agents": len(state.agents), "over_capacity": over})


def over_capacity(agent: AgentState) -> bool:
    """Whether the agent holds more than their (new) capacity allows: they keep it, and
    get nothing new until they are under it again."""
    capacity = agent.profile.capacity
    return agent.load > capacity.total or any(
        (cap := capacity.cap(ch)) is not None and n > cap for ch, n in agent.per_channel.items())


def upsert(state: PoolState, profile: AgentProfile) -> AgentState:
    """Add the agent or give them ``profile``; their load is re-weighed, never refused."""
    agent = state.agents.get(profile.agent_id)
    if agent is None:
        agent = state.agents[profile.agent_id] = AgentState(profile, state.now)
    else:
        agent.profile = profile
        agent.load = sum(profile.capacity.weight(state.work[w].channel) for w in agent.held)
    state.refresh_ready(agent)
    return agent


def join(state: PoolState, agent_id: str) -> AgentState:
    """An unlisted agent joins an ``auto_join`` pool with the pool's join capacity."""
    profile = AgentProfile(agent_id, state.pool, state.policy.join_capacity, joined=True)
    return upsert(state, profile)


def remove(state: PoolState, out: Out, agent_id: str, cause: str,
           to_pool: str | None = None) -> None:
    """Take the agent out of the pool: offers rescinded, assigned work requeued, or, when she
    moves to pool ``to_pool``, forwarded there still hers (:func:`hand_over`); work she is
    wrapping up is closed."""
    agent = state.agents.get(agent_id)
    if agent is None:
        return
    agent.presence = "offline"
    state.refresh_ready(agent)
    moving = to_pool is not None and to_pool != state.pool
    agent_rules.rescind_offers(state, out, agent, "agent removed", cause,
                               revoke_assigned=not moving)
    for work_id in sorted(agent.held):
        item = state.work[work_id]
        if moving and item.status == ASSIGNED:
            hand_over(state, out, item, to_pool, cause)  # type: ignore[arg-type]
        else:
            agent_rules.complete(state, out, item, "agent removed", cause)
    del state.agents[agent_id]


def hand_over(state: PoolState, out: Out, item: WorkState, pool: str, cause: str) -> None:
    """Forward assigned ``item`` to ``pool`` with its agent, who moved there: that pool
    assigns it to her at once (Zendesk and TaskRouter keep an agent's open work when her
    group or queue changes; before 2026-12-06 it went back to this pool's queue and the
    customer to another agent). Neither the hop limit nor the queue applies: nobody waits."""
    holder = item.agent_id
    release(state, item)
    route = leave_for(state, item, pool, pin_agent=holder, holder=holder)
    emit(state, out, Kind.FORWARDED, "agent moved to another pool",
         {"event": cause, "to": pool, "holder": holder}, item, reason="agent moved to "
         f"pool {pool}", forward=route, target_pool=pool)


def upsert_agent(state: PoolState, out: Out, event: UpsertAgent) -> None:
    """Admin: add or change one agent (versioned)."""
    state.version += 1
    agent = upsert(state, replace(event.profile, pool=state.pool))
    emit(state, out, Kind.CONFIGURED, "agent upserted", {"event": event.event_id},
         None, event.profile.agent_id)
    drain_agent(state, out, agent, event.event_id)


def remove_agent(state: PoolState, out: Out, event: RemoveAgent) -> None:
    """Admin: remove one agent, requeueing their work (versioned)."""
    state.version += 1
    remove(state, out, event.agent_id, event.event_id)
    emit(state, out, Kind.CONFIGURED, "agent removed", {"event": event.event_id},
         None, event.agent_id)
