"""The composition root of ``omniroute worker``: topics, metrics, the faust worker."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

import faust

from omniroute.errors import BrokerError
from omniroute.infra.collector import tune_collector
from omniroute.observability.health import Health, kafka_check, serve_operations
from omniroute.observability.logs import get_logger
from omniroute.observability.metrics import record_build_info
from omniroute.settings import Settings
from omniroute.worker.app import PROCESSORS, build
from omniroute.worker.topology import (
    changelog_topic,
    ensure_changelogs,
    ensure_topics,
    partition_counts,
)

log = get_logger("omniroute.worker")


def run(settings: Settings, processors: Iterable[str] = PROCESSORS) -> None:
    """Run the worker until SIGTERM/SIGINT: every processor's agents on one faust app.

    Topics are created first (internal ones and the tables' changelogs sized like
    ``omniroute.inbound.v1``),
    ``/metrics``, ``/healthz`` and ``/readyz`` are served on ``settings.metrics_port``.
    """
    if settings.worker_engine == "batch":
        run_batch(settings, processors)
        return
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


def run_batch(settings: Settings, processors: Iterable[str] = PROCESSORS) -> None:
    """Run the processors on the batch engine (:mod:`.batchapp`) until SIGTERM/SIGINT.

    Refuses to start unless every input and changelog topic has as many
    partitions as ``omniroute.inbound.v1`` (a partition number is the unit of
    ownership). Takes over from the faust worker's group (:mod:`.legacy`):
    waits while it has members (``/readyz`` fails meanwhile), and starts each
    input without a commit of its own where faust committed.
    """
    from omniroute.worker import batchapp
    from omniroute.worker.legacy import LegacyGroup

    partitions = asyncio.run(ensure_topics(settings))
    record_build_info("worker")
    worker = batchapp.build(settings, partitions, processors)
    asyncio.run(ensure_changelogs(settings, sorted(worker.app.tables), partitions))
    needed = {topic.removeprefix(settings.topic_namespace) for topic in worker.agents}
    needed |= {changelog_topic(table) for table in worker.app.tables}
    counts = asyncio.run(partition_counts(settings, needed))
    wrong = {topic: count for topic, count in counts.items() if count != partitions}
    missing = sorted(needed - set(counts))
    if wrong or missing:
        raise BrokerError(f"the batch worker needs {partitions} partitions on every input "
                          f"and changelog topic; found {wrong or 'no others'} with another "
                          f"count and {missing or 'none'} without a leader")
    legacy = LegacyGroup(settings)
    health = Health()
    health.add("kafka", kafka_check(settings.kafka_bootstrap))
    health.add("legacy_worker", legacy.readiness)

    async def serve_operations_endpoints() -> None:
        await serve_operations(settings.metrics_port, health, settings.bind_host)

    tune_collector()
    log.info("worker_starting", engine="batch", group=settings.topic(batchapp.GROUP),
             partitions=partitions, metrics_port=settings.metrics_port,
             processors=list(processors))
    asyncio.run(batchapp.serve(worker, [serve_operations_endpoints], legacy))
