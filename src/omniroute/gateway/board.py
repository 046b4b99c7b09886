"""The supervisor board: waiting work per pool and every agent's status, from history.

Rows come from PostgreSQL (written by the sink from the public topics); the
classification is pure (:func:`agent_status`, :func:`summarize_pools`). A waiting
conversation is *offered* while an offer of it to an agent is open (not expired,
declined or answered by the router): the rest are queued. An
agent is *lost* when their last presence is available or busy but nothing was
heard from them (heartbeat or any event) for longer than the pool's heartbeat
grace; *chatting* is online with at least one conversation. A conversation is
*parked* while the router's latest word on it is ``parked`` (nothing offered since). Waiting
work names the SLA targets it has missed since it was last opened (``sla_breached``: first_reply,
next_reply, resolution; from automation's ``sla_breached`` events). A
conversation is *with the bot* while the answer bot holds it back from the router (it has
written in it since it was last opened, and not handed it off): not waiting for a person.
A waiting conversation's priority is its router's, from the routers' published figures
(:func:`routers_priorities`), else that of its latest offer (0 if never offered).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from omniroute.bot.machine import BOT
from omniroute.gateway.queries import (
    UNDECLINED_OFFER,
    away_pools,
    customer_name,
    last_opened,
    presence_of,
    sla_breached,
    waiting_since,
)
from omniroute.routing.config import RoutingConfig
from omniroute.routing.policy import PoolPolicy
from omniroute.routing.stats import published_staffing

BOT_AUTHOR = BOT.id
DEFAULT_GRACE_S = 60.0
STATUSES = ("online", "chatting", "away", "offline", "lost")
TRANSFER_PIN_S = PoolPolicy(pool="").transfer_pin_s


def agent_status(presence: str | None, silent_s: float | None, grace_s: float,
                 held: int) -> str:
    """online, chatting, away, offline or lost."""
    if presence in ("available", "busy"):
        if silent_s is None or silent_s > grace_s:
            return "lost"
        return "chatting" if held else "online"
    if presence == "away":
        return "away"
    return "offline"


def grace_of(config: RoutingConfig, agent_id: str) -> float:
    """The heartbeat grace of the agent's pool."""
    pool = config.agent_pool(agent_id)
    return float(config.pools.get(pool or "", {}).get("heartbeat_grace_s", DEFAULT_GRACE_S))


def summarize_pools(config: RoutingConfig, waiting: list[dict[str, Any]],
                    now: datetime) -> list[dict[str, Any]]:
    """Per pool: waiting count, how many of them are offered to an agent right now (the
    rest are queued), how many missed an SLA target, oldest wait (seconds) and waiting by
    priority."""
    names = sorted({*config.pools, *(w["pool"] or "(no pool)" for w in waiting)})
    pools = []
    for name in names:
        mine = [w for w in waiting if (w["pool"] or "(no pool)") == name]
        ages = [(now - w["waiting_since"]).total_seconds() for w in mine if w["waiting_since"]]
        by_priority = Counter(str(w["priority"]) for w in mine)
        pools.append({"pool": name, "waiting": len(mine),
                      "offered": sum(1 for w in mine if w.get("offered_to")),
                      "sla_breached": sum(1 for w in mine if w.get("sla_breached")),
                      "oldest_wait_s": round(max(ages), 1) if ages else None,
                      "by_priority": dict(sorted(by_priority.items(),
                                                 key=lambda kv: -int(kv[0])))})
    return pools


