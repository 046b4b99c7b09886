"""Senders of LINE, Messenger and Instagram arrive with the name their provider's profile
API gives (signed webhooks in, ``omniroute.inbound.v1`` out; the providers' APIs are the
harness's fakes). Agents saw these customers as ``cus_…`` ids (user runs 4 and 5)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from harness.kafka import consume
from harness.ports import free_port
from harness.providers.base import Failure
from harness.providers.graph import FakeGraph
from harness.providers.line import FakeLine
from omniroute.contract import InboundMessage
from omniroute.ingress.server import IngressServer
from omniroute.settings import Settings
from omniroute_connectors.instagram import InstagramConnector
from omniroute_connectors.line import LineConnector
from omniroute_connectors.messenger import MessengerConnector
from omniroute_connectors.signatures import line_signature, meta_signature

LINE_SECRET, META_SECRET = "line-secret", "meta-secret"


class Desk:
    """A running ingress with the LINE, Messenger and Instagram connectors and the fakes."""

    def __init__(self, base: str, settings: Settings, line: FakeLine, graph: FakeGraph) -> None:
        self.base, self.settings, self.line, self.graph = base, settings, line, graph

    async def post(self, provider: str, payload: dict[str, Any]) -> int:
        body = json.dumps(payload).encode()
        signature = ({"x-line-signature": line_signature(LINE_SECRET, body)}
                     if provider == "line" else
                     {"X-Hub-Signature-256": meta_signature(META_SECRET, body)})
        async with aiohttp.ClientSession() as session, session.post(
                f"{self.base}/webhooks/{provider}", data=body,
                headers={"Content-Type": "application/json", **signature}) as response:
            return response.status

    async def line_text(self, user: str, n: int, group: str | None = None) -> int:
        source = ({"type": "group", "groupId": group, "userId": user} if group
                  else {"type": "user", "userId": user})
        return await self.post("line", {"destination": "Ubot", "events": [{
            "type": "message", "webhookEventId": f"01HPROFILE{user}{n}", "mode": "active",
            "timestamp": 1700000000000 + n, "source": source, "replyToken": f"r{n}",
            "message": {"id": f"{user}-{n}", "type": "text", "text": f"hello {n}"}}]})

    async def meta_text(self, provider: str, sender: str, n: int) -> int:
        account = "PAGE_ID" if provider == "messenger" else "17841400000000001"
        return await self.post(provider, {
            "object": "page" if provider == "messenger" else "instagram",
            "entry": [{"id": account, "time": 1700000000000 + n, "messaging": [{
                "sender": {"id": sender}, "recipient": {"id": account},
                "timestamp": 1700000000000 + n,
                "message": {"mid": f"mid.{sender}.{n}", "text": f"hello {n}"}}]}]})

    async def senders(self, count: int) -> dict[str, str | None]:
        """Sender id → the name it was published with, for the first ``count`` messages."""
        records = await consume(self.settings.kafka_bootstrap,
                                self.settings.topic("omniroute.inbound.v1"), count, timeout=20)
        assert len(records) == count
        found: dict[str, str | None] = {}
        for record in records:
            message = InboundMessage.from_json_bytes(record.value)
            assert found.setdefault(message.sender.value, message.sender.name) \
                == message.sender.name, "one sender, two names"
        return found

    def asked(self, fake: FakeLine | FakeGraph, who: str) -> int:
        return sum(1 for seen in fake.requests if seen.method == "GET" and who in seen.path)


@pytest.fixture
async def desk(topics: Settings) -> AsyncIterator[Desk]:
    async with FakeLine("line-token") as line, FakeGraph("graph-token") as graph:
        port = free_port()
        settings = Settings(
            kafka_bootstrap=topics.kafka_bootstrap, topic_namespace=topics.topic_namespace,
            line_channel_secret=LINE_SECRET, line_channel_access_token="line-token",
            line_api_base_url=line.base_url, meta_app_secret=META_SECRET,
            meta_access_token="graph-token", meta_graph_base_url=graph.base_url,
            profile_lookup_timeout_s=2.0)
        server = IngressServer(settings, [LineConnector(settings), MessengerConnector(settings),
                                          InstagramConnector(settings)], port=port)
        await server.start()
        try:
            yield Desk(f"http://127.0.0.1:{port}", settings, line, graph)
        finally:
            await server.stop()


async def test_senders_arrive_with_the_name_their_provider_knows(desk: Desk) -> None:
    """LINE's displayName (also for a group member), Messenger's first and last name,
    Instagram's name or else its @username; each sender's profile is asked once, not
    again for their next message."""
    desk.line.profiles["Usora"] = {"displayName": "Sora Kim", "language": "ko"}
    desk.line.profiles["Umember"] = {"displayName": "Jun Park"}
    desk.graph.profiles["2222"] = {"first_name": "Peter", "last_name": "Chang"}
    desk.graph.profiles["3333"] = {"name": None, "username": "mina.shop"}
    desk.graph.profiles["4444"] = {"name": "Lia Moreau", "username": "lia"}
    for n in range(2):
        assert await desk.line_text("Usora", n) == 200
        assert await desk.meta_text("messenger", "2222", n) == 200
        assert await desk.meta_text("instagram", "3333", n) == 200
    assert await desk.meta_text("instagram", "4444", 0) == 200
    assert await desk.line_text("Umember", 0, group="Cgroup1") == 200
    assert await desk.senders(8) == {
        "Usora": "Sora Kim", "2222": "Peter Chang", "3333": "@mina.shop",
        "4444": "Lia Moreau", "Umember": "Jun Park"}
    assert [desk.asked(desk.line, "Usora"), desk.asked(desk.graph, "2222"),
            desk.asked(desk.graph, "3333")] == [1, 1, 1]
    [member] = [s for s in desk.line.requests if "Umember" in s.path]
    assert member.path == "/v2/bot/group/Cgroup1/member/Umember"
    [messenger] = [s for s in desk.graph.requests if s.method == "GET" and "2222" in s.path]
    assert messenger.path == "/v21.0/2222"
    assert messenger.header("Authorization") == "Bearer graph-token"


async def test_a_failing_profile_api_costs_no_message(desk: Desk) -> None:
    """Every webhook is answered 200 and published, named or not: an unknown user (LINE's
    404) is published unnamed and not asked again; three server errors in a row pause the
    provider's lookups, so the next new sender is published without asking."""
    desk.line.profiles.update({f"Ufail{n}": {"displayName": f"F{n}"} for n in range(4)})
    assert await desk.line_text("Ublocked", 0) == 200
    assert await desk.line_text("Ublocked", 1) == 200
    desk.line.fail_next = [Failure(500, 500)] * 3
    for n in range(4):
        assert await desk.line_text(f"Ufail{n}", 0) == 200
    assert await desk.senders(6) == {"Ublocked": None, "Ufail0": None, "Ufail1": None,
                                     "Ufail2": None, "Ufail3": None}
    assert desk.asked(desk.line, "Ublocked") == 1
    assert [desk.asked(desk.line, f"Ufail{n}") for n in range(4)] == [1, 1, 1, 0]
