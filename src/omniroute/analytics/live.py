"""Live support gauges for Prometheus: ``omniroute analytics run`` refreshes and publishes.

Every ``interval`` seconds: an incremental refresh, then per pool the last
hour's figures as gauges (a support lead's wallboard; Grafana dashboard
``omniroute-support`` in ``deploy/grafana``). Labels are pools only, never
agents or customers.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import UTC, datetime, timedelta

import asyncpg
from prometheus_client import Gauge

from omniroute.analytics.capacity import live_capacities
from omniroute.analytics.compute import refresh
from omniroute.analytics.formulas import OfficeHours
from omniroute.analytics.kpis import Period, kpis
from omniroute.analytics.report import cells_by
from omniroute.infra.postgres import create_pool, resolve_database_url
from omniroute.observability.health import Health, serve_operations
from omniroute.observability.logs import get_logger
from omniroute.settings import Settings

WINDOW = timedelta(hours=1)
WAITING = Gauge("omniroute_support_conversations_waiting",
                "Open conversations no agent holds now, per pool.", ["pool"])
FIGURE = Gauge("omniroute_support_last_hour",
               "Support figures over the last hour per pool (seconds, ratios 0-1, counts).",
               ["pool", "figure"])
REFRESH_SECONDS = Gauge("omniroute_analytics_refresh_seconds",
                        "How long the last incremental analytics refresh took.")
REFRESHED_AT = Gauge("omniroute_analytics_refreshed_timestamp_seconds",
                     "When analytics were last refreshed (Unix time).")
FIGURES = ("conversations", "frt_median", "frt_p90", "queue_wait_mean", "abandon_rate",
           "missed", "fcr_rate", "csat", "occupancy", "concurrency", "agents_online",
           "agents_chatting", "sla_breach_rate", "bot_resolution_rate", "handle_time_mean")

log = get_logger(__name__)


async def publish(conn: asyncpg.Connection, now: datetime, max_concurrency: int = 3) -> None:
    """Set every gauge from the aggregates of the last hour and the open conversations."""
    where = "interval_start >= $1 AND interval_start < $2 AND ($3::text IS NULL OR workspace = $3)"
    cells = await cells_by(conn, ["pool"], where, (now - WINDOW, now, None))
    for (pool,), metrics in cells.items():
        figures = kpis(metrics, Period(WINDOW.total_seconds(), max_concurrency))
        for name in FIGURES:
            value = figures[name]
            if value is not None:
                FIGURE.labels(pool or "none", name).set(value)
    for r in await conn.fetch(
            """SELECT COALESCE(c.pool, '') AS pool, count(*) AS n FROM conversations c
               LEFT JOIN conversation_assignments a USING (conversation_id)
               WHERE c.status = 'open' AND (a.state IS NULL OR a.state <> 'assigned')
               GROUP BY 1"""):
        WAITING.labels(r["pool"] or "none").set(r["n"])


async def run_live(settings: Settings, interval: float, stop: asyncio.Event | None = None) -> None:
    """Refresh and publish until ``stop`` is set; serve /metrics, /healthz, /readyz."""
    stop = stop or asyncio.Event()
    url = resolve_database_url(settings)
    hours = OfficeHours.parse(settings.analytics_office_hours)
    # two connections: readiness is probed on its own while a refresh holds the other
    pool = await create_pool(url, min_size=1, max_size=2,
                             timeout=settings.database_connect_timeout)
    health = Health()

    async def database() -> None:
        await pool.fetchval("SELECT 1")

    health.add("database", database)
    runner = await serve_operations(settings.metrics_port, health, settings.bind_host)
    try:
        while not stop.is_set():
            started = time.monotonic()
            now = datetime.now(UTC)
            async with pool.acquire() as conn:
                result = await refresh(conn, now, hours=hours,
                                       short_abandon_s=settings.analytics_short_abandon_seconds,
                                       capacity=await live_capacities(settings))
                await publish(conn, now, settings.analytics_max_concurrency)
            REFRESH_SECONDS.set(time.monotonic() - started)
            REFRESHED_AT.set(now.timestamp())
            log.info("analytics refreshed", **result.__dict__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)
    finally:
        await runner.cleanup()
        await pool.close()
