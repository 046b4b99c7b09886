"""A pool's state and its indexes (pure, mutable, owned by one writer).

Indexes keep every decision logarithmic in the number of agents and items:

- ready agents (available, not lost and below total capacity) are kept
  sorted by the pool's selection key (longest idle, least occupied, round robin)
  then agent id, so the first eligible agent in order is the one to pick;
  ``ready_by_skill`` holds the same keys per (skill, level) and ``ready_by_room``
  per *blocked channels* (the configured channels the agent has no room for now:
  an email weighing 2 on an agent with room 1, a channel at its cap), so work
  looks only at agents who have its skills at that level or above **and** room
  for its channel: at 85 % occupancy most ready agents have room for one chat
  only, and an email no longer passes over them one by one.
- ``groups``: waiting work grouped by what it needs (channel, skill
  requirement, pinned agent), each group sorted by (-priority, original age,
  arrival), and found by (channel, names of the needed skills) in
  ``sigs_by_need``; ``need_sizes`` counts those groups by how many skills they
  need, so a freed agent looks up only combinations of its skills of those sizes. When an
  agent frees capacity only the heads of the groups it can serve are compared.
- ``timers``: one heap of (due, seq, kind, ref) checked lazily when time advances.
"""

from __future__ import annotations

import heapq
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from sortedcontainers import SortedList  # type: ignore[import-untyped]

from omniroute.routing.agentstate import AgentState
from omniroute.routing.items import ASSIGNED, OFFERED, QUEUED, WRAPPING, Sig, WorkState
from omniroute.routing.policy import PoolPolicy, Selection
from omniroute.routing.readylist import ReadyList

__all__ = ["ASSIGNED", "OFFERED", "QUEUED", "WRAPPING", "AgentState", "Ended", "PoolState",
           "Sig", "WorkState", "need_key"]

Ended = tuple[str, float] | tuple[str, float, str | None, str | None]
"""How an agent's hold of work ended: (agent, time) when the work closed; (agent, time,
target agent, target pool) when the agent transferred it (target pool None: this pool)."""


def need_key(sig: Sig) -> tuple[str, ...]:
    """The names of the skills a group needs (sorted; empty: none): with its channel, how a
    freed agent finds the groups it may serve (it looks up the combinations of its own
    skill names) without looking at the others."""
    return tuple(name for name, _level in sig[1])


def _merged(lists: list[ReadyList]) -> Iterator[tuple[Any, ...]]:
    """The keys of sorted ``lists`` in order. The first costs one look at each list's
    head (the first agent usually fits); the full merge is built only when it does not."""
    yield min([ready.keys[0] for ready in lists])
    yield from islice(heapq.merge(*lists), 1, None)


def _slot(index: dict[frozenset[str], ReadyList], blocked: frozenset[str]) -> ReadyList:
    ready = index.get(blocked)
    if ready is None:
        ready = index[blocked] = ReadyList()
    return ready


