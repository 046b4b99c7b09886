"""Liveness and readiness endpoints for every server process.

``GET /healthz`` answers 200 while the process runs its event loop (liveness).
``GET /readyz`` answers 200 only when every registered check passes — e.g. its
Kafka producer is connected and its database pool answers — else 503 with the
failing checks named, so a load balancer stops sending traffic to it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web

Check = Callable[[], Awaitable[None]]
"""A readiness check: returns when healthy, raises (anything) when not."""


@dataclass
class Health:
    """The readiness checks of one process."""

    checks: dict[str, Check] = field(default_factory=dict)
    timeout: float = 2.0

    def add(self, name: str, check: Check) -> None:
        """Register a named check."""
        self.checks[name] = check

    async def failures(self) -> dict[str, str]:
        """Every failing check with its reason (empty when ready)."""
        failed: dict[str, str] = {}
        for name, check in self.checks.items():
            try:
                await asyncio.wait_for(check(), self.timeout)
            except Exception as exc:  # a check may fail any way; report, never raise
                # the class only: a driver's message may name hosts, users or databases
                failed[name] = "timeout" if isinstance(exc, TimeoutError) else type(exc).__name__
        return failed

    async def liveness(self, _request: web.Request) -> web.Response:
        """``GET /healthz``."""
        return web.json_response({"status": "alive"})

    async def readiness(self, _request: web.Request) -> web.Response:
        """``GET /readyz``."""
        failed = await self.failures()
        if failed:
            return web.json_response({"status": "not ready", "failing": failed}, status=503)
        return web.json_response({"status": "ready", "checks": sorted(self.checks)})

    def mount(self, app: web.Application) -> None:
        """Add ``/healthz`` and ``/readyz`` to an aiohttp application."""
        app.router.add_get("/healthz", self.liveness)
        app.router.add_get("/readyz", self.readiness)


def kafka_check(bootstrap: str) -> Check:
    """A readiness check that passes while the Kafka cluster answers a metadata request."""

    async def check() -> None:
        from omniroute.infra.probe import probe

        await probe(bootstrap, timeout=2.0)

    return check


async def serve_operations(port: int, health: Health, host: str = "127.0.0.1") -> web.AppRunner:
    """Serve ``/metrics``, ``/healthz`` and ``/readyz`` for a process without its own HTTP server.

    Returns the runner; ``await runner.cleanup()`` stops it.
    """
    from omniroute.observability.metrics import metrics_handler

    app = web.Application()
    app.router.add_get("/metrics", metrics_handler)
    health.mount(app)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
