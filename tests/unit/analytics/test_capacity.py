"""Agents' capacities for utilization: the live configuration's, the nominal one without it."""

from __future__ import annotations

import asyncio

from omniroute.analytics.capacity import live_capacities
from omniroute.errors import BrokerError
from omniroute.routing.config import RoutingConfig, parse_config
from omniroute.settings import Settings

SETTINGS = Settings(analytics_max_concurrency=4)
CONFIG = parse_config({"routing": {"default_pool": "support"},
                       "pools": {"support": {}},
                       "agents": {"ada": {"pool": "support", "capacity": 6}}})
WEIGHED = parse_config({"routing": {"default_pool": "support"},
                        "pools": {"support": {"auto_join": True}},
                        "agents": {"ada": {"pool": "support", "capacity": 3,
                                           "channels": {"email": {"weight": 3}}}}})


async def test_the_configuration_read_gives_each_agent_its_capacity() -> None:
    async def read() -> tuple[int, RoutingConfig]:
        return 7, CONFIG

    capacity = await live_capacities(SETTINGS, reader=read)
    assert (capacity("ada"), capacity("zoe")) == (6, 4)  # zoe is in no pool: the nominal


async def test_a_broker_error_or_a_hung_read_falls_back_to_the_nominal_for_everyone() -> None:
    async def fails() -> tuple[int, RoutingConfig]:
        raise BrokerError("no broker")

    async def hangs() -> tuple[int, RoutingConfig]:
        await asyncio.sleep(60)
        return 7, CONFIG

    for read in (fails, hangs):
        capacity = await live_capacities(SETTINGS, timeout=0.05, reader=read)
        assert (capacity("ada"), capacity("zoe")) == (4, 4)


async def test_each_agent_s_channels_weigh_as_the_routers_weigh_them() -> None:
    """ada's email takes her whole capacity of 3; zoe joins the auto-join pool with the
    default join capacity (every channel 1); without the configuration everything weighs 1."""
    async def read() -> tuple[int, RoutingConfig]:
        return 7, WEIGHED

    async def fails() -> tuple[int, RoutingConfig]:
        raise BrokerError("no broker")

    live = await live_capacities(SETTINGS, reader=read)
    assert (live.of("ada").weight("email"), live.of("ada").weight("webchat")) == (3, 1)
    assert (live("zoe"), live.of("zoe").weight("email")) == (3, 1)
    nominal = await live_capacities(SETTINGS, timeout=0.05, reader=fails)
    assert (nominal("ada"), nominal.of("ada").weight("email")) == (4, 1)
