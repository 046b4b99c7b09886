"""The composition root of ``omniroute worker``: topics, metrics, the faust worker."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

import faust

from omniroute.observability.health import Health, kafka_check, serve_operations
from omniroute.observability.logs import get_logger
from omniroute.observability.metrics import record_build_info
from omniroute.settings import Settings
from omniroute.worker.app import PROCESSORS, build
from omniroute.worker.topology import ensure_changelogs, ensure_topics

log = get_logger("omniroute.worker")


def run(settings: Settings, processors: Iterable[str] = PROCESSORS) -> None:
    """Run the worker until SIGTERM/SIGINT: every processor's agents on one faust app.

    Topics are created first (internal ones and the tables' changelogs sized like
    ``omniroute.inbound.v1``),
    ``/metrics``, ``/healthz`` and ``/readyz`` are served on ``settings.metrics_port``.
    """
    partitions = asyncio.run(ensure_topics(settings))
    (settings.state_dir / "worker").mkdir(parents=True, exist_ok=True)
    record_build_info("worker")
    worker = build(settings, partitions, processors)
    asyncio.run(ensure_changelogs(settings, sorted(worker.app.tables), partitions))
    health = Health()
    health.add("kafka", kafka_check(settings.kafka_bootstrap))

    @worker.app.task  # type: ignore[untyped-decorator]
    async def serve_operations_endpoints() -> None:
        """``/metrics``, ``/healthz`` and ``/readyz`` on the worker's metrics port."""
        await serve_operations(settings.metrics_port, health, settings.bind_host)

    log.info("worker_starting", app_id=worker.app.conf.id, partitions=partitions,
             metrics_port=settings.metrics_port, processors=list(processors))
    faust.Worker(
        worker.app, quiet=True, loglevel=settings.log_level.upper(), redirect_stdouts=False,
        override_logging=False,
    ).execute_from_commandline()
