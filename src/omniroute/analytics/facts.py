"""One conversation's history → metric samples (pure).

A *sample* is one observation of one metric at one instant: a first response
time of 65 s at 09:01, a ``1`` for a conversation resolved on first contact at
09:40. Interval aggregates are sums and counts of samples, so every metric is
defined exactly once, here, and documented in ``docs/analytics.md``. Binary
metrics (FCR, abandoned, CSAT positive...) are samples of 0 or 1: their rate
is the mean.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from omniroute.analytics import kinds
from omniroute.analytics.formulas import OfficeHours


@dataclass(frozen=True)
class Conversation:
    """The conversation row's dimensions."""

    conversation_id: str
    workspace: str
    opened_at: datetime
    channel: str = ""
    pool: str = ""
    language: str = ""
    intent: str = ""


@dataclass(frozen=True)
class Event:
    """A ``conversation_events`` row."""

    at: datetime
    kind: str
    agent_id: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class Message:
    """A message: ``inbound`` from the customer, or ``outbound`` with its author kind."""

    at: datetime
    direction: str
    author_kind: str | None = None
    author_id: str | None = None

    @property
    def human(self) -> bool:
        """Written by a human agent (bots and automatic messages are not)."""
        if self.direction != "outbound":
            return False
        if self.author_kind is None:
            return self.author_id is not None
        return self.author_kind in kinds.HUMAN_AUTHORS

    @property
    def bot(self) -> bool:
        """Written by a bot with an id (the answer bot is ``answer-bot``). Automatic messages
        (acknowledgement, out-of-office, survey) are authored ``bot`` without an id: counted
        as the bot's, every conversation's funnel path went through the bot (a user run's
        report showed 308 conversations with the bot, which had answered three)."""
        return (self.direction == "outbound" and self.author_kind == "bot"
                and self.author_id is not None)


@dataclass(frozen=True)
class Assignment:
    """An ``assignments`` row: ``assigned``, ``completed``, ``revoked``... for one agent."""

    at: datetime
    kind: str
    agent_id: str


@dataclass(frozen=True)
class Sample:
    """One observation of ``metric`` at ``at`` (``agent`` overrides the conversation's agent)."""

    metric: str
    at: datetime
    value: float
    agent: str = ""
    detail: str = ""


@dataclass(frozen=True)
class History:
    """Everything analytics reads about one conversation."""

    conversation: Conversation
    events: tuple[Event, ...] = ()
    messages: tuple[Message, ...] = ()
    assignments: tuple[Assignment, ...] = ()
    ratings: tuple[tuple[datetime, int], ...] = ()
    now: datetime | None = None
    short_abandon_s: float = 10.0
    hours: OfficeHours = field(default_factory=OfficeHours)


def _seconds(a: datetime, b: datetime) -> float:
    return (b - a).total_seconds()


def samples(h: History) -> list[Sample]:
    """Every metric sample one conversation yields (see ``docs/analytics.md``)."""
    c = h.conversation
    events = sorted(h.events, key=lambda e: e.at)
    messages = sorted(h.messages, key=lambda m: m.at)
    out = [Sample("conversations", c.opened_at, 1.0)]
    resolves = [e for e in events if e.kind in kinds.RESOLVED]
    reopened = [e for e in events if e.kind in kinds.REOPENED]
    is_resolved = bool(resolves) and (not reopened or reopened[-1].at <= resolves[-1].at)
    humans = {m.author_id or "?" for m in messages if m.human}
    present = {e.kind for e in events}
    automated = not humans and bool(present & set(kinds.BOT_RESOLVED + kinds.ARTICLE))
    out += _responses(h, messages)
    if not automated:
        out += _queue(h, events, messages)
    out += _resolution(h, events, resolves, is_resolved, humans)
    out += _outcomes(h, events, messages, humans, is_resolved)
    return out


def _responses(h: History, messages: list[Message]) -> list[Sample]:
    """First response time (wall-clock and office hours) and next reply times."""
    out: list[Sample] = []
    waiting_since: datetime | None = None
    first_done = False
    for m in messages:
        if m.direction == "inbound":
            waiting_since = waiting_since or m.at
        elif m.human and waiting_since is not None:
            agent = m.author_id or ""
            if not first_done:
                out.append(Sample("frt", waiting_since, _seconds(waiting_since, m.at), agent))
                out.append(Sample("frt_business", waiting_since,
                                  h.hours.seconds_between(waiting_since, m.at), agent))
                first_done = True
            else:
                out.append(Sample("next_reply", waiting_since, _seconds(waiting_since, m.at),
                                  agent))
            waiting_since = None
    return out


def _queue(h: History, events: list[Event], messages: list[Message]) -> list[Sample]:
    """Queue waits (entry → assigned), abandonment with the short-abandon threshold, missed."""
    out: list[Sample] = []
    ends = sorted([e.at for e in events if e.kind in kinds.RESOLVED + kinds.ENDED_WAITING])
    entry: datetime | None = h.conversation.opened_at
    timeline = sorted([(a.at, a.kind, a.agent_id) for a in h.assignments]
                      + [(e.at, "requeue", "") for e in events if e.kind in kinds.REOPENED])
    for at, kind, agent in timeline:
        if kind == "assigned" and entry is not None:
            out.append(Sample("queue_wait", entry, _seconds(entry, at), agent))
            out.append(Sample("abandoned", entry, 0.0))
            entry = None
        elif kind in ("revoked", "requeue") and entry is None:
            entry = at
    if entry is not None:
        left = next((t for t in ends if t >= entry), None)
        if left is not None and _seconds(entry, left) >= h.short_abandon_s:
            out.append(Sample("abandoned", entry, 1.0))
    customer = [m for m in messages if m.direction == "inbound"]
    if customer:
        replied = any(m.human for m in messages)
        if replied or ends:
            out.append(Sample("missed", h.conversation.opened_at, 0.0 if replied else 1.0))
    return out


