"""The supervisors' analytics routes on the real gateway, PostgreSQL and Kafka."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import asyncpg
import pytest

from harness.ports import free_port
from integration.analytics.scenario import EXPECTED, at, presence, write_morning
from omniroute.contract import AssignmentEvent, AssignmentKind, Channel, Envelope, Presence
from omniroute.gateway.admin import create_token
from omniroute.gateway.auth import Role
from omniroute.gateway.server import running_gateway
from omniroute.history.store import write_batch
from omniroute.routing.config import parse_config
from omniroute.routing.live import publish_config
from omniroute.settings import Settings

PERIOD = {"from": "2026-11-20T09:00:00+00:00", "to": "2026-11-20T10:00:00+00:00"}


@dataclass
class Api:
    url: str
    tokens: dict[str, str]
    http: aiohttp.ClientSession

    async def get(self, path: str, who: str, **query: str) -> tuple[int, object]:
        async with self.http.get(f"{self.url}{path}", params=query, headers={
                "Authorization": f"Bearer {self.tokens[who]}"}) as r:
            body = await r.json() if r.content_type == "application/json" else await r.text()
            return r.status, body


@pytest.fixture
async def api(topics: Settings, database_url: str) -> AsyncIterator[Api]:
    conn = await asyncpg.connect(database_url)
    try:
        await write_morning(conn)
        tokens = {"boss": await create_token(conn, "boss", Role.SUPERVISOR),
                  "a1": await create_token(conn, "a1", Role.AGENT)}
    finally:
        await conn.close()
    async with running_gateway(topics, database_url, port=free_port()) as running, \
            aiohttp.ClientSession() as http:
        yield Api(running.url, tokens, http)


class TestReportsApi:
    async def test_supervisor_report_matches_the_history(self, api: Api) -> None:
        """JSON report over HTTP: the same hand-computed figures as the CLI's."""
        status, body = await api.get("/api/v1/reports", "boss", by="pool", **PERIOD)
        assert status == 200 and isinstance(body, dict)
        for name, value in EXPECTED.items():
            assert body["total"][name] == pytest.approx(value), name
        assert [r["pool"] for r in body["rows"]] == ["", "support"]  # agent time has no pool

    async def test_utilization_weighs_each_agent_by_their_live_capacity(
            self, api: Api, topics: Settings) -> None:
        """Utilization divided every agent's chat time by one nominal concurrency (3): a user
        run's agents of capacity 20 showed 399 %. With a1's capacity set to 6 in the live
        routing configuration (as the admin API does), a1's 570 s holding one chat over
        1,800 s online is 570 / (1800 * 6); occupancy and concurrency do not change."""
        config = parse_config({"routing": {"default_pool": "support"},
                               "pools": {"support": {}},
                               "agents": {"a1": {"pool": "support", "capacity": 6}}})
        await publish_config(topics, config, actor="test", reason="a1 takes six")
        status, body = await api.get("/api/v1/reports", "boss", **PERIOD)
        assert status == 200 and isinstance(body, dict)
        assert body["total"]["utilization"] == pytest.approx(570 / (1800 * 6))
        for name in ("occupancy", "concurrency", "agents_online"):
            assert body["total"][name] == pytest.approx(EXPECTED[name]), name

    async def test_utilization_counts_each_conversation_by_its_channel_s_weight(
            self, api: Api, topics: Settings, database_url: str) -> None:
        """Utilization counted conversations, not the capacity units they take: an agent of
        capacity 3 whose email weighs 3, holding one email all 1,800 s online, showed 33 %
        although the router considers them full. Now e1's is 100 %; c9 (the same capacity)
        holding one chat stays at 1/3; both hold one conversation at a time (concurrency 1)."""
        def held(agent: str, conversation: str, channel: Channel) -> list[tuple[str, Envelope]]:
            return [("assignments", AssignmentEvent(
                event_id=f"asg-{conversation}-{kind.value}", occurred_at=at(s), agent_id=agent,
                kind=kind, conversation_id=conversation, pool="support", channel=channel))
                for kind, s in ((AssignmentKind.ASSIGNED, 0), (AssignmentKind.COMPLETED, 1800))]

        online: list[tuple[str, Envelope]] = [
            ("agents", presence(agent, value, s)) for agent in ("e1", "c9")
            for value, s in ((Presence.AVAILABLE, 0), (Presence.OFFLINE, 1800))]
        conn = await asyncpg.connect(database_url)
        try:
            await write_batch(conn, [*online, *held("e1", "m1", Channel.EMAIL),
                                     *held("c9", "w1", Channel.WEBCHAT)])
        finally:
            await conn.close()
        three = {"pool": "support", "capacity": 3}
        config = parse_config({"routing": {"default_pool": "support"}, "pools": {"support": {}},
                               "agents": {"e1": {**three, "channels": {"email": {"weight": 3}}},
                                          "c9": three}})
        await publish_config(topics, config, actor="test", reason="an email takes all three")
        status, body = await api.get("/api/v1/reports", "boss", by="agent", **PERIOD)
        assert status == 200 and isinstance(body, dict)
        rows = {r["agent"]: r for r in body["rows"]}
        assert rows["e1"]["utilization"] == pytest.approx(1.0)
        assert rows["c9"]["utilization"] == pytest.approx(1 / 3)
        assert rows["e1"]["concurrency"] == rows["c9"]["concurrency"] == 1.0

    async def test_agents_are_refused_and_bad_parameters_named(self, api: Api) -> None:
        status, body = await api.get("/api/v1/reports", "a1", **PERIOD)
        assert status == 403
        status, body = await api.get("/api/v1/reports", "boss", by="planet", **PERIOD)
        assert status == 400 and "planet" in body["error"]["message"]  # type: ignore[index]
        status, body = await api.get("/api/v1/reports", "boss", **{"from": "yesterday"})
        assert status == 400 and "from" in body["error"]["message"]  # type: ignore[index]

    async def test_csv_html_and_staffing(self, api: Api) -> None:
        status, csv = await api.get("/api/v1/reports", "boss", format="csv", by="channel",
                                    **PERIOD)
        assert status == 200 and str(csv).splitlines()[0].startswith("channel,conversations")
        status, html = await api.get("/api/v1/reports", "boss", format="html", **PERIOD)
        assert status == 200 and str(html).count("<svg") == 3
        status, staffing = await api.get("/api/v1/staffing", "boss", contacts="100", aht="180")
        assert status == 200 and isinstance(staffing, dict)
        assert (staffing["agents"], staffing["rostered"]) == (14, 20)
        status, measured = await api.get("/api/v1/staffing", "boss", pool="support", **PERIOD)
        assert status == 200 and isinstance(measured, dict)
        assert [(i["contacts"], i["aht_s"]) for i in measured["intervals"]] == [(3.0, 570.0)]
        async with api.http.get(f"{api.url}/openapi.json") as r:
            paths = (await r.json())["paths"]
        assert "/api/v1/reports" in paths and "/api/v1/staffing" in paths
