"""Mailgun replay protection: a signature token is accepted once, across replicas.

The ledger is checked before publishing and written only after Kafka
acknowledged the webhook's events, so a request answered 503 (publish failed)
is let through when Mailgun retries it. Tokens need remembering only for the
timestamp window: an older request is refused as stale before its token is
looked at.

- :class:`PostgresTokens` (``OMNIROUTE_DATABASE_URL`` set, which ``omniroute
  up`` does): the ``mailgun_tokens`` table, shared by every ingress replica.
- :class:`TokenMemory`: per replica, bounded, for a single replica without a
  database. Two requests racing on two replicas can both pass the check before
  either is recorded; they carry the same Message-ID, hence the same
  ``event_id``, which identity de-duplicates.
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import UTC, datetime, timedelta
from typing import Protocol

from omniroute_connectors.email.store import EmailStore

DEFAULT_CAPACITY = 100_000


class TokenLedger(Protocol):
    """Where used tokens are kept (times are POSIX seconds)."""

    async def used(self, token: str, now: float) -> bool:
        """True when ``token`` was already used within the window."""

    async def mark(self, token: str, now: float) -> None:
        """Record ``token`` as used at ``now`` (after the publish was acknowledged)."""


class TokenMemory:
    """Tokens seen within the last ``window`` seconds, at most ``capacity`` of them."""

    def __init__(self, window: float, capacity: int = DEFAULT_CAPACITY) -> None:
        self.window = window
        self.capacity = capacity
        self._seen: OrderedDict[str, float] = OrderedDict()

    async def used(self, token: str, now: float) -> bool:
        """True when ``token`` was recorded within the window."""
        self._expire(now)
        return token in self._seen

    async def mark(self, token: str, now: float) -> None:
        """Record ``token``; the oldest tokens are forgotten beyond the capacity."""
        self._seen[token] = now
        self._seen.move_to_end(token)
        while len(self._seen) > self.capacity:
            self._seen.popitem(last=False)

    def _expire(self, now: float) -> None:
        while self._seen:
            token, seen_at = next(iter(self._seen.items()))
            if now - seen_at <= self.window:
                break
            del self._seen[token]

    def __len__(self) -> int:
        return len(self._seen)


class PostgresTokens:
    """The ``mailgun_tokens`` table (unique token, expired after the window)."""

    def __init__(self, store: EmailStore, window: float) -> None:
        self.store = store
        self.window = timedelta(seconds=window)

    async def used(self, token: str, now: float) -> bool:
        return await self.store.token_used(token, datetime.fromtimestamp(now, UTC), self.window)

    async def mark(self, token: str, now: float) -> None:
        await self.store.mark_token(token, datetime.fromtimestamp(now, UTC), self.window)
