"""Deliver signed requests the way providers do: concurrently, retrying until a 2xx.

Providers retry a webhook that failed (connection refused while the ingress
restarts, 503 while Kafka is away); they stop at a 4xx, which is a verdict.
A message counts as *acknowledged* once the ingress answered 2xx for it: from
then on omniroute owns it and must never lose it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import aiohttp

from omniroute.loadgen.traffic import Request

RETRY_DELAYS = (0.2, 0.5, 1.0, 2.0)


@dataclass
class Delivery:
    """What happened to the requests of one run."""

    acknowledged: dict[str, float] = field(default_factory=dict)
    """token → monotonic time of its 2xx."""
    refused: dict[str, int] = field(default_factory=dict)
    """token → the 4xx status it got (a verdict: not retried)."""
    attempts: int = 0
    retries: int = 0
    seconds: float = 0.0


async def deliver(base_url: str, requests: Sequence[Request], *, senders: int = 3,
                  rate: float = 20.0, give_up_after: float = 180.0,
                  progress: Callable[[Delivery, int], None] | None = None) -> Delivery:
    """Send every request from ``senders`` concurrent senders at about ``rate`` requests/s."""
    outcome = Delivery()
    pending = list(reversed(requests))
    started = time.monotonic()
    interval = senders / rate if rate > 0 else 0.0
    timeout = aiohttp.ClientTimeout(total=15)
    async with aiohttp.ClientSession(timeout=timeout) as session:

        async def sender() -> None:
            while pending:
                request = pending.pop()
                began = time.monotonic()
                await _until_answered(session, base_url, request, outcome, give_up_after)
                if progress is not None:
                    progress(outcome, len(requests))
                await asyncio.sleep(max(0.0, interval - (time.monotonic() - began)))

        await asyncio.gather(*(sender() for _ in range(senders)))
    outcome.seconds = time.monotonic() - started
    return outcome


async def _until_answered(session: aiohttp.ClientSession, base_url: str, request: Request,
                          outcome: Delivery, give_up_after: float) -> None:
    deadline = time.monotonic() + give_up_after
    for attempt in range(10**6):
        outcome.attempts += 1
        status = None
        try:
            async with session.post(base_url + request.path, data=request.body,
                                    headers=request.headers) as response:
                await response.read()
                status = response.status
        except (TimeoutError, aiohttp.ClientError):
            status = None
        if status is not None and 200 <= status < 300:
            outcome.acknowledged[request.message.token] = time.monotonic()
            return
        if status is not None and 400 <= status < 500 and status != 429:
            outcome.refused[request.message.token] = status
            return
        if time.monotonic() > deadline:
            return
        outcome.retries += 1
        await asyncio.sleep(RETRY_DELAYS[min(attempt, len(RETRY_DELAYS) - 1)])
