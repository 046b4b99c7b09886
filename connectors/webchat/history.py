"""Web chat transcripts in PostgreSQL: idempotent appends, the latest N on reload.

Why the database and not a compacted topic: a transcript is appended to by
several writers (the replica a visitor is connected to, every replica that
sees an agent reply) and read by key on every page load; a primary key on
``event_id`` makes concurrent appends idempotent, and an index on the address
makes the read one range scan. A compacted topic would need read-modify-write
of a whole transcript per message, which loses updates between replicas.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import asyncpg

from omniroute.infra.postgres import create_pool

_INSERT = """
INSERT INTO webchat_messages
    (workspace, event_id, address, direction, client_message_id, body, created_at,
     conversation_id)
VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8)
ON CONFLICT (workspace, event_id) DO NOTHING
"""
_ADDRESSES = """
SELECT DISTINCT address FROM webchat_messages WHERE workspace = $1 AND conversation_id = $2
"""
_CONVERSATION = """
SELECT conversation_id FROM webchat_messages
WHERE workspace = $1 AND address = $2 AND conversation_id IS NOT NULL
ORDER BY created_at DESC LIMIT 1
"""
_LATEST = """
SELECT body FROM (
    SELECT body, created_at, direction = 'agent' AS answer, event_id FROM webchat_messages
    WHERE workspace = $1 AND address = $2
    ORDER BY created_at DESC, answer DESC, event_id DESC LIMIT $3
) latest ORDER BY created_at, answer, event_id
"""
"""The visitor's latest messages, oldest first; at the same instant the visitor's message
before the answer to it (an automatic reply carries its message's time)."""


class Transcripts:
    """The ``webchat_messages`` table."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.pool: asyncpg.Pool | None = None

    async def start(self) -> None:
        """Open the pool (DatabaseError naming the server when unreachable)."""
        self.pool = await create_pool(self.url, min_size=1, max_size=4)

    async def stop(self) -> None:
        """Close the pool."""
        if self.pool is not None:
            await self.pool.close()
            self.pool = None

    async def append(self, workspace: str, address: str, frame: dict[str, Any],
                     created_at: datetime) -> None:
        """Store one message frame (a repeat of the same event id is ignored)."""
        assert self.pool is not None, "Transcripts.start() first"
        await self.pool.execute(
            _INSERT, workspace, frame["event_id"], address, frame["direction"],
            frame.get("client_message_id"), json.dumps(frame), created_at,
            frame.get("conversation_id"),
        )

    async def latest(self, workspace: str, address: str, limit: int) -> list[dict[str, Any]]:
        """The last ``limit`` message frames of a visitor, oldest first."""
        assert self.pool is not None, "Transcripts.start() first"
        rows = await self.pool.fetch(_LATEST, workspace, address, limit)
        return [json.loads(row["body"]) for row in rows]

    async def addresses(self, workspace: str, conversation_id: str) -> list[str]:
        """The visitor addresses an agent of ``conversation_id`` has written to."""
        assert self.pool is not None, "Transcripts.start() first"
        rows = await self.pool.fetch(_ADDRESSES, workspace, conversation_id)
        return [row["address"] for row in rows]

    async def conversation(self, workspace: str, address: str) -> str | None:
        """The conversation of the latest agent reply to ``address`` (None before any)."""
        assert self.pool is not None, "Transcripts.start() first"
        value = await self.pool.fetchval(_CONVERSATION, workspace, address)
        return str(value) if value is not None else None
