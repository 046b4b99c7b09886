"""Incremental analytics in PostgreSQL: dirty subjects → samples → 15-minute aggregates.

:func:`refresh` runs in one transaction under an advisory lock, so two
refreshes never interleave and a crash leaves the watermark where it was:

1. take every ``analytics_dirty`` row committed so far (the history tables'
   triggers write them; a sink transaction that drew a lower ``seq`` but commits
   after this refresh read the table is taken by the next one, so nothing is
   skipped), plus agents still online and self-serve windows still open (their
   figures change with time alone);
2. per batch of conversations, read their history, compute samples with the
   pure :func:`omniroute.analytics.facts.samples`, replace their old samples;
   per agent, recompute occupancy samples from the earliest changed interval
   (with ``capacity_s``, seconds online times the agent's capacity then, when the
   caller knows capacities: the live routing configuration's; ``load_s`` counts each
   conversation by its channel's weight in that capacity);
3. re-aggregate only the intervals whose samples were replaced;
4. delete the rows taken and record the watermark (highest ``seq`` and time).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from omniroute.analytics import kinds
from omniroute.analytics.facts import (
    Assignment,
    Conversation,
    Event,
    History,
    Message,
    Sample,
    samples,
)
from omniroute.analytics.formulas import OfficeHours
from omniroute.analytics.occupancy import agent_intervals, interval_start, load_steps
from omniroute.automation.proactive import proactive_rows
from omniroute.routing.config import RoutingConfig, parse_capacity
from omniroute.routing.policy import DEFAULT_JOIN_CAPACITY, AgentCapacity, ChannelRule

LOCK_ID = 0x616E6C79  # "anly"
BATCH = 500
DURATIONS = ("frt", "frt_business", "queue_wait", "next_reply", "resolution_first",
             "resolution_last", "chat_duration", "handle_time", "csat_score")
DIMENSIONS = ("workspace", "pool", "channel", "agent", "language", "intent")
AGENT_LOOKBACK = timedelta(days=7)

Progress = Callable[[str], None]


@dataclass(frozen=True)
class RefreshResult:
    """What one refresh recomputed."""

    conversations: int
    agents: int
    intervals: int
    samples: int


@dataclass(frozen=True)
class Capacity:
    """Agents' capacities by agent id: ``capacity(agent)`` is the total (concurrent
    conversations), :meth:`of` adds the channels' weights. Each agent's in ``config`` as the
    routers apply it; ``nominal``, every conversation weighing 1, without a configuration
    and for agents no pool takes (they hold nothing)."""

    nominal: int
    config: RoutingConfig | None = None

    def __call__(self, agent: str) -> int:
        """The agent's total capacity."""
        return self.of(agent).total

    def of(self, agent: str) -> AgentCapacity:
        """The agent's total capacity and per-channel weights."""
        config = self.config
        total = config.capacity_of(agent) if config is not None else 0
        if config is None or not total:
            return AgentCapacity(self.nominal)
        return AgentCapacity(total, _channels(config, agent))


def _channels(config: RoutingConfig, agent: str) -> Mapping[str, ChannelRule]:
    """The agent's channel rules from the table :meth:`RoutingConfig.capacity_of` takes the
    total from: their own, else the join capacity of the pool anyone joins."""
    table = config.agents.get(agent)
    if table is None and config.join_pool is not None:
        table = config.pools[config.join_pool].get("join_capacity")
    return parse_capacity(table).channels if table is not None else DEFAULT_JOIN_CAPACITY.channels


def capacities(config: RoutingConfig, nominal: int) -> Capacity:
    """Each agent's capacity in ``config`` as the routers apply it; ``nominal`` for agents
    no pool takes (they hold nothing)."""
    return Capacity(nominal, config)


def uniform(capacity: int) -> Capacity:
    """The same capacity for every agent (the nominal one, when the configuration is away)."""
    return Capacity(capacity)


