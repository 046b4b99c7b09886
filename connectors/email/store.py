"""Email state shared by every replica, in PostgreSQL (``0004_channels_state.sql``).

- ``mailgun_tokens``: Mailgun signature tokens already used. A token is looked
  up before publishing and inserted only after Kafka acknowledged the events, so
  a request whose publish failed (answered 503) passes when Mailgun retries it.
  Rows older than the timestamp window are deleted: a request that old is
  refused as stale before its token is looked at.
- ``email_sent_messages``: the Message-ID of every reply we sent with its
  conversation and outbound event, so a bounce (which quotes that Message-ID)
  is attributed to them.
- ``attachment_blobs`` (``0020_email_attachment_blobs.sql``): the bytes of
  customers' attachments by SHA-256, written before the mail is acknowledged
  (:mod:`.blobs`); the gateway serves them to agents.

The pool is opened lazily: the ingress starts even while PostgreSQL is down,
and a request needing the store then answers 503 (the provider retries).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from omniroute.errors import DatabaseError
from omniroute.infra.postgres import create_pool
from omniroute_connectors.email.blobs import AttachmentBlob

PURGE_EVERY = 500
_USED = "SELECT 1 FROM mailgun_tokens WHERE token = $1 AND used_at > $2"
_MARK = """
INSERT INTO mailgun_tokens (token, used_at) VALUES ($1, $2)
ON CONFLICT (token) DO UPDATE SET used_at = EXCLUDED.used_at
WHERE mailgun_tokens.used_at <= $3
"""
_PURGE = "DELETE FROM mailgun_tokens WHERE used_at <= $1"
_RECORD_SENT = """
INSERT INTO email_sent_messages
    (provider_message_id, workspace, conversation_id, outbound_event_id, recipient, sent_at)
VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (provider_message_id) DO NOTHING
"""
_SENT = """
SELECT conversation_id, outbound_event_id FROM email_sent_messages
WHERE provider_message_id = $1 AND workspace = $2
"""

_KEEP_BLOBS = """
INSERT INTO attachment_blobs (sha256, content_type, size_bytes, bytes)
SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bytea[])
ON CONFLICT (sha256) DO NOTHING
"""


@dataclass(frozen=True)
class SentEmail:
    """What we know about a Message-ID we sent."""

    conversation_id: str
    outbound_event_id: str


class EmailStore:
    """The email tables; every method raises :class:`DatabaseError` when unreachable."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._pool: asyncpg.Pool | None = None
        self._lock = asyncio.Lock()
        self._marks = 0

    async def start(self) -> None:
        """Nothing to do: the pool opens on first use."""

    async def stop(self) -> None:
        """Close the pool."""
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def _ready(self) -> asyncpg.Pool:
        async with self._lock:
            if self._pool is None:
                self._pool = await create_pool(self.url, min_size=1, max_size=4)
            return self._pool

    async def _run(self, query: str, *args: object, fetch: bool = False) -> list[asyncpg.Record]:
        pool = await self._ready()
        try:
            if fetch:
                return list(await pool.fetch(query, *args))
            await pool.execute(query, *args)
            return []
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError) as exc:
            raise DatabaseError(f"email store query failed: {exc}") from exc

    async def ping(self) -> None:
        """Readiness: the database answers (DatabaseError when not)."""
        await self._run("SELECT 1", fetch=True)

    async def token_used(self, token: str, now: datetime, window: timedelta) -> bool:
        """True when ``token`` was used within ``window`` before ``now``."""
        return bool(await self._run(_USED, token, now - window, fetch=True))

    async def mark_token(self, token: str, now: datetime, window: timedelta) -> None:
        """Record ``token`` as used at ``now``; now and then delete expired tokens."""
        await self._run(_MARK, token, now, now - window)
        self._marks += 1
        if self._marks % PURGE_EVERY == 1:
            await self._run(_PURGE, now - window)

    async def record_sent(self, provider_message_id: str, workspace: str, conversation_id: str,
                          outbound_event_id: str, recipient: str, at: datetime) -> None:
        """Remember the Message-ID of a reply (idempotent: a re-send keeps the first row)."""
        await self._run(_RECORD_SENT, provider_message_id, workspace, conversation_id,
                        outbound_event_id, recipient, at)

    async def sent(self, provider_message_id: str, workspace: str) -> SentEmail | None:
        """The conversation and outbound event of a Message-ID we sent, if we sent it."""
        rows = await self._run(_SENT, provider_message_id, workspace, fetch=True)
        return SentEmail(rows[0]["conversation_id"], rows[0]["outbound_event_id"]) if rows \
            else None

    async def keep_attachments(self, blobs: Sequence[AttachmentBlob]) -> None:
        """Store the bytes of a mail's attachments in one statement; a file already stored
        (mailed before, by anyone, or this mail retried) is left as it is."""
        if blobs:
            await self._run(_KEEP_BLOBS, [b.sha256 for b in blobs],
                            [b.content_type for b in blobs], [len(b.data) for b in blobs],
                            [b.data for b in blobs])
