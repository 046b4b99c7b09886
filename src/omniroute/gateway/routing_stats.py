"""``GET /api/v1/routing/stats``: real-time and today's queue and agent statistics of
every routing pool, for supervisors (TaskRouter's statistics endpoints, over the API
and not only Prometheus).

The routers publish each pool's figures every 2 s on a compacted topic
(:mod:`omniroute.routing.statsfeed`); the gateway reads the latest per pool, at most
once a second however many supervisors ask. Fields: see ``docs/routing.md``.

A pool the live configuration no longer has is left out: its last figures stay on the
compacted topic after it is retired (the built-in ``default`` pool was listed, empty,
on every stack whose routing file replaced it). Before any version is published every
pool a router publishes is shown.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web
from aiokafka.errors import KafkaError

from omniroute.gateway.problems import NotFound, Unavailable
from omniroute.gateway.supervision import require_supervisor
from omniroute.routing.config import RoutingConfig
from omniroute.routing.statsfeed import read_stats

if TYPE_CHECKING:
    from omniroute.gateway.app import Gateway

CACHE_S = 1.0
Route = tuple[str, str, Callable[[web.Request], Awaitable[web.StreamResponse]]]
LiveConfig = Callable[[], Awaitable[tuple[int, RoutingConfig]]]
"""The live routing configuration and its version (0: none published yet)."""


class RoutingStats:
    """Handlers of the routing statistics routes."""

    def __init__(self, gateway: Gateway, config: LiveConfig) -> None:
        self.g = gateway
        self.config = config
        self.cache: tuple[float, dict[str, dict[str, Any]]] | None = None

    async def latest(self) -> dict[str, dict[str, Any]]:
        """Every configured pool's latest statistics (cached for ``CACHE_S``)."""
        if self.cache is None or time.monotonic() - self.cache[0] > CACHE_S:
            try:
                published = await read_stats(self.g.settings)
                version, config = await self.config()
            except KafkaError as exc:
                raise Unavailable(f"cannot read routing statistics from Kafka: {exc}") from exc
            if version:
                published = {p: doc for p, doc in published.items() if p in config.pools}
            self.cache = (time.monotonic(), published)
        return self.cache[1]

    async def all_pools(self, request: web.Request) -> web.Response:
        """Every pool's statistics."""
        require_supervisor(await self.g.who(request))
        pools = await self.latest()
        return web.json_response({"pools": [pools[p] for p in sorted(pools)]})

    async def one_pool(self, request: web.Request) -> web.Response:
        """One pool's statistics (404 when no router has published it)."""
        require_supervisor(await self.g.who(request))
        pool = request.match_info["pool"]
        stats = (await self.latest()).get(pool)
        if stats is None:
            raise NotFound(f"no statistics for pool {pool!r} (unknown, retired, or no router "
                           "runs it)")
        return web.json_response(stats)

    def routes(self) -> list[Route]:
        """(method, path, handler) of every routing statistics route."""
        api = "/api/v1"
        return [("GET", f"{api}/routing/stats", self.all_pools),
                ("GET", f"{api}/routing/stats/{{pool}}", self.one_pool)]
