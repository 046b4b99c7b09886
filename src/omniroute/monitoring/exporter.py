"""``omniroute monitor``: exports consumer lag and pipeline health as Prometheus gauges."""

from __future__ import annotations

import asyncio

from prometheus_client import Gauge

from omniroute.monitoring.lag import LagProbe
from omniroute.observability.health import Health, serve_operations
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
SCRAPE_ERRORS = Gauge(
    "omniroute_monitor_up",
    "1 when the last lag measurement succeeded, 0 when Kafka could not be read.",
)

MEASURE_TIMEOUT = 30.0
log = get_logger(__name__)


def publish(lags: list[tuple[str, str, int, int, float]]) -> None:
    """Replace the gauges with one measurement (gone partitions disappear)."""
    LAG_MESSAGES.clear()
    LAG_SECONDS.clear()
    for group, topic, partition, messages, seconds in lags:
        labels = (group, topic, str(partition))
        LAG_MESSAGES.labels(*labels).set(messages)
        LAG_SECONDS.labels(*labels).set(seconds)


async def run_monitor(settings: Settings, interval: float = 10.0) -> None:
    """Measure lag every ``interval`` seconds until cancelled."""
    record_build_info("monitor")
    health = Health()
    runner = await serve_operations(settings.metrics_port, health, settings.bind_host)
    probe = LagProbe(settings.kafka_bootstrap, topic_prefix=settings.topic("omniroute."))
    started = False
    try:
        while True:
            try:
                if not started:
                    await probe.start()
                    started = True
                lags = await asyncio.wait_for(probe.measure(), timeout=MEASURE_TIMEOUT)
                publish([(x.group, x.topic, x.partition, x.messages, x.seconds) for x in lags])
                ends = await asyncio.wait_for(probe.end_offsets(), timeout=MEASURE_TIMEOUT)
                for topic, end in ends.items():
                    END_OFFSETS.labels(topic).set(end)
                if not SCRAPE_ERRORS._value.get():
                    log.info("measuring consumer lag", partitions=len(lags), topics=len(ends))
                SCRAPE_ERRORS.set(1)
            except Exception as exc:  # Kafka away or slow: report and keep trying
                SCRAPE_ERRORS.set(0)
                log.warning("lag measurement failed", error=repr(exc))
            await asyncio.sleep(interval)
    finally:
        if started:
            await probe.stop()
        await runner.cleanup()