_WAITING_SQL = f"""
SELECT c.conversation_id, c.customer_id, c.channel, {customer_name('c')} AS customer_name,
       coalesce(c.pool, a.pool) AS pool, coalesce(a.priority, 0) AS priority,
       c.triage ->> 'intent' AS intent, c.triage ->> 'language' AS language,
       c.triage ->> 'skills' AS skills,
       {waiting_since('c', 'since', thread=False)} AS waiting_since,
       CASE WHEN parked THEN last.occurred_at END AS parked_at,
       CASE WHEN parked THEN last.reason END AS parked_reason,
       offer.agent_id AS offered_to,
       CASE WHEN last.kind = 'transferred' AND NOT EXISTS (
                 SELECT 1 FROM assignments r WHERE r.conversation_id = c.conversation_id
                   AND r.agent_id = last.agent_id AND r.kind = 'rescinded'
                   AND r.occurred_at > last.occurred_at)
            THEN last.agent_id END AS transferred_to,
       CASE WHEN last.kind = 'transferred' THEN last.occurred_at END AS transferred_at,
       {sla_breached('c', 'since.at')} AS sla_breached,
       EXISTS (SELECT 1 FROM messages b WHERE b.conversation_id = c.conversation_id
                 AND b.author_id = '{BOT_AUTHOR}' AND b.created_at >= since.at)
       AND NOT EXISTS (SELECT 1 FROM conversation_events f
                       WHERE f.conversation_id = c.conversation_id AND f.kind = 'handed_off'
                         AND f.occurred_at >= since.at) AS with_bot
FROM conversations c
LEFT JOIN conversation_assignments h ON h.conversation_id = c.conversation_id
     AND h.state = 'assigned'
LEFT JOIN customers cu ON cu.customer_id = c.customer_id
LEFT JOIN LATERAL (SELECT x.pool, x.priority FROM assignments x
                   WHERE x.conversation_id = c.conversation_id AND x.pool IS NOT NULL
                   ORDER BY x.occurred_at DESC LIMIT 1) a ON true
LEFT JOIN LATERAL (SELECT e.kind, e.occurred_at, e.reason, e.agent_id FROM conversation_events e
                   WHERE e.conversation_id = c.conversation_id
                     AND e.kind IN ('parked', 'assigned', 'transferred', 'reopened', 'opened',
                                    'rerouted')
                   ORDER BY e.occurred_at DESC LIMIT 1) last ON true
LEFT JOIN LATERAL (SELECT a.agent_id FROM assignments a
                   WHERE a.conversation_id = c.conversation_id AND {UNDECLINED_OFFER}
                   ORDER BY a.occurred_at DESC LIMIT 1) offer ON true
CROSS JOIN LATERAL {last_opened('c')} since
CROSS JOIN LATERAL (SELECT last.kind IS NOT DISTINCT FROM 'parked' AND NOT EXISTS (
                        SELECT 1 FROM assignments y WHERE y.conversation_id = c.conversation_id
                          AND y.occurred_at > last.occurred_at) AS parked) p
WHERE c.status = 'open' AND h.conversation_id IS NULL"""
WAITING_SQL = _WAITING_SQL + "\nORDER BY waiting_since\nLIMIT 500"
"""Open conversations no agent holds: waiting (queued or offered), parked, or with the
answer bot."""
ONE_WAITING_SQL = _WAITING_SQL + "\n  AND c.conversation_id = $1"
""":data:`WAITING_SQL` of one conversation."""

AGENTS_SQL = f"""
WITH known AS (
    SELECT agent_id FROM agent_tokens WHERE role = 'agent' AND revoked_at IS NULL
    UNION SELECT agent_id FROM agent_presence
    UNION SELECT unnest($1::text[]))
SELECT k.agent_id, {presence_of('k.agent_id', '$2::text[]')} AS presence,
       extract(epoch FROM now() - (SELECT max(e.occurred_at) FROM agent_events e
                                   WHERE e.agent_id = k.agent_id)) AS silent_s,
       coalesce((SELECT jsonb_agg(jsonb_build_object(
                            'conversation_id', c.conversation_id, 'customer_id', c.customer_id,
                            'customer_name', {customer_name('c')}, 'channel', c.channel)
                        ORDER BY h.changed_at)
                 FROM conversation_assignments h
                 JOIN conversations c ON c.conversation_id = h.conversation_id
                 LEFT JOIN customers cu ON cu.customer_id = c.customer_id
                 WHERE h.agent_id = k.agent_id AND h.state = 'assigned'
                   AND c.status = 'open'), '[]') AS held
FROM known k ORDER BY k.agent_id"""


def queued_in(config: RoutingConfig, row: dict[str, Any]) -> dict[str, Any]:
    """A waiting row with its pool: the one the router named, else (never offered yet: the
    router says nothing while work only queues) the pool the routing rules choose for its
    channel and triage, as the worker does when it writes the request into that pool."""
    intent, language, skills = row.pop("intent"), row.pop("language"), row.pop("skills")
    if row["pool"] is None and row["channel"]:
        row["pool"] = config.choose_pool(row["channel"], intent, language,
                                         dict.fromkeys((skills or "").split(",") if skills
                                                       else (), 0))
    return row


