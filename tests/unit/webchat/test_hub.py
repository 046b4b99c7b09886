"""The hub's availability: the routers' agents on duty, fresh figures only, no flapping."""

from __future__ import annotations

from typing import Any

from omniroute.routing.stats import TRUSTED_S
from omniroute_connectors.webchat.hub import Hub


class Socket:
    def __init__(self) -> None:
        self.frames: list[dict[str, Any]] = []

    async def send_json(self, data: Any) -> None:
        self.frames.append(data)


async def test_flips_only_when_the_fresh_figures_say_so() -> None:
    hub, socket = Hub(), Socket()
    hub.add("visitor-1", socket)
    assert hub.agents_available is False  # nothing published yet: the offline form
    await hub.set_on_duty("support", 2, published_at=100.0, now=101.0)
    await hub.set_on_duty("billing", 0, published_at=100.0, now=101.0)  # support still has 2
    await hub.set_on_duty("support", 0, published_at=102.0, now=102.5)
    assert [f["agents_available"] for f in socket.frames] == [True, False]
    # a pool last published long ago (retired) counts for nothing
    await hub.set_on_duty("web", 4, published_at=0.0, now=103.0)
    assert hub.agents_available is False and len(socket.frames) == 2


async def test_keeps_its_answer_while_no_router_publishes() -> None:
    hub = Hub()
    await hub.set_on_duty("support", 1, published_at=100.0, now=100.0)
    # the routers restart: the only figure ages past TRUSTED_S; chat stays offered
    await hub.set_on_duty("support", 1, published_at=100.0, now=100.0 + TRUSTED_S + 30)
    assert hub.agents_available is True
