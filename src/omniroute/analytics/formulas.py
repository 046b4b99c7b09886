"""Metric formulas on plain numbers (pure): percentiles, rates, CSAT, NPS, business hours.

Percentiles interpolate linearly between closest ranks, exactly as
PostgreSQL's ``percentile_cont`` does, so a figure computed here and one
computed in SQL agree to the last digit.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q`` quantile (0..1) by linear interpolation (``percentile_cont``); None if empty."""
    if not values:
        return None
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def mean(values: Sequence[float]) -> float | None:
    """Arithmetic mean; None if empty."""
    return sum(values) / len(values) if values else None


def ratio(part: float, whole: float) -> float | None:
    """``part / whole``; None when nothing was counted (a rate of nothing is unknown, not 0)."""
    return part / whole if whole else None


def csat_score(scores: Sequence[int]) -> float | None:
    """CSAT on a 1-5 scale: share of ratings 4 or 5 among rated conversations (0..1)."""
    return ratio(sum(1 for s in scores if s >= 4), len(scores))


def csat_thumbs(good: int, bad: int) -> float | None:
    """CSAT on thumbs: good / (good + bad)."""
    return ratio(good, good + bad)


def nps(scores: Sequence[int]) -> float | None:
    """Net promoter score on 0-10 answers: % promoters (9-10) - % detractors (0-6)."""
    if not scores:
        return None
    promoters = sum(1 for s in scores if s >= 9)
    detractors = sum(1 for s in scores if s <= 6)
    return 100.0 * (promoters - detractors) / len(scores)


def summary(values: Sequence[float]) -> dict[str, float | int | None]:
    """count, mean, median and p90 of a list of durations."""
    return {"count": len(values), "mean": mean(values), "median": percentile(values, 0.5),
            "p90": percentile(values, 0.9)}


@dataclass(frozen=True)
class OfficeHours:
    """Weekly office hours in a time zone: weekday (0 = Monday) -> [(start, end) minutes]."""

    timezone: str = "UTC"
    weekly: Mapping[int, tuple[tuple[int, int], ...]] = field(
        default_factory=lambda: {d: ((9 * 60, 17 * 60),) for d in range(5)})

    @classmethod
    def parse(cls, text: str) -> OfficeHours:
        """``"mon-fri 09:00-17:00 Europe/Berlin"`` (days ``mon``..``sun``, a range or a list)."""
        days_part, hours_part, *zone = text.split()
        names = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
        days: list[int] = []
        for chunk in days_part.lower().split(","):
            first, _, last = chunk.partition("-")
            a, b = names.index(first), names.index(last or first)
            days.extend(range(a, b + 1))
        start, _, end = hours_part.partition("-")
        span = (_minutes(start), _minutes(end))
        ZoneInfo(zone[0] if zone else "UTC")  # an unknown zone fails here, at parse time
        return cls(zone[0] if zone else "UTC", {d: (span,) for d in days})

    def seconds_between(self, start: datetime, end: datetime) -> float:
        """Seconds of ``[start, end)`` that fall inside office hours."""
        if end <= start:
            return 0.0
        zone = ZoneInfo(self.timezone)
        local_start, local_end = start.astimezone(zone), end.astimezone(zone)
        day = local_start.replace(hour=0, minute=0, second=0, microsecond=0)
        total = 0.0
        while day < local_end:
            for open_min, close_min in self.weekly.get(day.weekday(), ()):
                opens = day + timedelta(minutes=open_min)
                closes = day + timedelta(minutes=close_min)
                overlap = min(closes, local_end) - max(opens, local_start)
                total += max(0.0, overlap.total_seconds())
            day = (day + timedelta(days=1, hours=2)).replace(hour=0)  # DST-safe next midnight
        return total


def _minutes(clock: str) -> int:
    hours, _, minutes = clock.partition(":")
    return int(hours) * 60 + int(minutes or 0)
