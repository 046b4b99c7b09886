"""Gateway security (issue 16): headers, where tokens travel, offers that do not exist, odd input."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import asyncpg
import pytest

from harness.ports import free_port
from omniroute.gateway.admin import create_token
from omniroute.gateway.auth import Role
from omniroute.gateway.server import running_gateway
from omniroute.settings import Settings


@pytest.fixture
async def gateway(topics: Settings, database_url: str
                  ) -> AsyncIterator[tuple[str, str, aiohttp.ClientSession]]:
    conn = await asyncpg.connect(database_url)
    try:
        token = await create_token(conn, "a1", Role.AGENT)
    finally:
        await conn.close()
    async with running_gateway(topics, database_url, port=free_port()) as running, \
            aiohttp.ClientSession() as http:
        yield running.url, token, http


async def raw_status(url: str, head: bytes) -> int:
    host, _, port = url.removeprefix("http://").partition(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(head + b"\r\nHost: x\r\nConnection: close\r\n\r\n")
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    return int(answer.split(b" ", 2)[1])


class TestHeaders:
    async def test_every_response_carries_the_security_headers(self, gateway) -> None:
        url, token, http = gateway
        for path, headers in (("/api/v1/me", {"Authorization": f"Bearer {token}"}),
                              ("/api/v1/me", {}), ("/", {}), ("/nope", {})):
            async with http.get(url + path, headers=headers) as response:
                assert response.headers["X-Frame-Options"] == "DENY", path
                assert response.headers["X-Content-Type-Options"] == "nosniff"
                assert response.headers["Referrer-Policy"] == "no-referrer"
                assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


class TestTokens:
    async def test_query_token_is_refused_on_rest_routes(self, gateway) -> None:
        url, token, http = gateway
        async with http.get(f"{url}/api/v1/me?token={token}") as response:
            assert response.status == 401
            assert "WebSocket" in (await response.json())["error"]["message"]
        async with http.ws_connect(f"{url}/api/v1/stream?token={token}") as ws:
            assert (await ws.receive_json(timeout=10))["type"] == "snapshot"

    async def test_a_websocket_token_rides_as_a_subprotocol(self, gateway) -> None:
        """The console's way: ``bearer.<token>`` beside ``omniroute.v1``, which the gateway
        chooses; a wrong token is refused at the handshake."""
        url, token, http = gateway
        async with http.ws_connect(f"{url}/api/v1/stream",
                                   protocols=("omniroute.v1", f"bearer.{token}")) as ws:
            assert ws.protocol == "omniroute.v1"
            assert (await ws.receive_json(timeout=10))["type"] == "snapshot"
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await http.ws_connect(f"{url}/api/v1/stream",
                                  protocols=("omniroute.v1", "bearer.omr_not-a-token"))
        assert refused.value.status == 401

    @pytest.mark.parametrize(("value", "status"), [
        (b"Bearer \xff\xfe", 401), ("Bearer é".encode(), 401),
        (b"Bearer a\x01", 400)])  # a control character: aiohttp's parser answers 400 itself
    async def test_undecodable_bearer_is_refused_never_500(self, gateway, value: bytes,
                                                          status: int) -> None:
        url, _, _ = gateway
        head = b"GET /api/v1/me HTTP/1.1\r\nAuthorization: " + value
        assert await raw_status(url, head) == status


class TestOffers:
    async def test_answering_an_offer_that_does_not_exist_is_404(self, gateway) -> None:
        url, token, http = gateway
        auth = {"Authorization": f"Bearer {token}"}
        for offer in ("o-unknown", "x" * 5000):
            async with http.post(f"{url}/api/v1/offers/{offer}/accept", headers=auth,
                                 json={"conversation_id": "c1"}) as response:
                assert response.status == 404, offer
        async with http.post(f"{url}/api/v1/offers/o-unknown/decline",
                             json={"conversation_id": "c1"}) as response:
            assert response.status == 401  # no token: nothing revealed


class TestBodies:
    async def test_deep_json_body_is_400(self, gateway) -> None:
        url, token, http = gateway
        async with http.post(f"{url}/api/v1/presence", data=b"[" * 100_000 + b"]" * 100_000,
                             headers={"Authorization": f"Bearer {token}",
                                      "Content-Type": "application/json"}) as response:
            assert response.status == 400
