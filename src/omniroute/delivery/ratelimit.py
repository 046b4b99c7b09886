"""Per-account token buckets (pure: the caller passes the clock)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Bucket:
    """A token bucket refilled at ``rate`` tokens per second, holding at most ``burst``."""

    rate: float
    burst: float
    tokens: float
    updated: float

    def take(self, now: float) -> float:
        """Take one token; return how many seconds the caller must wait first (0 if none)."""
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        self.tokens -= 1
        return 0.0 if self.tokens >= 0 else -self.tokens / self.rate


@dataclass
class RateLimits:
    """One bucket per (provider, channel account)."""

    buckets: dict[tuple[str, str], Bucket] = field(default_factory=dict)

    def delay(self, provider: str, account: str, rate: float, now: float) -> float:
        """Seconds to wait before the next request of this account may go out."""
        bucket = self.buckets.get((provider, account))
        if bucket is None:
            burst = max(1.0, rate)
            bucket = self.buckets[(provider, account)] = Bucket(rate, burst, burst, now)
        return bucket.take(now)