@dataclass
class PoolState:
    """Everything one pool knows; mutated only by :func:`omniroute.routing.engine.decide`."""

    policy: PoolPolicy
    version: int = 0
    now: float = 0.0
    seq: int = 0
    fingerprint: str = ""
    config_version: int = 0
    open: bool = True
    open_checked_minute: int = -1
    agents: dict[str, AgentState] = field(default_factory=dict)
    work: dict[str, WorkState] = field(default_factory=dict)
    ready_by_room: dict[frozenset[str], ReadyList] = field(default_factory=dict)
    """Ready agents by the channels they have no room for (see :meth:`AgentState.blocked`),
    kept from the first input that needs no skill (``room_index``): in a pool where every
    route needs a skill, the largest lists would be updated at every offer for nothing.
    Whether it is kept never changes a decision (its content is the same either way)."""
    room_index: bool = False
    ready_by_skill: dict[str, dict[int, dict[frozenset[str], ReadyList]]] = field(
        default_factory=dict)
    """Ready agents by skill, level, then blocked channels."""
    holders: dict[tuple[str, int, str], list[ReadyList]] = field(default_factory=dict)
    """Cache: the lists of ``ready_by_skill`` that work needing (skill, level) on a channel
    looks at. Lists are never removed, so it is cleared only when a list is created."""
    groups: dict[Sig, SortedList] = field(default_factory=dict)
    sigs_by_pin: dict[str | None, set[Sig]] = field(default_factory=dict)
    sigs_by_need: dict[str, dict[tuple[str, ...], set[Sig]]] = field(default_factory=dict)
    """Unpinned groups by channel, then by the names of the skills they need."""
    need_sizes: dict[int, int] = field(default_factory=dict)
    """How many unpinned groups need 0, 1, 2 … skills."""
    timers: list[tuple[float, int, str, Any]] = field(default_factory=list)
    queued: int = 0
    fed: float = 0.0
    """The latest time stamp of an input that came through the repartition hop (not a
    tick): while that hop stalls, ``fed`` stands still and nobody is marked lost."""
    fed_timers: list[tuple[float, int, str, Any]] = field(default_factory=list)
    seen_routes: dict[str, float] = field(default_factory=OrderedDict)
    """Route request event ids applied within ``dedupe_s`` (oldest first): a repeat is ignored.
    Ordered dicts: forgetting the oldest entry is O(1) (a plain dict's first entry is found
    by skipping every slot deleted before it, O(entries within ``dedupe_s``) per input)."""
    moved: dict[str, tuple[str, float]] = field(default_factory=OrderedDict)
    closed: dict[str, Ended] = field(default_factory=OrderedDict)
    """Work whose agent's hold ended within ``dedupe_s`` (oldest first), by completion or
    transfer (:data:`Ended`): a resolve or a transfer the agent's app sends again (a retry
    whose first write landed) is ignored. Transfers share this table so that they are
    forgotten with it (a third and fourth field tell them apart from completions)."""
    today: dict[str, Any] = field(default_factory=dict)
    """Today's cumulative statistics (:mod:`omniroute.routing.stats`); never read by a rule."""
    """Work forwarded to another pool (overflow, transfer): later inputs for it follow it."""

    @property
    def pool(self) -> str:
        """The pool's name."""
        return self.policy.pool

    def next_seq(self) -> int:
        """A fresh sequence number (decisions, offers, timers share one counter)."""
        self.seq += 1
        return self.seq

    def arm(self, due: float, kind: str, ref: Any) -> None:
        """Schedule a timer; it fires at the first input at or after ``due``."""
        heapq.heappush(self.timers, (due, self.next_seq(), kind, ref))

    def arm_fed(self, due: float, kind: str, ref: Any) -> None:
        """Schedule a timer on the input clock ``fed`` (ticks alone never fire it)."""
        heapq.heappush(self.fed_timers, (due, self.next_seq(), kind, ref))

    # -- ready agents ---------------------------------------------------------

    def selection_key(self, agent: AgentState) -> tuple[Any, ...]:
        """The agent's place in ``ready`` under the pool's selection rule."""
        selection = self.policy.selection
        if selection is Selection.LEAST_OCCUPIED:
            total = agent.profile.capacity.total or 1
            return (agent.load / total, agent.idle_since, agent.profile.agent_id)
        if selection is Selection.ROUND_ROBIN:
            return (agent.rr_seq, agent.profile.agent_id)
        return (agent.idle_since, agent.profile.agent_id)  # longest idle; best match's tie-break

    @property
    def ready(self) -> list[tuple[Any, ...]]:
        """Every ready agent's key in selection order (O(agents), for rare pool-wide moves
        such as a drain at opening or after a configuration)."""
        if self.room_index:
            return list(heapq.merge(*self.ready_by_room.values()))
        return sorted(a.ready_key for a in self.agents.values() if a.ready_key is not None)

    def _index_rooms(self) -> None:
        """Start keeping ``ready_by_room`` (the first input that needs no skill asks for it)."""
        self.room_index = True
        for agent in self.agents.values():
            agent.slots = {}  # each blocked set's lists now include the room list
            if agent.ready_key is not None:
                room = _slot(self.ready_by_room, agent.ready_blocked)
                room.add(agent.ready_key)
                agent.ready_in = (room, *agent.ready_in)

    def refresh_ready(self, agent: AgentState) -> None:
        """Re-index an agent after its presence, load or idle time changed."""
        ready_now = (agent.presence == "available" and not agent.lost
                     and agent.load < agent.profile.capacity.total)
        old = agent.ready_key
        if ready_now:
            key, blocked = self.selection_key(agent), agent.blocked()
            if (key == old and blocked == agent.ready_blocked
                    and agent.slots_profile is agent.profile):
                return  # same place in the same lists (a release that changed no room)
        if old is not None:
            for ready in agent.ready_in:
                ready.remove(old)
            agent.ready_key, agent.ready_in = None, ()
        if ready_now:
            lists = agent.slots.get(blocked) if agent.slots_profile is agent.profile else None
            if lists is None:
                lists = self._slots(agent, blocked)
            for ready in lists:
                ready.add(key)
            agent.ready_key, agent.ready_blocked, agent.ready_in = key, blocked, lists

    def _slots(self, agent: AgentState, blocked: frozenset[str]) -> tuple[ReadyList, ...]:
        """The ready lists of an agent with ``blocked`` channels, created where missing."""
        if agent.slots_profile is not agent.profile:
            agent.slots, agent.slots_profile = {}, agent.profile
        lists = [_slot(self.ready_by_room, blocked)] if self.room_index else []
        by_skill = self.ready_by_skill
        for skill, level in agent.profile.skills.items():
            rooms = by_skill.setdefault(skill, {}).setdefault(level, {})
            ready = rooms.get(blocked)
            if ready is None:
                ready = rooms[blocked] = ReadyList()
                self.holders.clear()
            lists.append(ready)
        found = agent.slots[blocked] = tuple(lists)
        return found

    def clear_ready(self) -> None:
        """Empty the ready indexes (before the selection rule changes shape)."""
        self.ready_by_room.clear()
        self.ready_by_skill.clear()
        self.holders.clear()
        for agent in self.agents.values():
            agent.ready_key, agent.ready_in = None, ()
            agent.slots, agent.slots_profile = {}, None

    def ready_with(self, needs: tuple[tuple[str, int], ...],
                   channel: str) -> Iterable[tuple[Any, ...]]:
        """Ready agents' keys in selection order, narrowed to those with room for
        ``channel`` and, when skills are needed, to holders of the needed skill with the
        fewest such agents, at or above the level needed."""
        if not needs:
            if not self.room_index:
                self._index_rooms()
            best = [ready for blocked, ready in self.ready_by_room.items()
                    if ready.keys and channel not in blocked]
        elif len(needs) == 1:
            best = self._holders(needs[0], channel)
        else:
            best, best_size = [], -1
            for need in needs:
                lists = self._holders(need, channel)
                size = sum(len(ready) for ready in lists)
                if best_size < 0 or size < best_size:
                    best, best_size = lists, size
        if not best:
            return ()
        if len(best) == 1:
            only: Iterable[tuple[Any, ...]] = best[0]
            return only
        return _merged(best)

    def _holders(self, need: tuple[str, int], channel: str) -> list[ReadyList]:
        cached = self.holders.get((need[0], need[1], channel))
        if cached is None:
            skill, level = need
            levels = self.ready_by_skill.get(skill, {})
            cached = self.holders[skill, level, channel] = [
                ready for have, rooms in levels.items() if have >= level
                for blocked, ready in rooms.items() if channel not in blocked]
        return [ready for ready in cached if ready.keys]

    # -- waiting work ---------------------------------------------------------

    def enqueue(self, item: WorkState, needs: tuple[tuple[str, int], ...]) -> None:
        """Put ``item`` in the group of everything that needs what it needs."""
        pin = item.pin_agent if item.pin_agent and item.pin_until > self.now else None
        sig: Sig = (item.channel, needs, pin)
        key = (-item.priority, item.waiting_since, item.seq, item.work_id)
        group = self.groups.get(sig)
        if group is None:
            group = self.groups[sig] = SortedList()
            self.sigs_by_pin.setdefault(pin, set()).add(sig)
            if pin is None:
                by_skill = self.sigs_by_need.setdefault(sig[0], {})
                by_skill.setdefault(need_key(sig), set()).add(sig)
                self.need_sizes[len(needs)] = self.need_sizes.get(len(needs), 0) + 1
        group.add(key)
        item.sig, item.queue_key, item.status = sig, key, QUEUED
        self.queued += 1

    def dequeue(self, item: WorkState) -> None:
        """Take ``item`` out of its group (it is being offered, dropped or moved)."""
        if item.sig is None:
            return
        group = self.groups[item.sig]
        group.remove(item.queue_key)
        if not group:
            del self.groups[item.sig]
            pinned = self.sigs_by_pin[item.sig[2]]
            pinned.discard(item.sig)
            if not pinned:
                del self.sigs_by_pin[item.sig[2]]
            if item.sig[2] is None:
                by_skill = self.sigs_by_need[item.sig[0]]
                needing = by_skill[need_key(item.sig)]
                needing.discard(item.sig)
                if not needing:
                    del by_skill[need_key(item.sig)]
                    if not by_skill:
                        del self.sigs_by_need[item.sig[0]]
                size = len(item.sig[1])
                self.need_sizes[size] -= 1
                if not self.need_sizes[size]:
                    del self.need_sizes[size]
        item.sig, item.queue_key = None, None
        self.queued -= 1
