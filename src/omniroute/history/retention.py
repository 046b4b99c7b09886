"""Retention: how long messages are kept, per workspace and channel, and the job enforcing it.

Policies live in ``retention_policies``: per workspace and channel, or per
workspace with ``channel = '*'``; the most specific one wins, and anything
without a policy keeps :data:`DEFAULT_DAYS` (31). The job drops
whole daily partitions of ``messages`` once they are older than the longest
policy, deletes rows of shorter policies inside the partitions that remain, and
creates the partitions of the coming days ahead of the sink. Attachment rows older
than the longest policy go too, with the stored email bytes no remaining row names
(and blobs no row ever named, after a grace: :mod:`.blobs`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import asyncpg

from omniroute.history.blobs import delete_orphans, delete_unnamed
from omniroute.history.partitions import ensure_partitions, existing_partitions

DEFAULT_DAYS = 31
AHEAD_DAYS = 3


@dataclass(frozen=True)
class Policy:
    """Keep messages of ``workspace`` on ``channel`` ('*' for all) for ``days`` days."""

    workspace: str
    channel: str
    days: int


@dataclass(frozen=True)
class Horizon:
    """Which messages retention has already expired at ``now`` (pure; the sink asks it).

    The same rule as the job's delete: the most specific policy (channel, then ``'*'``),
    else ``default_days``. A view of a message past it is not stored: the message's rows
    are gone or about to go, and storing one view alone would bring back half a message
    (a late inbound view without its conversation, docs/history.md).
    """

    now: datetime
    default_days: int
    days: dict[tuple[str, str], int]

    @classmethod
    def of(cls, policies: list[Policy], default_days: int, now: datetime) -> Horizon:
        """The horizon of these policies at ``now``."""
        return cls(now, default_days, {(p.workspace, p.channel): p.days for p in policies})

    def expired(self, workspace: str, channel: str, created_at: datetime) -> bool:
        """True when a message created at ``created_at`` is past its retention."""
        days = self.days.get((workspace, channel))
        if days is None:
            days = self.days.get((workspace, "*"), self.default_days)
        return created_at < self.now - timedelta(days=days)


def longest(policies: list[Policy], default_days: int) -> int:
    """The longest any message is kept: partitions older than this hold nothing to keep."""
    return max([default_days, *(p.days for p in policies)])


def droppable(partitions: dict[str, date], now: datetime, keep_days: int) -> list[str]:
    """Partitions whose whole day ended more than ``keep_days`` ago."""
    cutoff = now - timedelta(days=keep_days)
    return sorted(name for name, day in partitions.items()
                  if datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)
                  <= cutoff)


def shortest(policies: list[Policy], default_days: int) -> int:
    """The shortest any message is kept: rows younger than this are never deleted."""
    return min([default_days, *(p.days for p in policies)])


@dataclass(frozen=True)
class RetentionReport:
    """What one run of the job did."""

    created: list[str]
    dropped: list[str]
    deleted_rows: int


async def load_policies(conn: asyncpg.Connection) -> list[Policy]:
    """Every configured policy."""
    rows = await conn.fetch("SELECT workspace, channel, days FROM retention_policies")
    return [Policy(r["workspace"], r["channel"], r["days"]) for r in rows]


async def set_policy(conn: asyncpg.Connection, policy: Policy) -> None:
    """Create or change a policy."""
    await conn.execute(
        """INSERT INTO retention_policies (workspace, channel, days) VALUES ($1, $2, $3)
           ON CONFLICT (workspace, channel) DO UPDATE SET days = EXCLUDED.days""",
        policy.workspace, policy.channel, policy.days,
    )


async def run_retention(conn: asyncpg.Connection, *, default_days: int = DEFAULT_DAYS,
                        now: datetime | None = None) -> RetentionReport:
    """Enforce every policy once; safe to run at any time, from any number of processes."""
    now = now or datetime.now(UTC)
    policies = await load_policies(conn)
    keep = longest(policies, default_days)
    async with conn.transaction():
        created = await ensure_partitions(conn, [now + timedelta(days=d)
                                                 for d in range(AHEAD_DAYS + 1)])
        dropped = droppable(await existing_partitions(conn), now, keep)
        for name in dropped:
            await conn.execute(f"DROP TABLE {name}")
        deleted = await _delete_expired(conn, default_days, shortest(policies, default_days),
                                        now)
        expired = await conn.fetch("DELETE FROM attachments WHERE created_at < $1 "
                                   "RETURNING media_id", now - timedelta(days=keep))
        await delete_unnamed(conn, (r["media_id"] for r in expired))
        await delete_orphans(conn, now)
        await conn.execute(
            "DELETE FROM processed_events WHERE occurred_at < $1", now - timedelta(days=keep))
    return RetentionReport(created, dropped, deleted)


async def _delete_expired(conn: asyncpg.Connection, default_days: int, shortest_days: int,
                          now: datetime) -> int:
    """Delete rows past their policy; the most specific policy wins (channel, then workspace)."""
    status = await conn.execute(
        """DELETE FROM messages m
           WHERE m.created_at < $1::timestamptz - make_interval(days => $2::int)
             AND m.created_at < $1::timestamptz - make_interval(days => COALESCE(
               (SELECT days FROM retention_policies p
                 WHERE p.workspace = m.workspace AND p.channel = m.channel),
               (SELECT days FROM retention_policies p
                 WHERE p.workspace = m.workspace AND p.channel = '*'),
               $3::int))""",
        now, shortest_days, default_days,
    )
    return int(status.split()[-1])
