"""Remembering Mailgun signature tokens so a captured request cannot be replayed.

A token is accepted once; it is remembered for the timestamp window (a
request older than the window is refused as stale anyway, so older tokens
need no memory). The memory is bounded (oldest forgotten first) and lives in
the ingress process: a replay sent to another replica within the window would
pass this check, but it carries the same Message-Id and therefore the same
``event_id``, which identity de-duplicates, so it cannot create a second
message. Sharing the memory across replicas would need a store in the
request path; the deterministic event id makes that unnecessary.
"""

from __future__ import annotations

from collections import OrderedDict

DEFAULT_CAPACITY = 100_000


class TokenMemory:
    """Tokens seen within the last ``window`` seconds, at most ``capacity`` of them."""

    def __init__(self, window: float, capacity: int = DEFAULT_CAPACITY) -> None:
        self.window = window
        self.capacity = capacity
        self._seen: OrderedDict[str, float] = OrderedDict()

    def first_use(self, token: str, now: float) -> bool:
        """Record ``token`` at ``now``; False when it was already used within the window."""
        self._expire(now)
        if token in self._seen:
            return False
        self._seen[token] = now
        while len(self._seen) > self.capacity:
            self._seen.popitem(last=False)
        return True

    def _expire(self, now: float) -> None:
        while self._seen:
            token, seen_at = next(iter(self._seen.items()))
            if now - seen_at <= self.window:
                break
            del self._seen[token]

    def __len__(self) -> int:
        return len(self._seen)
