"""Pool statistics end to end: the router decides, publishes its pools' figures, and a
supervisor reads them from the gateway's ``GET /api/v1/routing/stats``."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

from harness.kafka import produce
from harness.ports import free_port
from integration.routing.test_router import Router, agent_event, request
from omniroute.gateway.admin import create_token
from omniroute.gateway.auth import Role
from omniroute.gateway.routing_stats import CACHE_S
from omniroute.gateway.server import running_gateway
from omniroute.gateway.supervision import CONFIG_TTL_S
from omniroute.routing.config import load_config
from omniroute.routing.live import publish_config
from omniroute.routing.statsfeed import STATS_TOPIC, publish_stats
from omniroute.settings import Settings

CONFIG = """
[routing]
default_pool = "support"

[pools.support]
heartbeat_grace_s = 3600
[[pools.support.targets]]
queue = "tier1"

[agents.ann]
pool = "support"
capacity = 1
auto_accept = true
queues = ["tier1"]
[agents.bob]
pool = "support"
"""


async def test_supervisor_reads_real_time_and_today_figures(
        topics: Settings, database_url: str, tmp_path: Path) -> None:
    """ann (capacity 1) takes one conversation, the second waits in tier1; the gateway
    shows 1 waiting, ann full, bob offline, 1 assigned today; agents get 403, an unknown
    pool 404."""
    settings = topics
    (tmp_path / "routing.toml").write_text(CONFIG)
    conn = await asyncpg.connect(database_url)
    try:
        boss = await create_token(conn, "boss", Role.SUPERVISOR)
        agent = await create_token(conn, "ann", Role.AGENT)
    finally:
        await conn.close()
    stop = asyncio.Event()
    async with Router(settings, tmp_path / "routing.toml"):
        feed = asyncio.create_task(publish_stats(settings, stop, every_s=0.3))
        await produce(settings.kafka_bootstrap, settings.topic("omniroute.agent-events.v1"),
                      [agent_event(1, "ann", "presence", presence="available")])
        await produce(settings.kafka_bootstrap,
                      settings.topic("omniroute.internal.routing-requests"),
                      [request(1), request(2)])
        async with running_gateway(settings, database_url, port=free_port()) as gateway, \
                aiohttp.ClientSession() as http:
            url = f"{gateway.url}/api/v1/routing/stats"

            async def get(path: str, token: str) -> tuple[int, Any]:
                async with http.get(url + path, headers={
                        "Authorization": f"Bearer {token}"}) as response:
                    return response.status, await response.json()

            stats: dict[str, Any] = {}
            deadline = time.monotonic() + 40
            while time.monotonic() < deadline:
                status, stats = await get("/support", boss)
                if status == 200 and stats["waiting"] == 1 \
                        and stats["today"]["assigned"] == 1:
                    break
                await asyncio.sleep(0.5)
            everything = await get("", boss)
            forbidden = await get("/support", agent)
            unknown = await get("/nope", boss)
        stop.set()
        await feed
    assert stats["waiting"] == 1 and stats["today"]["assigned"] == 1, stats
    assert stats["agents"]["full"] == 1 and stats["agents"]["offline"] == 1
    assert stats["queues"]["tier1"]["waiting"] == 1
    assert stats["queues"]["tier1"]["agents"]["full"] == 1
    assert stats["longest_wait_s"] > 0 and stats["today"]["average_wait_s"] is not None
    assert everything[0] == 200 and "support" in [p["pool"] for p in everything[1]["pools"]]
    assert forbidden[0] == 403
    assert unknown[0] == 404


async def test_a_retired_pool_leaves_the_statistics(
        topics: Settings, database_url: str, tmp_path: Path) -> None:
    """The last figures of a pool stay on the compacted topic after the pool is retired:
    the gateway lists them only until a live configuration without that pool is published
    (the built-in ``default`` pool was listed, empty, on stacks whose file replaced it)."""
    settings = topics
    (tmp_path / "routing.toml").write_text(CONFIG)
    conn = await asyncpg.connect(database_url)
    try:
        boss = await create_token(conn, "boss", Role.SUPERVISOR)
    finally:
        await conn.close()
    last = {"waiting": 0, "published_at": time.time()}
    await produce(settings.kafka_bootstrap, settings.topic(STATS_TOPIC), [
        (pool.encode(), json.dumps({"pool": pool, **last}).encode())
        for pool in ("default", "support")])
    async with running_gateway(settings, database_url, port=free_port()) as gateway, \
            aiohttp.ClientSession() as http:
        url = f"{gateway.url}/api/v1/routing/stats"

        async def get(path: str = "") -> tuple[int, Any]:
            async with http.get(url + path, headers={"Authorization": f"Bearer {boss}"}) as r:
                return r.status, await r.json()

        before = await get()
        await publish_config(settings, load_config(tmp_path / "routing.toml"), actor="admin")
        await asyncio.sleep(CONFIG_TTL_S + CACHE_S + 0.5)  # the gateway's caches expire
        after = await get()
        retired = await get("/default")
        kept = await get("/support")
    assert before[0] == 200 and [p["pool"] for p in before[1]["pools"]] == ["default", "support"]
    assert after[0] == 200 and [p["pool"] for p in after[1]["pools"]] == ["support"]
    assert retired[0] == 404 and "retired" in retired[1]["error"]["message"]
    assert kept[0] == 200 and kept[1]["pool"] == "support"
