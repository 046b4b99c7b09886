"""One agent's state in a pool: presence, load, holdings and where the ready indexes hold
them (owned by :class:`omniroute.routing.state.PoolState`)."""

from __future__ import annotations

from typing import Any

from omniroute.routing.policy import AgentProfile
from omniroute.routing.readylist import ReadyList

NONE_BLOCKED: frozenset[str] = frozenset()


class AgentState:
    """One agent's presence, load and holdings."""

    __slots__ = ("fed_armed", "heard", "held", "idle_since", "last_seen", "load", "lost",
                 "per_channel", "presence", "profile", "ready_blocked", "ready_in", "ready_key",
                 "rr_seq", "slots", "slots_profile", "timer_armed")

    def __init__(self, profile: AgentProfile, now: float) -> None:
        self.profile = profile
        self.presence = "offline"
        self.heard = False
        """Whether this pool has heard the agent's presence since she joined it (a presence
        event, or the router setting her away); until then a heartbeat's presence is hers."""
        self.lost = False
        self.last_seen = now
        self.load = 0
        self.per_channel: dict[str, int] = {}
        self.held: dict[str, str] = {}
        self.idle_since = now
        self.rr_seq = 0
        self.ready_key: tuple[Any, ...] | None = None
        self.ready_in: tuple[ReadyList, ...] = ()
        """The ready lists holding ``ready_key`` (by room, then one per skill)."""
        self.ready_blocked: frozenset[str] = NONE_BLOCKED
        self.slots: dict[frozenset[str], tuple[ReadyList, ...]] = {}
        """Cache: the lists the agent goes in when ready with those channels blocked, for
        ``slots_profile`` (a new profile, e.g. other skills, starts a new cache)."""
        self.slots_profile: AgentProfile | None = None
        self.timer_armed = False
        self.fed_armed = False

    def fits(self, channel: str) -> bool:
        """Whether one more conversation on ``channel`` stays within every limit."""
        capacity = self.profile.capacity  # (inlined weight and cap: the hottest check)
        rule = capacity.channels.get(channel)
        if rule is None:
            return self.load < capacity.total
        if self.load + rule.weight > capacity.total:
            return False
        return rule.cap is None or self.per_channel.get(channel, 0) < rule.cap

    def blocked(self) -> frozenset[str]:
        """The configured channels the agent has no room for now. A channel without a rule
        weighs 1 and has no cap, so an agent below total capacity always fits it."""
        capacity = self.profile.capacity
        if not capacity.channels:
            return NONE_BLOCKED
        room, per_channel = capacity.total - self.load, self.per_channel
        blocked = [channel for channel, rule in capacity.channels.items()
                   if rule.weight > room or (rule.cap is not None
                                             and per_channel.get(channel, 0) >= rule.cap)]
        return frozenset(blocked) if blocked else NONE_BLOCKED

    def skilled(self, needs: tuple[tuple[str, int], ...]) -> bool:
        """Whether the agent meets every (skill, minimum level) in ``needs``."""
        skills = self.profile.skills
        for name, level in needs:  # noqa: SIM110 (all() over a generator costs twice this)
            if skills.get(name, -1) < level:
                return False
        return True
