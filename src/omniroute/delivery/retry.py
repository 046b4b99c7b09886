"""Retry policy of provider calls (pure)."""

from __future__ import annotations


def backoff(attempt: int, base: float, retry_after: float | None = None, cap: float = 60.0
            ) -> float:
    """Seconds before attempt ``attempt + 1``: the provider's Retry-After, else exponential."""
    if retry_after is not None:
        return min(cap, max(0.0, retry_after))
    return min(cap, base * 2.0 ** (attempt - 1))
