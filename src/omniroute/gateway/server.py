"""The gateway's composition root: pool, producer, fan-out consumer and the web server."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from aiohttp import web

from omniroute.errors import BrokerError
from omniroute.gateway.app import Gateway, build_app
from omniroute.gateway.stream import Fanout, consume_assignments
from omniroute.infra.guarded_producer import GuardedProducer
from omniroute.infra.postgres import create_pool
from omniroute.observability.health import Health
from omniroute.settings import Settings


@dataclass
class RunningGateway:
    """A started gateway; ``url`` is where it answers."""

    url: str
    gateway: Gateway


@contextlib.asynccontextmanager
async def running_gateway(settings: Settings, database_url: str,
                          port: int | None = None) -> AsyncIterator[RunningGateway]:
    """Start the gateway, yield it, and stop everything on exit."""
    pool = await create_pool(database_url, min_size=1, max_size=10)
    producer = GuardedProducer(settings.kafka_bootstrap, "omniroute-gateway",
                               settings.gateway_publish_timeout)
    await producer.start()
    fanout = Fanout()
    started = asyncio.Event()
    consumer = asyncio.create_task(consume_assignments(settings, fanout, started))
    gateway = Gateway(settings, pool, producer, fanout)
    health = Health()

    async def database() -> None:
        await pool.fetchval("SELECT 1")

    async def assignments_stream() -> None:
        if not started.is_set() or consumer.done():
            raise RuntimeError("the assignments consumer is not running")

    health.add("database", database)
    health.add("assignments", assignments_stream)
    runner = web.AppRunner(build_app(gateway, health), access_log=None)
    await runner.setup()
    bind_port = settings.gateway_port if port is None else port
    site = web.TCPSite(runner, settings.bind_host, bind_port)
    try:
        await site.start()
        ready = asyncio.create_task(started.wait())
        await asyncio.wait({ready, consumer}, timeout=30, return_when=asyncio.FIRST_COMPLETED)
        if consumer.done():
            consumer.result()  # raises what stopped it
        if not started.is_set():
            raise BrokerError("the assignments consumer did not start within 30 s")
        yield RunningGateway(f"http://{settings.bind_host}:{bind_port}", gateway)
    finally:
        await runner.cleanup()
        consumer.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await consumer
        await producer.stop()
        await pool.close()
