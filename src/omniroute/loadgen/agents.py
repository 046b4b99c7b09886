"""Simulated agents working a running stack through the agent gateway's public API.

Each agent sets itself available, heartbeats, accepts the offers it gets,
replies once to each conversation it holds, and resolves the conversation
``handle_seconds`` after it first saw it, all over HTTP with its own bearer
token, the way an agent app does. The agents must be members of a pool in the
stack's routing configuration.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import aiohttp

API = "/api/v1"


@dataclass
class Work:
    """What the simulated agents did (shared by all of them)."""

    accepted: int = 0
    replied: int = 0
    resolved: int = 0
    errors: int = 0
    reply_seconds: list[float] = field(default_factory=list)
    """From first seeing a held conversation to the reply's 2xx."""


@dataclass
class Agent:
    """One simulated agent."""

    agent_id: str
    token: str
    work: Work
    handle_seconds: float = 8.0
    seen: dict[str, float] = field(default_factory=dict)
    replied: set[str] = field(default_factory=set)
    done: set[str] = field(default_factory=set)
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    """Part of every reply's client_id: a later run replying in the same (reopened)
    conversation sends a new reply, not a retry of this run's (the gateway publishes a
    client_id once)."""

    async def run(self, session: aiohttp.ClientSession, gateway: str, stop: asyncio.Event,
                  poll_seconds: float = 1.0) -> None:
        """Work until ``stop``: presence, heartbeats, offers, replies, resolutions."""
        headers = {"Authorization": f"Bearer {self.token}"}
        await self._post(session, f"{gateway}{API}/presence", headers,
                         {"presence": "available"})
        last_beat = time.monotonic()
        while not stop.is_set():
            if time.monotonic() - last_beat >= 5.0:
                last_beat = time.monotonic()
                await self._post(session, f"{gateway}{API}/heartbeat", headers, {})
            offers = (await self._get(session, f"{gateway}{API}/offers", headers))\
                .get("offers", [])
            accepted = await asyncio.gather(*(
                self._post(session, f"{gateway}{API}/offers/{offer['offer_id']}/accept",
                           headers, {"conversation_id": offer["conversation_id"]})
                for offer in offers))
            self.work.accepted += sum(accepted)
            held = (await self._get(session, f"{gateway}{API}/conversations", headers))\
                .get("conversations", [])
            await asyncio.gather(*(self._work_on(session, gateway, headers, conversation)
                                   for conversation in held))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), poll_seconds)

    async def _work_on(self, session: aiohttp.ClientSession, gateway: str,
                       headers: dict[str, str], conversation: dict[str, Any]) -> None:
        cid = conversation["conversation_id"]
        if cid in self.done or conversation.get("status") not in (None, "open"):
            return
        first = self.seen.setdefault(cid, time.monotonic())
        url = f"{gateway}{API}/conversations/{cid}"
        if cid not in self.replied:
            if await self._post(session, f"{url}/replies", headers, {
                    "text": "Thanks for writing, looking into it now.",
                    "client_id": f"{self.run_id}-{cid}-1"}):
                self.replied.add(cid)
                self.work.replied += 1
                self.work.reply_seconds.append(time.monotonic() - first)
        elif time.monotonic() - first >= self.handle_seconds and await self._post(
                session, f"{url}/resolve", headers, {"reason": "loadgen"}):
            self.done.add(cid)
            self.work.resolved += 1

    async def _get(self, session: aiohttp.ClientSession, url: str,
                   headers: dict[str, str]) -> dict[str, Any]:
        try:
            async with session.get(url, headers=headers) as response:
                if response.status == 200:
                    found: dict[str, Any] = await response.json()
                    return found
        except (TimeoutError, aiohttp.ClientError):
            pass
        self.work.errors += 1
        return {}

    async def _post(self, session: aiohttp.ClientSession, url: str, headers: dict[str, str],
                    body: dict[str, Any]) -> bool:
        try:
            async with session.post(url, json=body, headers=headers) as response:
                await response.read()
                if 200 <= response.status < 300:
                    return True
        except (TimeoutError, aiohttp.ClientError):
            pass
        self.work.errors += 1
        return False
