"""Running the ingress: load plugins, start the producer, serve HTTP, start plugin services.

Operations endpoints on the same port (in development, or with
``OMNIROUTE_INGRESS_PUBLIC_OPERATIONS=true``; in production they are served on
``OMNIROUTE_METRICS_PORT`` instead, off the public port): ``/metrics`` (the default registry, with
``omniroute_build_info{component="ingress"}``), ``/healthz`` (liveness) and
``/readyz`` (ready when the Kafka producer is started and the broker answers, and,
when ``OMNIROUTE_DATABASE_URL`` is set, PostgreSQL answers: the email ledger, bounce
attribution and web chat transcripts live there). The SMTP server runs inside this
process, so these endpoints cover it too.
"""

from __future__ import annotations

import asyncio
import signal

from aiohttp import web

from omniroute.infra.postgres import connect
from omniroute.ingress.app import build_app
from omniroute.ingress.publisher import KafkaPublisher
from omniroute.observability.health import Health, serve_operations
from omniroute.observability.logs import get_logger
from omniroute.observability.metrics import record_build_info
from omniroute.settings import Environment, Settings
from omniroute_connectors.base import Connector, Service
from omniroute_connectors.registry import load_connectors

log = get_logger(__name__)


def enabled_connectors(settings: Settings, only: frozenset[str] | None = None) -> list[Connector]:
    """Every registered connector whose secrets are configured (the others are logged)."""
    active = []
    for connector in load_connectors(settings, only):
        if connector.enabled():
            active.append(connector)
        else:
            log.warning("connector_disabled", connector=connector.name,
                        reason="its secret is not configured")
    return active


class IngressServer:
    """The ingress process: HTTP server, Kafka producer and plugin services."""

    def __init__(self, settings: Settings, connectors: list[Connector] | None = None,
                 port: int | None = None) -> None:
        self.settings = settings
        self.connectors = enabled_connectors(settings) if connectors is None else connectors
        self.port = settings.ingress_port if port is None else port
        self.publisher = KafkaPublisher(settings)
        self.services: list[Service] = []
        self.health = Health()
        self.health.add("kafka", self.publisher.check)
        if settings.database_url:
            self.health.add("database", self.check_database)
        self._runner: web.AppRunner | None = None
        self._operations: web.AppRunner | None = None
        public = settings.ingress_public_operations
        self.public_operations = (settings.env is Environment.DEVELOPMENT if public is None
                                  else public)

    async def check_database(self) -> None:
        """Readiness: PostgreSQL answers (one short-lived connection per probe)."""
        assert self.settings.database_url
        conn = await connect(self.settings.database_url, timeout=self.health.timeout)
        try:
            await conn.fetchval("SELECT 1")
        finally:
            await conn.close()

    async def start(self) -> None:
        """Start the producer (lazily if Kafka is down), the HTTP server, then plugin services."""
        record_build_info("ingress")
        await self.publisher.start()
        app = build_app(self.settings, self.connectors, self.publisher, self.health,
                        operations=self.public_operations)
        if not self.public_operations:
            self._operations = await serve_operations(self.settings.metrics_port, self.health,
                                                      self.settings.bind_host)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.settings.bind_host, self.port).start()
        for connector in self.connectors:
            for service in connector.services(self.publisher):
                await service.start()
                self.services.append(service)
        log.info("ingress_started", port=self.port,
                 connectors=[c.name for c in self.connectors])

    async def stop(self) -> None:
        """Stop services, then HTTP (finishing requests in flight), then the producer."""
        for service in reversed(self.services):
            await service.stop()
        if self._runner is not None:
            await self._runner.cleanup()
        if self._operations is not None:
            await self._operations.cleanup()
        await self.publisher.stop()


async def run_ingress(settings: Settings) -> None:
    """Serve until SIGINT/SIGTERM."""
    server = IngressServer(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await server.start()
    try:
        await stop.wait()
    finally:
        await server.stop()
