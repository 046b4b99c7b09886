"""One agent's presence and engagements → online, chatting and engaged seconds per interval (pure).

*Online* is presence ``available`` or ``busy``; an *engagement* is a
conversation assigned to the agent (assigned → completed or revoked). Per
15-minute interval this yields ``online_s`` (time online), ``chatting_s``
(online with at least one engagement) and ``engaged_s`` (the integral of the
number of engagements while online). Concurrency, occupancy and agents online
versus chatting derive from those three sums; utilization from ``engaged_s`` of
the steps :func:`load_steps` weighs (``load_s``: each conversation counted by the
capacity units it takes).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

INTERVAL = timedelta(minutes=15)
ONLINE = ("available", "busy")


def interval_start(at: datetime) -> datetime:
    """The start of the 15-minute interval holding ``at``."""
    return at.replace(minute=at.minute - at.minute % 15, second=0, microsecond=0)


@dataclass(frozen=True)
class AgentInterval:
    """What one agent did in one interval."""

    start: datetime
    online_s: float
    chatting_s: float
    engaged_s: float


def agent_intervals(presence: list[tuple[datetime, str]], engagements: list[tuple[datetime, int]],
                    since: datetime, until: datetime,
                    initial_presence: str = "offline",
                    initial_engagements: int = 0) -> list[AgentInterval]:
    """Per interval from ``interval_start(since)`` up to ``until``.

    ``presence`` are changes (at, presence); ``engagements`` are (at, +1 or -1)
    steps; both may include points before ``since`` (they set the starting state).
    """
    start = interval_start(since)
    changes = sorted([(at, 0, p) for at, p in presence] + [(at, 1, d) for at, d in engagements],
                     key=lambda x: (x[0], x[1]))
    state_presence, count = initial_presence, initial_engagements
    for at, kind, value in changes:
        if at > start:
            break
        state_presence, count = _apply(state_presence, count, kind, value)
    later = [c for c in changes if c[0] > start]
    out: list[AgentInterval] = []
    cursor = start
    sums = [0.0, 0.0, 0.0]
    index = 0
    boundary = start + INTERVAL
    while cursor < until:
        next_change = later[index][0] if index < len(later) else None
        stop = min(x for x in (boundary, until, next_change) if x is not None)
        span = (stop - cursor).total_seconds()
        if state_presence in ONLINE:
            sums[0] += span
            sums[1] += span if count > 0 else 0.0
            sums[2] += span * count
        cursor = stop
        while index < len(later) and later[index][0] <= cursor:
            _, kind, value = later[index]
            state_presence, count = _apply(state_presence, count, kind, value)
            index += 1
        if cursor >= boundary or cursor >= until:
            if any(sums):
                out.append(AgentInterval(boundary - INTERVAL, *sums))
            sums = [0.0, 0.0, 0.0]
            boundary += INTERVAL if cursor >= boundary else timedelta(0)
    return out


def load_steps(assignments: list[tuple[datetime, str, str | None, str]],
               weight: Callable[[str], int]) -> list[tuple[datetime, int]]:
    """(at, +units or -units) steps of ``assignments`` (at, kind, conversation, channel):
    ``assigned`` adds the weight of its channel, ``completed``/``revoked`` take off what
    the conversation's assignment added (its own channel's weight when that is older)."""
    held: dict[str | None, int] = {}
    steps = []
    for at, kind, conversation, channel in assignments:
        if kind == "assigned":
            held[conversation] = weight(channel)
            steps.append((at, held[conversation]))
        else:
            steps.append((at, -held.pop(conversation, weight(channel))))
    return steps


def _apply(presence: str, count: int, kind: int, value: object) -> tuple[str, int]:
    if kind == 0:
        return str(value), count
    return presence, max(0, count + int(value))  # type: ignore[call-overload]