async def refresh(conn: asyncpg.Connection, now: datetime, *, hours: OfficeHours | None = None,
                  short_abandon_s: float = 10.0, progress: Progress | None = None,
                  capacity: Capacity | None = None) -> RefreshResult:
    """Bring samples and aggregates up to date with history as of ``now``; ``capacity``
    weighs agents' utilization (without it, reports use the nominal concurrency and every
    conversation weighs 1)."""
    hours = hours or OfficeHours()
    say = progress or (lambda _m: None)
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", LOCK_ID)
        mark = await conn.fetchrow(
            "SELECT seq, computed_at FROM analytics_watermark WHERE name = 'samples' FOR UPDATE")
        last_run = mark["computed_at"]
        # The dirty rows committed so far, whatever their seq: a sink transaction that took
        # a lower seq but commits later is simply picked up by the next refresh.
        dirty = await conn.fetch("SELECT seq, subject, id, at FROM analytics_dirty")
        seqs = [r["seq"] for r in dirty]
        top = max(seqs, default=mark["seq"])
        conversations = await _dirty_conversations(conn, dirty, last_run)
        agents = await _dirty_agents(conn, dirty, last_run)
        touched: set[datetime] = set()
        written = 0
        for i in range(0, len(conversations), BATCH):
            chunk = conversations[i:i + BATCH]
            say(f"conversations {i + len(chunk)}/{len(conversations)}")
            histories = await _load(conn, chunk, now, hours, short_abandon_s)
            rows = [_row(h.conversation, s, agent) for h, agent in histories for s in samples(h)]
            written += await _replace(conn, chunk, rows, touched)
        for n, (agent, since) in enumerate(sorted(agents.items()), 1):
            say(f"agents {n}/{len(agents)}")
            written += await _agent_samples(conn, agent, since, now, touched,
                                            capacity.of(agent) if capacity is not None else None)
        say(f"intervals {len(touched)}")
        await _aggregate(conn, sorted(touched))
        await conn.execute("DELETE FROM analytics_dirty WHERE seq = ANY($1)", seqs)
        await conn.execute(
            "UPDATE analytics_watermark SET seq = $1, computed_at = $2 WHERE name = 'samples'",
            top, now)
    return RefreshResult(len(conversations), len(agents), len(touched), written)


async def _dirty_conversations(conn: asyncpg.Connection, dirty: list[asyncpg.Record],
                               last_run: datetime | None) -> list[str]:
    ids = {r["id"] for r in dirty if r["subject"] == "conversation"}
    if last_run is not None:  # self-serve windows that may have closed since the last run
        ids |= {r["conversation_id"] for r in await conn.fetch(
            "SELECT DISTINCT conversation_id FROM conversation_events WHERE kind = ANY($1) "
            "AND occurred_at > $2", list(kinds.ARTICLE),
            last_run - timedelta(seconds=kinds.SELF_SERVE_WINDOW_S + 900))}
    return sorted(ids)


async def _dirty_agents(conn: asyncpg.Connection, dirty: list[asyncpg.Record],
                        last_run: datetime | None) -> dict[str, datetime]:
    agents: dict[str, datetime] = {}
    for r in dirty:
        if r["subject"] == "agent":
            agents[r["id"]] = min(agents.get(r["id"], r["at"]), r["at"])
    if last_run is not None:  # agents online since the last run accrue time without events
        for r in await conn.fetch(
                "SELECT DISTINCT ON (agent_id) agent_id, presence FROM agent_presence "
                "ORDER BY agent_id, occurred_at DESC, event_id DESC"):
            if r["presence"] in ("available", "busy"):
                agents[r["agent_id"]] = min(agents.get(r["agent_id"], last_run), last_run)
    return agents


