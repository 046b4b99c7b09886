"""Routing requests out of the worker: straight into their pool's stream when the worker
knows the pool, else to the router's repartition hop (:mod:`omniroute.routing.entry`).

Registered like a processor: it follows the live routing configuration beside the
worker's loop. A worker built without it sends every request to the router's hop.
"""

from __future__ import annotations

import asyncio
import contextlib

from omniroute.routing.config import RoutingConfig
from omniroute.routing.entry import Entry
from omniroute.routing.requests import RoutingRequest
from omniroute.worker.app import Worker

READY_TIMEOUT = 10.0
"""Seconds a request waits for the live configuration at start-up before it takes the
router's hop anyway (the broker is slow or the configuration topic unreadable)."""
ENTRY = "routing-entry"
"""The worker component that holds the :class:`Entry`."""
_ROUTER_CHOOSES = Entry()
"""Never ready (nothing follows it): every request through the router's repartition hop."""


def register(worker: Worker) -> None:
    """Follow the live routing configuration beside the worker's loop."""
    entry = worker.components[ENTRY] = Entry(
        builtin_is_live=worker.settings.routing_config is None)

    async def follow_routing_config() -> None:
        """Pools chosen here as the routers choose them (every version, as published)."""
        await entry.follow(worker.settings)

    worker.app.task(follow_routing_config)


async def live_ready(worker: Worker) -> None:
    """Wait (at most ``READY_TIMEOUT``, once after start-up) until the live routing
    configuration was read, in a worker that follows it."""
    entry = worker.components.get(ENTRY, _ROUTER_CHOOSES)
    if entry is not _ROUTER_CHOOSES and not entry.live.ready.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(entry.live.ready.wait(), READY_TIMEOUT)


async def send_request(worker: Worker, request: RoutingRequest) -> None:
    """Produce ``request`` in the current transaction, into its pool where this worker
    knows it. The first requests after start-up wait (at most ``READY_TIMEOUT``) for the
    configuration to be read, so a conversation's requests take one path, not the
    router's hop for the first and its pool for the next (which could overtake it)."""
    await live_ready(worker)
    await produce_request(worker, request)


async def produce_request(worker: Worker, request: RoutingRequest) -> None:
    """:func:`send_request` for a caller that already waited with :func:`live_ready`."""
    entry = worker.components.get(ENTRY, _ROUTER_CHOOSES)
    topic, key, value = entry.record(request)
    await worker.send(topic, key.decode(), value, request.channel.value)


def live_published_at(worker: Worker) -> float:
    """When the live routing configuration this worker follows was published (0: none read)."""
    entry = worker.components.get(ENTRY)
    return entry.live.at if isinstance(entry, Entry) else 0.0


def live_routing(worker: Worker, fallback: RoutingConfig) -> RoutingConfig:
    """The routing configuration the routers use, as this worker follows it (changes through
    the admin API or ``router configure`` arrive without a restart); ``fallback`` (the
    file's) until a version was read, or in a worker that follows none."""
    entry = worker.components.get(ENTRY)
    return entry.live.config if isinstance(entry, Entry) and entry.live.version else fallback
