"""A recorded period's routing inputs, read from history (for :mod:`~omniroute.analytics.whatif`).

Arrivals: conversations of the pool opened in the period; handle time = first
assignment to its completion (or revocation); patience = how long a customer
who was never assigned waited before leaving (resolved or abandoned). Shifts:
online (available or busy) windows of the agents who worked in the pool.
"""

from __future__ import annotations

from datetime import datetime

import asyncpg

from omniroute.analytics import kinds
from omniroute.analytics.whatif import Arrival, Shift

ONLINE = ("available", "busy")


async def recorded_inputs(conn: asyncpg.Connection, pool: str, start: datetime,
                          end: datetime) -> tuple[list[Arrival], list[Shift]]:
    """The arrivals and shifts of ``pool`` in ``[start, end)``."""
    rows = await conn.fetch(
        """SELECT c.conversation_id, c.customer_id, c.opened_at, COALESCE(c.channel, '') AS channel,
                  (SELECT min(occurred_at) FROM assignments a WHERE a.conversation_id =
                     c.conversation_id AND a.kind = 'assigned') AS assigned_at,
                  (SELECT min(occurred_at) FROM assignments a WHERE a.conversation_id =
                     c.conversation_id AND a.kind IN ('completed', 'revoked')) AS released_at,
                  (SELECT min(occurred_at) FROM conversation_events e WHERE e.conversation_id =
                     c.conversation_id AND e.kind = ANY($4)) AS left_at
           FROM conversations c
           WHERE c.pool = $1 AND c.opened_at >= $2 AND c.opened_at < $3
           ORDER BY c.opened_at, c.conversation_id""",
        pool, start, end, list(kinds.RESOLVED + kinds.ENDED_WAITING))
    arrivals = []
    for r in rows:
        handle = patience = None
        if r["assigned_at"] is not None and r["released_at"] is not None:
            handle = max(0.0, (r["released_at"] - r["assigned_at"]).total_seconds())
        if r["assigned_at"] is None and r["left_at"] is not None:
            patience = max(0.0, (r["left_at"] - r["opened_at"]).total_seconds())
        arrivals.append(Arrival(r["conversation_id"], r["opened_at"].timestamp(), r["channel"],
                                handle, patience, r["customer_id"]))
    agents = [r["agent_id"] for r in await conn.fetch(
        "SELECT DISTINCT agent_id FROM assignments WHERE pool = $1 AND occurred_at < $2 "
        "ORDER BY agent_id", pool, end)]
    shifts: list[Shift] = []
    for agent in agents:
        changes = await conn.fetch(
            "SELECT occurred_at, presence FROM agent_presence WHERE agent_id = $1 "
            "AND occurred_at < $2 ORDER BY occurred_at, event_id", agent, end)
        shifts += _windows(agent, [(c["occurred_at"].timestamp(), c["presence"]) for c in changes],
                           end.timestamp())
    return arrivals, shifts


def _windows(agent: str, changes: list[tuple[float, str]], end: float) -> list[Shift]:
    out: list[Shift] = []
    since: float | None = None
    for at, presence in changes:
        if presence in ONLINE and since is None:
            since = at
        elif presence not in ONLINE and since is not None:
            out.append(Shift(agent, since, at))
            since = None
    if since is not None:
        out.append(Shift(agent, since, end))
    return out