async def _load(conn: asyncpg.Connection, ids: list[str], now: datetime, hours: OfficeHours,
                short_abandon_s: float) -> list[tuple[History, str]]:
    """Each conversation's history (only conversations with a row; others wait for it)."""
    convs = await conn.fetch(
        "SELECT conversation_id, workspace, opened_at, channel, pool, agent_id, "
        "triage->>'language' AS language, triage->>'intent' AS intent "
        "FROM conversations WHERE conversation_id = ANY($1)", ids)
    events = _group(await conn.fetch(
        "SELECT conversation_id, occurred_at, kind, agent_id, reason FROM conversation_events "
        "WHERE conversation_id = ANY($1)", ids))
    messages = _group(await conn.fetch(
        "SELECT conversation_id, created_at, direction, content->'author'->>'kind' AS author_kind,"
        " author_id FROM messages WHERE conversation_id = ANY($1)", ids))
    assignments = _group(await conn.fetch(
        "SELECT conversation_id, occurred_at, kind, agent_id FROM assignments "
        "WHERE conversation_id = ANY($1)", ids))
    ratings = _group(await conn.fetch(
        "SELECT conversation_id, rated_at, score FROM csat_conversation_ratings "
        "WHERE conversation_id = ANY($1)", ids))
    answered = {r["conversation_id"]: r["at"] for r in await _proactive_answered(conn, ids)}
    out = []
    for c in convs:
        cid = c["conversation_id"]
        conversation = Conversation(cid, c["workspace"], c["opened_at"], c["channel"] or "",
                                    c["pool"] or "", c["language"] or "", c["intent"] or "")
        out.append((History(
            conversation,
            events=tuple(Event(r["occurred_at"], r["kind"], r["agent_id"], r["reason"])
                         for r in events[cid]) + ((Event(answered[cid], kinds.PROACTIVE_MESSAGE,
                                                         None, None),)
                                                  if cid in answered else ()),
            messages=tuple(Message(r["created_at"], r["direction"], r["author_kind"],
                                   r["author_id"]) for r in messages[cid]),
            assignments=tuple(Assignment(r["occurred_at"], r["kind"], r["agent_id"])
                              for r in assignments[cid]),
            ratings=tuple((r["rated_at"], r["score"]) for r in ratings[cid]),
            now=now, short_abandon_s=short_abandon_s, hours=hours), c["agent_id"] or ""))
    return out


async def _proactive_answered(conn: asyncpg.Connection, ids: list[str]
                              ) -> list[asyncpg.Record]:
    """The conversations that answer a proactive message, with its time: one sent to an
    address of the customer within ``PROACTIVE_ANSWER_S`` before the conversation opened
    (found by recipient, migration 0022's index). Until 2026-12-07 their funnel path
    began at ``inbound``: a proactive message belongs to no conversation."""
    rows: list[asyncpg.Record] = await conn.fetch(
        f"""SELECT c.conversation_id, max(m.created_at) AS at FROM conversations c
            JOIN customer_addresses a ON a.customer_id = c.customer_id
            JOIN messages m ON m.channel = a.channel AND m.recipient = a.address
                 AND {proactive_rows('m')} AND m.direction = 'outbound'
                 AND m.created_at <= c.opened_at
                 AND m.created_at > c.opened_at - make_interval(secs => $2)
            WHERE c.conversation_id = ANY($1) GROUP BY c.conversation_id""",
        ids, float(kinds.PROACTIVE_ANSWER_S))
    return rows


def _group(rows: Iterable[asyncpg.Record]) -> defaultdict[str, list[asyncpg.Record]]:
    grouped: defaultdict[str, list[asyncpg.Record]] = defaultdict(list)
    for r in rows:
        grouped[r["conversation_id"]].append(r)
    return grouped


def _row(c: Conversation, s: Sample, holder: str) -> tuple[object, ...]:
    return (c.conversation_id, s.metric, s.at, interval_start(s.at), c.workspace, c.pool,
            c.channel, s.agent or holder, c.language, c.intent, s.detail, s.value)


_COLUMNS = ("subject", "metric", "at", "interval_start", *DIMENSIONS, "detail", "value")


