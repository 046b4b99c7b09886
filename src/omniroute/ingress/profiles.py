"""Names for senders who came without one, from the providers' profile APIs.

LINE, Messenger and Instagram webhooks name a customer only by an opaque id, so the
agent saw ``cus_…`` on the offer, the list and the board (user runs 4 and 5).
Their connectors say how to ask the provider's profile API
(:meth:`~omniroute_connectors.base.Connector.profile_lookup`); the ingress asks
before it publishes the message, and the name then travels with it like a
WhatsApp or Telegram sender's (history, gateway, console, reports).

The lookup never costs the customer their message: it waits at most
``OMNIROUTE_PROFILE_LOOKUP_TIMEOUT_S`` (2 s; 0 turns lookups off), a failure
publishes the message without a name, and:

- an answer is remembered for a day per (provider, account, sender): a customer's
  next messages ask nothing (a name that is absent is remembered too);
- a failure (timeout, 5xx, 429, a refused connection) is remembered for 10 minutes
  for that sender, and three failures in a row stop every lookup of that provider
  for a minute, so an outage of the profile API delays no webhook by more than a
  few timeouts;
- concurrent webhooks of one new sender share one request.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import aiohttp
from prometheus_client import Counter

from omniroute.contract import InboundMessage
from omniroute.observability.logs import get_logger
from omniroute_connectors.base import Connector, Event, ProfileLookup

log = get_logger(__name__)

LOOKUPS = Counter(
    "omniroute_ingress_profile_lookups_total",
    "Sender names asked of a provider's profile API, by provider and outcome "
    "(named, unnamed, failed, remembered, paused).",
    ["provider", "outcome"],
)

KNOWN_S = 86_400.0
"""How long an answer (a name, or none) is remembered."""
FAILED_S = 600.0
"""How long a failed lookup of one sender is not tried again."""
PAUSE_AFTER = 3
"""Failures in a row after which a provider's lookups pause ..."""
PAUSE_S = 60.0
"""... for this long."""
REMEMBERED = 65_536
NAME_MAX = 200
"""The contract's limit on an address's name."""

Key = tuple[str, str, str, str | None]


class Profiles:
    """The ingress's profile lookups: one HTTP session, answers remembered, outages paused."""

    def __init__(self, timeout_s: float, clock: Any = time.monotonic) -> None:
        self.timeout_s = timeout_s
        self._clock = clock
        self._known: OrderedDict[Key, tuple[str | None, float]] = OrderedDict()
        self._pending: dict[Key, asyncio.Task[str | None]] = {}
        self._failures: dict[str, int] = {}
        self._paused_until: dict[str, float] = {}
        self._session: aiohttp.ClientSession | None = None

    async def complete(self, connector: Connector, events: Sequence[Event]) -> Sequence[Event]:
        """``events`` with a name for every unnamed sender the provider could name."""
        if self.timeout_s <= 0:
            return events
        wanted = [(index, event, lookup) for index, event in enumerate(events)
                  if isinstance(event, InboundMessage) and event.sender.name is None
                  and (lookup := connector.profile_lookup(event)) is not None]
        if not wanted:
            return events
        names = await asyncio.gather(*(self._name(connector.name, event, lookup)
                                       for _index, event, lookup in wanted))
        completed = list(events)
        for (index, event, _lookup), name in zip(wanted, names, strict=True):
            if name:
                sender = event.sender.model_copy(update={"name": name[:NAME_MAX]})
                completed[index] = event.model_copy(update={"sender": sender})
        return completed

    async def _name(self, provider: str, message: InboundMessage,
                    lookup: ProfileLookup) -> str | None:
        key = (provider, message.channel_account, message.sender.value, message.sender.scope)
        now = self._clock()
        known = self._known.get(key)
        if known is not None and known[1] > now:
            LOOKUPS.labels(provider, "remembered").inc()
            return known[0]
        if self._paused_until.get(provider, 0.0) > now:
            LOOKUPS.labels(provider, "paused").inc()
            return None
        task = self._pending.get(key)
        if task is None:
            task = asyncio.ensure_future(self._ask(provider, key, lookup))
            self._pending[key] = task
            task.add_done_callback(lambda _task: self._pending.pop(key, None))
        return await asyncio.shield(task)

    async def _ask(self, provider: str, key: Key, lookup: ProfileLookup) -> str | None:
        try:
            async with asyncio.timeout(self.timeout_s):
                status, body = await self._get(lookup)
        except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
            self._failed(provider, key, type(exc).__name__)
            return None
        if status >= 500 or status == 429:
            self._failed(provider, key, f"HTTP {status}")
            return None
        self._failures[provider] = 0
        name = lookup.name_of(body) if status < 300 else None
        if status >= 300:
            log.info("ingress.profile_unavailable", provider=provider, status=status)
        LOOKUPS.labels(provider, "named" if name else "unnamed").inc()
        self._remember(key, name, KNOWN_S)
        return name

    async def _get(self, lookup: ProfileLookup) -> tuple[int, Any]:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        async with self._session.get(lookup.url, params=list(lookup.query),
                                     headers=dict(lookup.headers)) as response:
            body = await response.json(content_type=None) if response.status < 300 else None
            return response.status, body

    def _failed(self, provider: str, key: Key, error: str) -> None:
        LOOKUPS.labels(provider, "failed").inc()
        failures = self._failures.get(provider, 0) + 1
        self._failures[provider] = failures
        log.warning("ingress.profile_lookup_failed", provider=provider, error=error,
                    failures_in_a_row=failures)
        if failures >= PAUSE_AFTER:
            self._paused_until[provider] = self._clock() + PAUSE_S
            self._failures[provider] = 0
        self._remember(key, None, FAILED_S)

    def _remember(self, key: Key, name: str | None, for_s: float) -> None:
        self._known[key] = (name, self._clock() + for_s)
        self._known.move_to_end(key)
        while len(self._known) > REMEMBERED:
            self._known.popitem(last=False)

    async def close(self) -> None:
        """Close the HTTP session (the host's shutdown)."""
        for task in list(self._pending.values()):
            task.cancel()
        if self._session is not None:
            await self._session.close()
            self._session = None
