"""Expected wait from live queue state, rounded and capped the way Intercom words it.

Position-based estimate (support-metrics.md section 4):
``EWT = (position - free_slots) x AHT / (agents x concurrency_factor)``; zero
when a free slot is already waiting for this customer. The concurrency factor
is the callcentrehelper table (2 chats ~ 1.7 agents' worth, not 2). Words:
under a minute "in a moment"; up to an hour whole minutes rounded *up* (to 5
past 10 minutes); up to 4 hours whole hours rounded up; beyond that "later".
"""

from __future__ import annotations

import math
from dataclasses import dataclass

CONCURRENCY_FACTOR = {1: 1.0, 2: 1.7, 3: 2.5, 4: 2.9, 5: 3.5}
CAP_SECONDS = 4 * 3600


def concurrency_factor(max_concurrent: int) -> float:
    """How many single-chat agents an agent holding ``max_concurrent`` chats is worth."""
    if max_concurrent <= 1:
        return 1.0
    return CONCURRENCY_FACTOR.get(max_concurrent, 3.5 + 0.5 * (max_concurrent - 5))


@dataclass(frozen=True)
class QueueState:
    """What the queue looks like to one waiting customer."""

    position: int
    """1 = next in line."""
    agents_available: int
    free_slots: int
    concurrency: int
    handle_time_s: float


def expected_wait(queue: QueueState) -> float | None:
    """Seconds until an agent answers, or None when no agent is available to estimate from."""
    if queue.free_slots >= queue.position:
        return 0.0
    if queue.agents_available <= 0:
        return None
    servers = queue.agents_available * concurrency_factor(queue.concurrency)
    return (queue.position - queue.free_slots) * queue.handle_time_s / servers


@dataclass(frozen=True)
class Wait:
    """A rounded wait: a unit (moment, minutes, hours, later) and a count."""

    unit: str
    count: int = 0


def round_wait(seconds: float | None) -> Wait:
    """Intercom-style wording: up to whole minutes or hours, ``later`` from 4 h (or unknown)."""
    if seconds is None or seconds >= CAP_SECONDS:
        return Wait("later")
    if seconds < 60:
        return Wait("moment")
    if seconds < 3600:
        minutes = math.ceil(seconds / 60)
        if minutes > 10:
            minutes = min(60, math.ceil(minutes / 5) * 5)
        return Wait("hours", 1) if minutes == 60 else Wait("minutes", minutes)
    return Wait("hours", math.ceil(seconds / 3600))


WORDS = {
    "en": {"moment": "in a moment", "minutes": "in about {n} minute{s}",
           "hours": "in about {n} hour{s}", "later": "later today"},
    "ko": {"moment": "곧", "minutes": "약 {n}분 안에", "hours": "약 {n}시간 안에",
           "later": "오늘 중으로"},
    "ja": {"moment": "まもなく", "minutes": "約{n}分以内に", "hours": "約{n}時間以内に",
           "later": "本日中に"},
    "zh": {"moment": "马上", "minutes": "大约{n}分钟内", "hours": "大约{n}小时内",
           "later": "今天晚些时候"},
    "es": {"moment": "en un momento", "minutes": "en unos {n} minuto{s}",
           "hours": "en unas {n} hora{s}", "later": "más tarde hoy"},
}


def describe_wait(wait: Wait, language: str) -> str:
    """The rounded wait in words, in ``language`` (English if unknown)."""
    words = WORDS.get(language, WORDS["en"])[wait.unit]
    return words.format(n=wait.count, s="" if wait.count == 1 else "s")