async def _replace(conn: asyncpg.Connection, subjects: list[str], rows: list[tuple[object, ...]],
                   touched: set[datetime]) -> int:
    """Swap the samples of ``subjects`` for ``rows``; note every interval either side touches."""
    old = await conn.fetch("DELETE FROM analytics_samples WHERE subject = ANY($1) "
                           "RETURNING interval_start", subjects)
    touched.update(r["interval_start"] for r in old)
    touched.update(r[3] for r in rows)  # type: ignore[misc]
    if rows:
        await conn.copy_records_to_table("analytics_samples", records=rows, columns=_COLUMNS)
    return len(rows)


async def _agent_samples(conn: asyncpg.Connection, agent: str, since: datetime, now: datetime,
                         touched: set[datetime], capacity: AgentCapacity | None) -> int:
    """Occupancy samples of one agent from the interval holding ``since`` up to ``now``."""
    start = interval_start(since)
    lookback = start - AGENT_LOOKBACK
    presence = [(r["occurred_at"], r["presence"]) for r in await conn.fetch(
        "SELECT occurred_at, presence FROM agent_presence WHERE agent_id = $1 "
        "AND occurred_at >= $2 ORDER BY occurred_at, event_id", agent, lookback)]
    held = [(r["occurred_at"], r["kind"], r["conversation_id"], r["channel"] or "")
            for r in await conn.fetch(
                "SELECT occurred_at, kind, conversation_id, channel FROM assignments "
                "WHERE agent_id = $1 AND occurred_at >= $2 "
                "AND kind IN ('assigned', 'completed', 'revoked') ORDER BY occurred_at, event_id",
                agent, lookback)]
    steps = [(at, 1 if kind == "assigned" else -1) for at, kind, _, _ in held]
    weight = capacity.weight if capacity is not None else (lambda _channel: 1)
    load = {iv.start: iv.engaged_s
            for iv in agent_intervals(presence, load_steps(held, weight), start, now)}
    workspace = await conn.fetchval(
        "SELECT workspace FROM agent_events WHERE agent_id = $1 ORDER BY occurred_at DESC LIMIT 1",
        agent) or await conn.fetchval(
        "SELECT workspace FROM assignments WHERE agent_id = $1 LIMIT 1", agent) or ""
    subject = f"agent:{agent}"
    old = await conn.fetch("DELETE FROM analytics_samples WHERE subject = $1 "
                           "AND interval_start >= $2 RETURNING interval_start", subject, start)
    touched.update(r["interval_start"] for r in old)
    rows = []
    for iv in agent_intervals(presence, steps, start, now):
        touched.add(iv.start)
        measured = [("online_s", iv.online_s), ("chatting_s", iv.chatting_s),
                    ("engaged_s", iv.engaged_s), ("load_s", load.get(iv.start, 0.0))]
        if capacity is not None:
            measured.append(("capacity_s", iv.online_s * capacity.total))
        for metric, value in measured:
            rows.append((subject, metric, iv.start, iv.start, workspace, "", "", agent, "", "",
                         "", value))
    if rows:
        await conn.copy_records_to_table("analytics_samples", records=rows, columns=_COLUMNS)
    return len(rows)


async def _aggregate(conn: asyncpg.Connection, intervals: list[datetime]) -> None:
    """Recompute the aggregate rows of ``intervals`` from their samples."""
    if not intervals:
        return
    dims = ", ".join(DIMENSIONS)
    await conn.execute("DELETE FROM analytics_intervals WHERE interval_start = ANY($1)", intervals)
    await conn.execute(
        f"""INSERT INTO analytics_intervals (interval_start, {dims}, metric, detail, count, sum,
                                              vals)
            SELECT interval_start, {dims}, metric, detail, count(*), sum(value),
                   CASE WHEN metric = ANY($2) THEN array_agg(value ORDER BY value) END
            FROM analytics_samples WHERE interval_start = ANY($1)
            GROUP BY interval_start, {dims}, metric, detail""", intervals, list(DURATIONS))


def dumps(result: RefreshResult) -> str:
    """The refresh result as one JSON line."""
    return json.dumps(result.__dict__)
