"""Best-match selection: the most proficient eligible agent (pure, index-driven).

A pool whose selection rule is ``best_match`` offers work to the ready agent
with the highest *proficiency score* — the sum of the agent's levels in the
skills the work needs (queue memberships count 0) — then, among equal scores,
to the longest idle, then by agent id. It does not scan the pool: it walks the
ready index of the needed skill with the fewest eligible holders, level bucket
by level bucket from the top, and stops as soon as no lower bucket can beat the
best score found (for work needing one skill: the first eligible agent of the
highest level that has one).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from omniroute.routing.policy import QUEUE_PREFIX

if TYPE_CHECKING:
    from omniroute.routing.state import AgentState, PoolState, WorkState


def _bucket(rooms: dict[frozenset[str], Any], channel: str) -> Iterable[tuple[Any, ...]]:
    lists = [ready for blocked, ready in rooms.items() if ready and channel not in blocked]
    if len(lists) == 1:
        only: Iterable[tuple[Any, ...]] = lists[0]
        return only
    return heapq.merge(*lists)


def best_match(state: PoolState, item: WorkState, needs: tuple[tuple[str, int], ...]
               ) -> tuple[AgentState | None, int] | None:
    """The best-scoring eligible agent and how many were looked at; None when the work
    needs no proficiency (the caller then picks the longest idle)."""
    scored = [(skill, level) for skill, level in needs if not skill.startswith(QUEUE_PREFIX)]
    if not scored:
        return None
    channel, index = item.channel, state.ready_by_skill
    primary, primary_size = "", -1
    top: dict[str, int] = {}
    for skill, level in scored:
        levels = index.get(skill, {})
        present = [have for have, rooms in levels.items()
                   if have >= level and any(r and channel not in b for b, r in rooms.items())]
        if not present:
            return None, 0
        top[skill] = max(present)
        size = sum(len(r) for have in present for b, r in levels[have].items()
                   if channel not in b)
        if primary_size < 0 or size < primary_size:
            primary, primary_size = skill, size
    others = sum(level for skill, level in top.items() if skill != primary)
    needed = dict(scored)
    best: AgentState | None = None
    best_score, checked = -1, 0
    best_key: tuple[Any, ...] = ()
    agents, excluded = state.agents, item.excluded
    for level in sorted((h for h in index[primary] if h >= needed[primary]), reverse=True):
        bound = level + others
        if bound < best_score:
            break
        for key in _bucket(index[primary][level], channel):
            checked += 1
            agent = agents[key[-1]]
            if key[-1] in excluded or not agent.fits(channel) or not agent.skilled(needs):
                continue
            skills = agent.profile.skills
            score = sum(skills[skill] for skill in needed)
            if score > best_score or (score == best_score and key < best_key):
                best, best_score, best_key = agent, score, key
            if score == bound:
                break  # later agents of this bucket score at most the same, idle less
    return best, checked