def _resolution(h: History, events: list[Event], resolves: list[Event], is_resolved: bool,
                humans: set[str]) -> list[Sample]:
    """Resolution times, chat duration, handle time under concurrency, FCR, human-resolved."""
    if not resolves:
        return []
    opened = h.conversation.opened_at
    out = [Sample("resolution_first", resolves[0].at, _seconds(opened, resolves[0].at))]
    if not is_resolved:
        return out
    last = resolves[-1].at
    out.append(Sample("resolution_last", last, _seconds(opened, last)))
    served = [a.at for a in h.assignments if a.kind == "assigned"]
    if served:
        out.append(Sample("chat_duration", last, _seconds(min(served), last)))
    for agent, seconds in sorted(_handle_times(h.assignments, last).items()):
        out.append(Sample("handle_time", last, seconds, agent))
    out.append(Sample("fcr", last, 1.0 if len(resolves) == 1 and len(humans) == 1 else 0.0))
    out.append(Sample("human_resolved", last, 1.0 if humans else 0.0))
    return out


def _handle_times(assignments: tuple[Assignment, ...], closed: datetime) -> dict[str, float]:
    """Per agent: seconds the conversation was open and assigned to them (Intercom)."""
    since: dict[str, datetime] = {}
    total: dict[str, float] = {}
    for a in sorted(assignments, key=lambda a: a.at):
        if a.kind == "assigned":
            since.setdefault(a.agent_id, a.at)
        elif a.kind in ("completed", "revoked") and a.agent_id in since:
            start = since.pop(a.agent_id)
            total[a.agent_id] = total.get(a.agent_id, 0.0) + _seconds(start, min(a.at, closed))
    for agent, start in since.items():
        total[agent] = total.get(agent, 0.0) + max(0.0, _seconds(start, closed))
    return total


def _outcomes(h: History, events: list[Event], messages: list[Message], humans: set[str],
              is_resolved: bool) -> list[Sample]:
    """Transfers, CSAT, surveys, SLA, bot and article resolution, parked, the funnel path."""
    c = h.conversation
    out = [Sample("transfers", e.at, 1.0, e.agent_id or "") for e in events
           if e.kind in kinds.TRANSFERRED]
    out += [Sample("parked", e.at, 1.0) for e in events if e.kind in kinds.PARKED]
    out += [Sample("survey_sent", e.at, 1.0) for e in events if e.kind in kinds.SURVEY_SENT]
    out += [Sample("proactive", e.at, 1.0) for e in events if e.kind in kinds.PROACTIVE]
    for at, score in h.ratings:
        out.append(Sample("csat", at, 1.0 if score >= 4 else 0.0))
        out.append(Sample("csat_score", at, float(score)))
    present = {e.kind for e in events}
    out.append(Sample("sla_breached", c.opened_at,
                      1.0 if present & set(kinds.SLA_BREACHED) else 0.0))
    bot_events = present & set(kinds.BOT_RESOLVED + kinds.BOT_HANDOFF)
    if _thanks_only(events, messages, present):
        bot_events = set()  # the bot closed a "thanks": it answered nothing, resolved nothing
    bot = bool(bot_events) or any(m.bot for m in messages)
    bot_done = bool(bot_events & set(kinds.BOT_RESOLVED)) and not humans
    if bot and (is_resolved or bot_events):
        out.append(Sample("bot_resolved", c.opened_at, 1.0 if bot_done else 0.0))
    article = [e.at for e in events if e.kind in kinds.ARTICLE]
    self_served = False
    if article:
        first = min(article)
        asked = any(m.direction == "inbound" and 0 <= _seconds(first, m.at)
                    <= kinds.SELF_SERVE_WINDOW_S for m in messages)
        window_over = h.now is None or _seconds(first, h.now) >= kinds.SELF_SERVE_WINDOW_S
        self_served = not asked and not humans and not bot_done
        if asked or humans or window_over:
            out.append(Sample("article_resolved", first, 1.0 if self_served else 0.0))
    out.append(Sample("funnel", c.opened_at, 1.0,
                      detail=_path(present, bool(article), bot, bool(humans), is_resolved,
                                   self_served, bot_done)))
    return out


def _thanks_only(events: list[Event], messages: list[Message], present: set[str]) -> bool:
    """Whether the bot's only part was closing a message that only thanked: a brand-new
    conversation saying "thanks" counted as a bot resolution (a user run's report)."""
    closed = [e for e in events if e.kind in kinds.BOT_RESOLVED]
    return (bool(closed) and all(e.reason == kinds.THANKS_ONLY for e in closed)
            and not present & set(kinds.BOT_HANDOFF) and not any(m.bot for m in messages))


def _path(present: set[str], article: bool, bot: bool, human: bool, resolved: bool,
          self_served: bool, bot_done: bool) -> str:
    """The conversation's way through proactive → self-serve → bot → human → outcome."""
    stages = ["proactive" if present & set(kinds.PROACTIVE_PATH) else "inbound"]
    if article:
        stages.append("self_serve")
    if bot:
        stages.append("bot")
    if human:
        stages.append("human")
    if self_served:
        outcome = "resolved_self_serve"
    elif bot_done:
        outcome = "resolved_bot"
    elif resolved and human:
        outcome = "resolved_human"
    elif resolved:
        outcome = "resolved_other"
    elif present & set(kinds.ENDED_WAITING):
        outcome = "abandoned"
    else:
        outcome = "open"
    return ">".join([*stages, outcome])
