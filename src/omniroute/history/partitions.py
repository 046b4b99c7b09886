"""Daily range partitions of ``messages``: created ahead, dropped whole by retention.

A partition covers one UTC day and is named ``messages_pYYYYMMDD``. The sink
creates the partitions a batch needs inside its transaction; the retention job
creates the next days ahead and drops partitions older than every policy.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta

import asyncpg

PARTITION_LOCK = 0x6F6D7032  # one partition creator at a time
NAME = re.compile(r"^messages_p(\d{8})$")


def partition_name(day: date) -> str:
    """The partition holding messages created on ``day`` (UTC)."""
    return f"messages_p{day:%Y%m%d}"


def partition_day(name: str) -> date | None:
    """The day a partition name covers, or None for a table that is not one."""
    match = NAME.match(name)
    return datetime.strptime(match[1], "%Y%m%d").replace(tzinfo=UTC).date() if match else None


def days_of(moments: Iterable[datetime]) -> set[date]:
    """The UTC days a set of timestamps falls on."""
    return {m.astimezone(UTC).date() for m in moments}


async def existing_partitions(conn: asyncpg.Connection) -> dict[str, date]:
    """Every daily partition of ``messages`` now attached."""
    rows = await conn.fetch(
        """SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
           WHERE i.inhparent = 'messages'::regclass"""
    )
    found = {r["relname"]: partition_day(r["relname"]) for r in rows}
    return {name: day for name, day in found.items() if day is not None}


async def ensure_partitions(conn: asyncpg.Connection, moments: Iterable[datetime]) -> list[str]:
    """Create the daily partitions these timestamps need; return the names created."""
    wanted = {partition_name(d): d for d in days_of(moments)}
    rows = await conn.fetch("SELECT relname FROM pg_class WHERE relname = ANY($1::text[])",
                            list(wanted))
    missing = sorted(set(wanted) - {r["relname"] for r in rows})
    if not missing:
        return []
    await conn.execute("SELECT pg_advisory_xact_lock($1)", PARTITION_LOCK)
    created = []
    for name in missing:
        day = wanted[name]
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        end = start + timedelta(days=1)
        status = await conn.execute(
            f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF messages "
            f"FOR VALUES FROM ('{start.isoformat()}') TO ('{end.isoformat()}')"
        )
        if status == "CREATE TABLE":
            created.append(name)
    return created
