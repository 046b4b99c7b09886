"""Replies with a ``client_id`` are published once, however often the agent app retries.

The reply's event id is derived from the agent and the ``client_id``
(:func:`~omniroute.gateway.commands.new_event_id`), so history stores a retried
reply once, and delivery sends a second record of it only after it forgot the id
(:class:`~omniroute.delivery.reported.RecentIds`). So that a retry writes no second
record at all, the gateway *claims* the key in PostgreSQL (``gateway_reply_keys``)
before publishing, and marks it published once Kafka acknowledged the reply:

- a new key: claimed, published, marked; a failed publish releases the claim
  (the app's retry publishes: when the broker had written the first record but its
  acknowledgement was lost, that is a second record, which delivery skips);
- a key already published with the same request: answered 202 with the same
  event id (``Idempotent-Replayed: true``), nothing is published;
- a key in flight (claimed, not yet published, less than :data:`STALE_CLAIM_S` ago):
  409, retry; a claim older than that (a gateway that died between claim and
  publish) is taken over by the retry, which publishes;
- a key used before for a different reply (other text or channel): 409.

Keys are kept :data:`KEEP_DAYS` days (Stripe keeps idempotency keys 24 hours).
"""

from __future__ import annotations

import enum
import hashlib
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import asyncpg

T = TypeVar("T")

STALE_CLAIM_S = 30.0
"""A claim not published after this long belongs to a gateway that died: a retry takes it.
Longer than any publish waits (`OMNIROUTE_GATEWAY_PUBLISH_TIMEOUT`, at most 25 s)."""
KEEP_DAYS = 7
"""Days a reply key is remembered."""
PRUNE_EVERY_S = 3600.0


class Claim(enum.Enum):
    """What a reply's key allows."""

    PUBLISH = "publish"  # new, or taken over from a dead gateway
    REPLAYED = "replayed"  # already published with the same request
    IN_FLIGHT = "in_flight"  # another request is publishing it now
    DIFFERENT = "different"  # the key was used for another reply


def digest(*parts: str | None) -> str:
    """What identifies the request a key was first used for."""
    return hashlib.sha256("\x1f".join(p or "" for p in parts).encode()).hexdigest()


class ReplyKeys:
    """The claims of one gateway process (prunes old keys now and then)."""

    def __init__(self, pool: asyncpg.Pool | asyncpg.Connection) -> None:
        self.pool = pool
        self._pruned = 0.0

    async def claim(self, event_id: str, request_digest: str) -> Claim:
        """Claim ``event_id`` for publishing, or say why not."""
        await self._prune()
        taken = await self.pool.fetchval(
            """INSERT INTO gateway_reply_keys AS k (event_id, digest) VALUES ($1, $2)
               ON CONFLICT (event_id) DO UPDATE SET claimed_at = now()
                 WHERE k.published_at IS NULL AND k.digest = $2
                   AND k.claimed_at < now() - make_interval(secs => $3)
               RETURNING true""", event_id, request_digest, STALE_CLAIM_S)
        if taken:
            return Claim.PUBLISH
        row = await self.pool.fetchrow(
            "SELECT digest, published_at FROM gateway_reply_keys WHERE event_id = $1", event_id)
        if row is None:  # released by a failed publish meanwhile
            return await self.claim(event_id, request_digest)
        if row["digest"] != request_digest:
            return Claim.DIFFERENT
        return Claim.REPLAYED if row["published_at"] is not None else Claim.IN_FLIGHT

    async def published(self, event_id: str) -> None:
        """Kafka has the reply."""
        await self.pool.execute(
            "UPDATE gateway_reply_keys SET published_at = now() WHERE event_id = $1", event_id)

    async def release(self, event_id: str) -> None:
        """The publish failed: a retry may claim the key again."""
        await self.pool.execute(
            "DELETE FROM gateway_reply_keys WHERE event_id = $1 AND published_at IS NULL",
            event_id)

    async def _prune(self) -> None:
        now = time.monotonic()
        if now - self._pruned >= PRUNE_EVERY_S:
            self._pruned = now
            await self.pool.execute(
                "DELETE FROM gateway_reply_keys"
                " WHERE claimed_at < now() - make_interval(days => $1)", KEEP_DAYS)


def refusal(claim: Claim, key: str, what: str) -> str | None:
    """Why a claim refuses the request (``key``: the request's key field, ``what``: what it
    publishes), for the caller's own error type; None when it does not."""
    if claim is Claim.IN_FLIGHT:
        return f"a {what} with this {key} is being sent right now; retry"
    if claim is Claim.DIFFERENT:
        return f"this {key} was already used for a different {what}"
    return None


async def publish_once(keys: ReplyKeys, event_id: str, request_digest: str,
                       publish: Callable[[], Awaitable[T]]) -> tuple[Claim, T | None]:
    """Run ``publish`` if ``event_id`` can be claimed; mark it published once it returned,
    release the claim when it raised. Returns the claim and what ``publish`` returned
    (None when it did not run: replayed, in flight or a different request)."""
    claim = await keys.claim(event_id, request_digest)
    if claim is not Claim.PUBLISH:
        return claim, None
    try:
        result = await publish()
    except BaseException:
        await keys.release(event_id)
        raise
    await keys.published(event_id)
    return claim, result
