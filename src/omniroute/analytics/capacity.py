"""Agents' capacities for utilization, read from the live routing configuration."""

from __future__ import annotations

import asyncio

from aiokafka.errors import KafkaError

from omniroute.analytics.compute import Capacity, capacities, uniform
from omniroute.errors import BrokerError
from omniroute.observability.logs import get_logger
from omniroute.settings import Settings

log = get_logger(__name__)


async def live_capacities(settings: Settings, timeout: float = 15.0) -> Capacity:
    """Each agent's capacity in the latest routing configuration; everyone's is
    ``OMNIROUTE_ANALYTICS_MAX_CONCURRENCY`` when Kafka does not answer in time."""
    from omniroute.routing.live import read_config

    nominal = settings.analytics_max_concurrency
    try:
        _, config = await asyncio.wait_for(read_config(settings), timeout)
    except (KafkaError, BrokerError, OSError, TimeoutError) as exc:
        log.warning("analytics.capacities_unknown", error=str(exc) or type(exc).__name__,
                    nominal=nominal)
        return uniform(nominal)
    return capacities(config, nominal)
