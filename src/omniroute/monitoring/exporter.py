"""``omniroute monitor``: exports consumer lag and pipeline health as Prometheus gauges."""

from __future__ import annotations

import asyncio

from prometheus_client import Gauge

from omniroute.monitoring.lag import LagProbe, PartitionLag
from omniroute.observability.health import Health, kafka_check, serve_operations
from omniroute.observability.logs import get_logger
from omniroute.observability.metrics import record_build_info
from omniroute.settings import Settings

LAG_MESSAGES = Gauge(
    "omniroute_consumer_lag_messages",
    "Records not yet consumed by a consumer group, per topic partition.",
    ["group", "topic", "partition"],
)
LAG_SECONDS = Gauge(
    "omniroute_consumer_lag_seconds",
    "Age of the oldest record a consumer group has not consumed, per topic partition.",
    ["group", "topic", "partition"],
)
END_OFFSETS = Gauge(
    "omniroute_topic_end_offset",
    "Records ever written to a topic (sum of its partitions' end offsets).",
    ["topic"],
)
MONITOR_UP = Gauge(
    "omniroute_monitor_up",
    "1 when the last lag measurement succeeded, 0 when Kafka could not be read.",
)

MEASURE_TIMEOUT = 30.0
log = get_logger(__name__)


def publish(lags: list[PartitionLag], ends: dict[str, int]) -> None:
    """Replace the gauges with one measurement (gone partitions disappear)."""
    LAG_MESSAGES.clear()
    LAG_SECONDS.clear()
    for lag in lags:
        labels = (lag.group, lag.topic, str(lag.partition))
        LAG_MESSAGES.labels(*labels).set(lag.messages)
        LAG_SECONDS.labels(*labels).set(lag.seconds)
    for topic, end in ends.items():
        END_OFFSETS.labels(topic).set(end)


async def run_monitor(settings: Settings, interval: float = 10.0) -> None:
    """Measure lag every ``interval`` seconds until cancelled."""
    record_build_info("monitor")
    health = Health()
    health.add("kafka", kafka_check(settings.kafka_bootstrap))
    runner = await serve_operations(settings.metrics_port, health, settings.bind_host)
    probe = LagProbe(settings.kafka_bootstrap, topic_prefix=settings.topic("omniroute."))
    started = measured = False
    try:
        while True:
            try:
                if not started:
                    await probe.start()
                    started = True
                lags = await asyncio.wait_for(probe.measure(), timeout=MEASURE_TIMEOUT)
                ends = await asyncio.wait_for(probe.end_offsets(), timeout=MEASURE_TIMEOUT)
                publish(lags, ends)
                if not measured:
                    log.info("measuring consumer lag", partitions=len(lags), topics=len(ends))
                measured = True
                MONITOR_UP.set(1)
            except Exception as exc:  # Kafka away or slow: report and keep trying
                MONITOR_UP.set(0)
                log.warning("lag measurement failed", error=repr(exc))
            await asyncio.sleep(interval)
    finally:
        if started:
            await probe.stop()
        await runner.cleanup()