async def waiting_one(pool: asyncpg.Pool, config: RoutingConfig,
                      conversation_id: str) -> dict[str, Any] | None:
    """The board's row of one conversation no agent holds (its pool, ``parked_at``,
    ``with_bot``), or None (assigned, closed or unknown)."""
    row = await pool.fetchrow(ONE_WAITING_SQL, conversation_id)
    return queued_in(config, dict(row)) if row is not None else None


def routers_priorities(waiting: list[dict[str, Any]], published: Mapping[str, Any],
                       now: float) -> None:
    """Give each waiting conversation the priority its pool's router has for it, where the
    router's figures are recent and name it (history learns a priority only from offers:
    work that only queued showed P0, however a rule, an escalation or the SLA raised it)."""
    for work in waiting:
        figures = published.get(work["pool"] or "") or {}
        staffing = published_staffing(figures)
        if staffing is None or not staffing.trusted(now):
            continue
        priority = (figures.get("priorities") or {}).get(work["conversation_id"])
        if priority is not None:
            work["priority"] = int(priority)


async def board(pool: asyncpg.Pool, config: RoutingConfig, version: int,
                published: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Everything the board shows, as one JSON document (``published``: the routers' latest
    figures per pool, :mod:`omniroute.routing.statsfeed`)."""
    now: datetime = await pool.fetchval("SELECT now()")
    waiting: list[dict[str, Any]] = []
    with_bot: list[dict[str, Any]] = []  # held back from the router: not waiting for a person
    for row in await pool.fetch(WAITING_SQL):
        work = queued_in(config, dict(row))
        (with_bot if work.pop("with_bot") else waiting).append(work)
    routers_priorities(waiting, published or {}, time.time())
    agents = []
    for row in await pool.fetch(AGENTS_SQL, sorted(config.agents), away_pools(config)):
        held = json.loads(row["held"])
        capacity = config.capacity_of(row["agent_id"])
        silent = float(row["silent_s"]) if row["silent_s"] is not None else None
        agents.append({
            "agent_id": row["agent_id"], "presence": row["presence"] or "offline",
            "status": agent_status(row["presence"], silent, grace_of(config, row["agent_id"]),
                                   len(held)),
            "pool": config.agent_pool(row["agent_id"]), "capacity": capacity,
            "occupancy": round(len(held) / capacity, 2) if capacity else None,
            "conversations": [c["conversation_id"] for c in held], "held": held,
            "silent_s": round(silent, 1) if silent is not None else None,
        })
    presence = {a["agent_id"]: a["presence"] for a in agents}
    for work in waiting:
        waits_for(config, work, presence, now)
    parked = [w for w in waiting if w["parked_at"] is not None]
    return {
        "at": now.isoformat(), "config_version": version,
        "pools": summarize_pools(config, [w for w in waiting if w["parked_at"] is None], now),
        "agents": agents,
        "agent_counts": dict(Counter(a["status"] for a in agents)) | {
            s: 0 for s in STATUSES if s not in {a["status"] for a in agents}},
        "waiting": [_json(w) for w in waiting if w["parked_at"] is None][:100],
        "parked": [_json(w) for w in parked],
        "with_bot": [_json(w) for w in with_bot][:100],
    }


def waits_for(config: RoutingConfig, work: dict[str, Any], presence: Mapping[str, str],
              now: datetime) -> None:
    """Name the agent a waiting conversation was transferred to (``transferred_to``, with
    ``pinned_until``) while the router keeps it for them: a supervisor's reassignment to an
    agent at capacity waits for a free slot of theirs for the pool's ``transfer_pin_s`` (the
    board said only that nobody was offered it). The pin ends early when they decline or miss
    the offer (the query drops those) or go offline."""
    at, agent = work.pop("transferred_at"), work["transferred_to"]
    pin_s = float(config.pools.get(work["pool"] or "", {}).get("transfer_pin_s", TRANSFER_PIN_S))
    until = at + timedelta(seconds=pin_s) if at else None
    kept = agent is not None and until is not None and until > now
    if not kept or presence.get(agent, "offline") == "offline":
        work["transferred_to"] = until = None
    work["pinned_until"] = until


def _json(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row.items()}
