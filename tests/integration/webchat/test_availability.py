"""Whether the widget offers chat or the offline form follows the routers' staffing.

The routers publish every pool's agents on duty (available, not lost) every 2 s on the
compacted ``omniroute.internal.routing-stats``; the ingress reads the latest and tells
every open widget when availability flips. It used to be every agent's latest presence
event, read from the start of ``omniroute.agent-events.v1`` at every start: the whole
history of presence and heartbeats, and an agent whose console vanished without going
"Offline" counted as available for good.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiohttp import ClientSession, ClientWebSocketResponse

from harness.kafka import produce, publish_on_duty
from harness.ports import free_port
from omniroute.contract import AgentEvent
from omniroute.ingress.server import IngressServer
from omniroute.settings import Settings
from omniroute_connectors.webchat import WebChatConnector


async def presence_frame(ws: ClientWebSocketResponse, within: float = 20) -> dict[str, Any]:
    """The next ``presence`` frame (other frames may come first)."""
    async def next_one() -> dict[str, Any]:
        while True:
            frame: dict[str, Any] = await ws.receive_json()
            if frame["type"] == "presence":
                return frame
    return await asyncio.wait_for(next_one(), within)


async def until(condition: Any, what: str) -> None:
    for _ in range(300):
        if condition():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(what)


async def test_chat_or_offline_form_as_the_routers_count_agents_on_duty(topics: Settings) -> None:
    bootstrap, namespace = topics.kafka_bootstrap, topics.topic_namespace
    # ghost said "available" and then closed the laptop: the router counts nobody on duty
    await produce(bootstrap, topics.topic("omniroute.agent-events.v1"), [(b"ghost", AgentEvent(
        event_id="ghost-on", agent_id="ghost", kind="presence", presence="available",
        pool="support").to_json_bytes())])
    await publish_on_duty(bootstrap, namespace, "support", 0)
    server = IngressServer(topics, connectors=[WebChatConnector(topics)], port=free_port())
    await server.start()
    try:
        hub = server_hub(server)
        await until(lambda: "support" in hub.on_duty, "the ingress read the routers' figures")
        await asyncio.sleep(1)  # and had time to read the agents' events, were it to
        async with ClientSession() as session, session.ws_connect(
                f"http://127.0.0.1:{server.port}/webchat/ws") as ws:
            await ws.send_json({"type": "hello", "site": "shop.test"})
            welcome = await ws.receive_json(timeout=30)
            while welcome["type"] == "presence":
                welcome = await ws.receive_json(timeout=30)
            assert welcome["type"] == "welcome" and welcome["agents_available"] is False

            await publish_on_duty(bootstrap, namespace, "support", 2)  # two agents sign in
            assert (await presence_frame(ws))["agents_available"] is True
            await publish_on_duty(bootstrap, namespace, "billing", 0)  # support still has two
            await publish_on_duty(bootstrap, namespace, "support", 0)  # both go away
            assert (await presence_frame(ws))["agents_available"] is False
            # a figure 60 s old (a pool no router publishes any more) counts for nothing
            await publish_on_duty(bootstrap, namespace, "web", 3, at=time.time() - 60)
            await until(lambda: "web" in hub.on_duty, "the stale figure was read")
            assert hub.on_duty["web"][0] == 3 and hub.agents_available is False
            await publish_on_duty(bootstrap, namespace, "support", 1)
            assert (await presence_frame(ws))["agents_available"] is True
    finally:
        await server.stop()


def server_hub(server: IngressServer) -> Any:
    (connector,) = [c for c in server.connectors if isinstance(c, WebChatConnector)]
    return connector.chat.hub
