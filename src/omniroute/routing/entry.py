"""Where a routing request enters the router: straight into its pool's stream when the
producer knows the pool, else through the router's repartition hop.

A producer of routing requests (the worker: threading, the bot, automation)
follows the live routing configuration (:class:`~omniroute.routing.live.LiveConfig`)
the way every router process does, chooses the pool with the same rules
(:meth:`RoutingConfig.choose_pool`) and writes the request as that pool's
input (``omniroute.internal.routing-pool-events``, key pool), in its own
transaction: the decide loop reads it next, one exactly-once hop instead of two.

The request still goes to ``omniroute.internal.routing-requests`` (the router
picks the pool) when

- the producer has not read the configuration to its end yet;
- nothing was ever published (version 0) and the deployment has a routing
  configuration file (``OMNIROUTE_ROUTING_CONFIG``): the router imports it when
  it starts, and a pool chosen from the built-in configuration before that
  could be one the file does not have. Without a file the built-in
  configuration is the live one and requests go straight to its pool. (A
  router given ``--config`` on its command line alone, on a deployment where
  nothing was published yet, leaves a window until its import is read: give
  the file through the environment, as ``omniroute up`` does.)
- no rule and no default pool takes it: the router dead-letters it and parks
  the conversation with the reason, as before.

A request written straight into a pool is marked ``direct`` in its record: it
moves the pool's clock but not its input clock, which only inputs of the
repartition hop move (agents' heartbeats travel that hop; a stall of it must
not make agents look lost while conversations keep arriving). The record also
carries the whole request (``request``), so what was asked of the router reads
the same on either topic (:func:`request_of`).
"""

from __future__ import annotations

import asyncio
import json
import time

from omniroute.routing.live import LiveConfig
from omniroute.routing.requests import TOPIC as REQUESTS
from omniroute.routing.requests import RoutingRequest
from omniroute.routing.shell import stamp
from omniroute.routing.wire import POOL_TOPIC, Record, request_record
from omniroute.settings import Settings


class Entry:
    """The record a routing request is produced as (see the module docstring)."""

    def __init__(self, live: LiveConfig | None = None, *, builtin_is_live: bool = True) -> None:
        self.live = live or LiveConfig()
        self.builtin_is_live = builtin_is_live
        """Whether version 0 (nothing published) is the configuration the routers use."""

    def pool_of(self, request: RoutingRequest) -> str | None:
        """The pool that takes ``request`` by the live configuration; None when this
        producer must leave the choice to the router."""
        live = self.live
        if not live.ready.is_set() or (live.version == 0 and not self.builtin_is_live):
            return None
        return request.pool or live.config.choose_pool(
            request.channel.value, request.intent, request.language, dict(request.skills))

    def record(self, request: RoutingRequest, now: float | None = None) -> Record:
        """``(topic, key, value)`` of ``request``: its pool's input, or the router's request."""
        pool = self.pool_of(request)
        if pool is None:
            return REQUESTS, request.conversation_id.encode(), request.to_json_bytes()
        at = stamp(request.occurred_at, time.time() if now is None else now)
        return request_record(request, pool, at, direct=True)

    async def follow(self, settings: Settings) -> None:
        """Keep the live configuration current until cancelled."""
        await self.live.follow(settings, asyncio.Event())


ENTRY_TOPICS = (REQUESTS, POOL_TOPIC)
"""Where routing requests are written (before namespacing)."""


def request_of(topic: str, value: bytes) -> RoutingRequest | None:
    """The routing request a record of either entry topic carries (None for the pool
    stream's other inputs: agents' events, ticks, configuration, forwarded work)."""
    if topic.endswith(REQUESTS):
        return RoutingRequest.from_json_bytes(value)
    raw = json.loads(value)
    return RoutingRequest.model_validate(raw["request"]) if "request" in raw else None
