"""Agents' capacities for utilization, read from the live routing configuration."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiokafka.errors import KafkaError

from omniroute.analytics.compute import Capacity, capacities, uniform
from omniroute.errors import BrokerError
from omniroute.observability.logs import get_logger
from omniroute.routing.config import RoutingConfig
from omniroute.settings import Settings

log = get_logger(__name__)

Reader = Callable[[], Awaitable[tuple[int, RoutingConfig]]]


async def live_capacities(settings: Settings, timeout: float = 15.0,
                          reader: Reader | None = None) -> Capacity:
    """Each agent's capacity in the latest routing configuration; everyone's is
    ``OMNIROUTE_ANALYTICS_MAX_CONCURRENCY`` when Kafka does not answer in time.

    ``reader`` gives ``(version, configuration)``: by default a fresh read of the
    configuration topic (:func:`omniroute.routing.live.read_config`); the gateway passes its
    cached one."""
    from omniroute.routing.live import read_config

    nominal = settings.analytics_max_concurrency
    read = reader or (lambda: read_config(settings))
    try:
        _, config = await asyncio.wait_for(read(), timeout)
    except (KafkaError, BrokerError, OSError, TimeoutError) as exc:
        log.warning("analytics.capacities_unknown", error=str(exc) or type(exc).__name__,
                    nominal=nominal)
        return uniform(nominal)
    return capacities(config, nominal)
