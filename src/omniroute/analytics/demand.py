"""Measured demand from the aggregates: arrivals and mean handle time per staffing interval."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from omniroute.analytics.planning import Demand


async def measured_demand(conn: asyncpg.Connection, start: datetime, end: datetime,
                          interval_s: int = 1800, *, workspace: str | None = None,
                          pool: str | None = None) -> list[Demand]:
    """Conversations opened and mean handle time per ``interval_s`` bucket of ``[start, end)``."""
    if interval_s % 900:
        raise ValueError("the staffing interval must be a multiple of 15 minutes (900 s)")
    rows = await conn.fetch(
        f"""SELECT to_timestamp(floor(extract(epoch FROM interval_start) / {interval_s})
                   * {interval_s}) AS bucket,
                   sum(count) FILTER (WHERE metric = 'conversations') AS contacts,
                   sum(sum) FILTER (WHERE metric = 'handle_time')
                     / NULLIF(sum(count) FILTER (WHERE metric = 'handle_time'), 0) AS aht
            FROM analytics_intervals
            WHERE interval_start >= $1 AND interval_start < $2
              AND ($3::text IS NULL OR workspace = $3) AND ($4::text IS NULL OR pool = $4)
              AND metric IN ('conversations', 'handle_time')
            GROUP BY 1 ORDER BY 1""", start, end, workspace, pool)
    return [Demand(r["bucket"], float(r["contacts"] or 0), r["aht"]) for r in rows]
