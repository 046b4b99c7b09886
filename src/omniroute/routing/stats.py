"""Queue and agent statistics of a pool, real-time and cumulative (pure).

Like TaskRouter's TaskQueue statistics: **real-time** figures are read off the
pool's state when asked (waiting work, longest wait, agents by presence, per
queue), **cumulative** ones are counters folded from the pool's decisions since
the start of the pool's *local day* (the business hours' time zone, else UTC):
offered, assigned, abandoned (canceled before an agent had it), overflowed,
parked, transferred, declined and timed-out offers, average and longest wait of
assigned work. The counters are part of the pool's state (replays and snapshots
reproduce them) and never influence a decision.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from omniroute.routing.events import OFFER_RENEWED, Decision, Kind
from omniroute.routing.policy import QUEUE_PREFIX
from omniroute.routing.state import ASSIGNED, OFFERED, QUEUED, WRAPPING, PoolState

COUNTERS = ("offered", "assigned", "abandoned", "overflowed", "parked", "transferred",
            "declined", "timed_out", "wait_count")
SIMPLE = {Kind.OFFERED: "offered", Kind.DROPPED: "abandoned", Kind.PARKED: "parked",
          Kind.TRANSFERRED: "transferred"}
RESCINDED = {"offer declined": "declined", "offer timed out": "timed_out"}
NOT_OVERFLOW = ("conversation lives in another pool", "transfer", "agent moved to another pool")


def _zone(state: PoolState) -> ZoneInfo:
    hours = state.policy.business_hours
    return ZoneInfo(hours.timezone if hours else "UTC")


def _start_day(state: PoolState) -> None:
    """Zero the counters for the local day containing ``state.now``."""
    local = datetime.fromtimestamp(state.now, UTC).astimezone(_zone(state))
    midnight = datetime(local.year, local.month, local.day, tzinfo=local.tzinfo)
    following = midnight + timedelta(days=1)  # wall-clock arithmetic: the next local midnight
    state.today = {"day": local.date().isoformat(), "until": following.timestamp(),
                   **dict.fromkeys(COUNTERS, 0), "wait_total_s": 0.0, "wait_max_s": 0.0}


def record(state: PoolState, decisions: Iterable[Decision]) -> None:
    """Fold one input's decisions into today's counters (a new local day starts at zero)."""
    today = state.today
    if not today or state.now >= today["until"]:
        _start_day(state)
        today = state.today
    for d in decisions:
        kind = d.kind
        name = SIMPLE.get(kind)
        if name is not None:
            if d.rule != OFFER_RENEWED:  # the same offer, announced again
                today[name] += 1
        elif kind is Kind.ASSIGNED:
            waited = d.inputs.get("waited_s")
            if waited is None:  # reopened during wrap-up: not a new assignment
                continue
            today["assigned"] += 1
            if d.rule.endswith("auto-accept"):
                today["offered"] += 1
            today["wait_count"] += 1
            today["wait_total_s"] += waited
            if waited > today["wait_max_s"]:
                today["wait_max_s"] = waited
        elif kind is Kind.RESCINDED:
            name = RESCINDED.get(d.rule)
            if name is not None:
                today[name] += 1
        elif kind is Kind.FORWARDED and d.rule not in NOT_OVERFLOW:
            today["overflowed"] += 1


def pool_stats(state: PoolState, now: float) -> dict[str, Any]:
    """Real-time and cumulative statistics of the pool at wall-clock ``now`` (a scan of
    agents and work: for a supervisor's view every few seconds, not per input)."""
    waiting: Counter[str | None] = Counter()
    oldest: dict[str | None, float] = {}
    in_progress = offered = 0
    urgent: list[tuple[int, float, str]] = []
    for item in state.work.values():
        if item.priority and item.status in (QUEUED, OFFERED):
            urgent.append((-item.priority, item.waiting_since, item.work_id))
        if item.status == QUEUED:
            queue = state.policy.target_queue(item.target_step)
            waiting[queue] += 1
            if queue not in oldest or item.waiting_since < oldest[queue]:
                oldest[queue] = item.waiting_since
        elif item.status == OFFERED:
            offered += 1
        elif item.status in (ASSIGNED, WRAPPING):
            in_progress += 1
    agents: Counter[str] = Counter()
    by_queue: dict[str, Counter[str]] = {}
    free_slots, capacities = 0, []
    for agent in state.agents.values():
        total = agent.profile.capacity.total
        status = _status(agent.lost, agent.presence, agent.load, total)
        agents[status] += 1
        if status in ON_DUTY:
            free_slots += max(0, total - agent.load)
            capacities.append(total)
        for skill in agent.profile.skills:
            if skill.startswith(QUEUE_PREFIX):
                by_queue.setdefault(skill[len(QUEUE_PREFIX):], Counter())[status] += 1
    today = dict(state.today) if state.today else {}
    count = today.pop("wait_count", 0)
    total = today.pop("wait_total_s", 0.0)
    today.pop("until", None)
    today["average_wait_s"] = round(total / count, 3) if count else None
    today["longest_wait_s"] = round(today.pop("wait_max_s", 0.0), 3)
    first = min(oldest.values()) if oldest else None
    queues = sorted(set(by_queue) | {q for q in waiting if q is not None})
    return {
        "pool": state.pool, "open": state.open, "as_of": state.now, "policy_version":
        state.version, "waiting": sum(waiting.values()), "longest_wait_s": _age(now, first),
        "offered": offered, "in_progress": in_progress, "agents": _presences(agents),
        "staffing": {"available": len(capacities), "free_slots": free_slots,
                     "concurrency": round(statistics.median(capacities)) if capacities else 1},
        "queues": {q: {"waiting": waiting.get(q, 0), "longest_wait_s": _age(now, oldest.get(q)),
                       "agents": _presences(by_queue.get(q, Counter()))} for q in queues},
        "today": today,
        # what no event tells: the priority of work that only queues (history learns a
        # conversation's priority from its offers), for the supervisor's board
        "priorities": {work: -negated for negated, _, work in sorted(urgent)[:PRIORITIES_MAX]},
        "priorities_complete": len(urgent) <= PRIORITIES_MAX,
    }


PRIORITIES_MAX = 500
"""At most this many conversations' priorities in a pool's published figures (the most urgent,
then the longest waiting): a record stays small however long the queue."""

STATUSES = ("available", "idle", "full", "busy", "away", "offline", "lost")
ON_DUTY = frozenset(("available", "idle", "full"))
"""Agents whose presence is available (not lost), whatever their load."""


TRUSTED_S = 15.0
"""Readers of the published statistics count a router's figures of a pool for this long
after ``published_at`` (routers publish every 2 s); older ones are of a pool no router
publishes any more (retired, or moved to a router that has not published yet)."""


@dataclass(frozen=True)
class PublishedStaffing:
    """A router's published staffing of one pool: what expected waits and the web chat's
    offer of chat (or the offline form) are decided from."""

    published_at: float
    waiting: int
    available: int
    """Agents on duty: presence available (at capacity or not), not lost."""
    free_slots: int
    concurrency: int
    """Median capacity of the agents on duty."""
    observed: float | None = None
    """When the router took the figures (``observed_at``, its wall clock; up to 2 s before
    ``published_at``): a presence change or a conversation after it is not in them. Not
    ``as_of``, the pool's own clock: that is its inputs' times, which stand still while
    nothing happens in the pool and lag a message's arrival by its provider's delay (the
    CI told a customer "in about 3 minutes" with a slot free when the worker compared it)."""

    @property
    def observed_at(self) -> float:
        """``observed``, or ``published_at`` for a router of a version that did not say."""
        return self.published_at if self.observed is None else self.observed

    def trusted(self, now: float) -> bool:
        """Whether the figures are recent enough to count at ``now`` (:data:`TRUSTED_S`)."""
        return now - self.published_at <= TRUSTED_S


def published_staffing(doc: Any) -> PublishedStaffing | None:
    """The staffing of one published record (``pool_stats`` with ``published_at``); None
    for a record without (a router of an older version) or one that is not figures."""
    if not isinstance(doc, dict) or not isinstance(staffing := doc.get("staffing"), dict):
        return None
    try:
        return PublishedStaffing(published_at=float(doc["published_at"]),
                                 waiting=int(doc.get("waiting") or 0),
                                 available=int(staffing["available"]),
                                 free_slots=int(staffing.get("free_slots") or 0),
                                 concurrency=int(staffing.get("concurrency") or 1),
                                 observed=float(doc["observed_at"])
                                 if doc.get("observed_at") else None)
    except (KeyError, TypeError, ValueError):
        return None


def _status(lost: bool, presence: str, load: int, total: int) -> str:
    if lost:
        return "lost"
    if presence == "available":
        return "idle" if load == 0 else "available" if load < total else "full"
    return presence


def _presences(counts: Counter[str]) -> dict[str, int]:
    return {status: counts.get(status, 0) for status in STATUSES}


def _age(now: float, since: float | None) -> float:
    return round(max(0.0, now - since), 3) if since is not None else 0.0
