"""Readiness probes: whether an omniroute process answers ``/readyz`` with 200, and waiting
until it does (``omniroute up`` and a started process return before their servers are ready)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import aiohttp


async def ready(session: aiohttp.ClientSession, base: str) -> bool:
    """Whether the process at ``base`` answers ``/readyz`` with 200 (a refused connection is no)."""
    try:
        async with session.get(f"{base}/readyz") as response:
            return response.status == 200
    except aiohttp.ClientError:
        return False


async def wait_ready(*bases: str, timeout: float = 180, interval: float = 0.5,
                     alive: Callable[[], None] | None = None,
                     context: Callable[[], str] | None = None) -> None:
    """Until every process at ``bases`` is :func:`ready`, at most ``timeout`` seconds in all.

    ``alive`` is called between probes and raises when what is being waited for has died (a
    chain of processes that exited); ``context`` adds to the failure (their logs' tails).
    """
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        for base in bases:
            while not await ready(session, base):
                if alive is not None:
                    alive()
                if time.monotonic() > deadline:
                    raise AssertionError(f"{base} never became ready"
                                         + (f"\n{context()}" if context else ""))
                await asyncio.sleep(interval)
