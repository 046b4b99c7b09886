"""SLA policies (pure): first-reply, next-reply and resolution targets, business-hours aware.

A policy applies to a pool (or every pool) from a priority up; the most
specific one wins (named pool over any pool, then the highest ``min_priority``).
Clocks follow Chatwoot's model (support-metrics.md 1.3): first reply from the
conversation's start to the first human reply; next reply from each customer
message after that to the next human reply; resolution from start to resolve.
With ``business_hours`` only open time counts (the pool's hours). At
``warn_at`` x target a warning fires (priority boost, ``sla_warning`` rules);
past the target a breach fires, once per kind.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field

from omniroute.routing.policy import BusinessHours

KINDS = ("first_reply", "next_reply", "resolution")
MAX_DAYS = 62


@dataclass(frozen=True)
class SlaPolicy:
    """Targets in seconds (None: no target of that kind)."""

    name: str
    pool: str | None = None
    min_priority: int = 0
    first_reply_s: float | None = None
    next_reply_s: float | None = None
    resolution_s: float | None = None
    business_hours: bool = True
    warn_at: float = 0.8
    boost: int = 20

    def target(self, kind: str) -> float | None:
        """The target of ``kind`` in seconds."""
        value: float | None = getattr(self, f"{kind}_s")
        return value


def parse_policies(raw: Iterable[Mapping[str, Any]]) -> tuple[SlaPolicy, ...]:
    """Policies from their TOML tables (``first_reply_minutes`` etc.)."""
    policies = []
    for item in raw:
        minutes = {f"{k}_s": float(item[f"{k}_minutes"]) * 60 for k in KINDS
                   if f"{k}_minutes" in item}
        policies.append(SlaPolicy(
            name=str(item["name"]), pool=item.get("pool"),
            min_priority=int(item.get("min_priority", 0)),
            business_hours=bool(item.get("business_hours", True)),
            warn_at=float(item.get("warn_at", 0.8)), boost=int(item.get("boost", 20)),
            **minutes))
    return tuple(policies)


def choose_policy(policies: Iterable[SlaPolicy], pool: str | None,
                  priority: int) -> SlaPolicy | None:
    """The most specific policy for this pool and priority."""
    fitting = [p for p in policies
               if (p.pool is None or p.pool == pool) and priority >= p.min_priority]
    if not fitting:
        return None
    return max(fitting, key=lambda p: (p.pool is not None, p.min_priority))


class SlaClock(BaseModel):
    """One conversation's SLA clocks."""

    policy: str
    pool: str | None = None
    started_at: datetime
    first_reply_at: datetime | None = None
    awaiting_since: datetime | None = None
    resolved_at: datetime | None = None
    warned: list[str] = Field(default_factory=list)
    breached: list[str] = Field(default_factory=list)


def open_seconds(hours: BusinessHours | None, start: datetime, end: datetime) -> float:
    """Seconds between ``start`` and ``end`` that fall within ``hours`` (all, without hours)."""
    if end <= start:
        return 0.0
    if hours is None:
        return (end - start).total_seconds()
    zone = ZoneInfo(hours.timezone)
    local_start, local_end = start.astimezone(zone), end.astimezone(zone)
    total = 0.0
    day = local_start.date()
    for _ in range(MAX_DAYS):
        if day > local_end.date():
            break
        midnight = datetime(day.year, day.month, day.day, tzinfo=zone)
        for open_m, close_m in hours.weekly.get(day.weekday(), ()):
            window_start = max(local_start, midnight + timedelta(minutes=open_m))
            window_end = min(local_end, midnight + timedelta(minutes=close_m))
            if window_end > window_start:
                total += (window_end - window_start).total_seconds()
        day += timedelta(days=1)
    return total


@dataclass(frozen=True)
class SlaSignal:
    """A warning or a breach of one target."""

    kind: str
    state: str
    """``warning`` or ``breached``."""
    elapsed_s: float
    target_s: float


def _running(clock: SlaClock, kind: str, now: datetime) -> tuple[datetime, datetime] | None:
    if kind == "first_reply":
        return clock.started_at, clock.first_reply_at or clock.resolved_at or now
    if kind == "next_reply":
        if clock.awaiting_since is None or clock.first_reply_at is None:
            return None
        return clock.awaiting_since, clock.resolved_at or now
    return clock.started_at, clock.resolved_at or now


def check(clock: SlaClock, policy: SlaPolicy, hours: BusinessHours | None,
          now: datetime) -> list[SlaSignal]:
    """Signals not yet given: warnings near each target, breaches past it."""
    signals = []
    for kind in KINDS:
        target = policy.target(kind)
        span = _running(clock, kind, now)
        if target is None or span is None or kind in clock.breached:
            continue
        elapsed = open_seconds(hours if policy.business_hours else None, *span)
        if elapsed > target:
            signals.append(SlaSignal(kind, "breached", elapsed, target))
        elif elapsed >= target * policy.warn_at and kind not in clock.warned:
            signals.append(SlaSignal(kind, "warning", elapsed, target))
    return signals


def record(clock: SlaClock, signals: Iterable[SlaSignal]) -> SlaClock:
    """The clock remembering ``signals`` (each is given once)."""
    warned, breached = list(clock.warned), list(clock.breached)
    for signal in signals:
        (breached if signal.state == "breached" else warned).append(signal.kind)
    return clock.model_copy(update={"warned": warned, "breached": breached})
