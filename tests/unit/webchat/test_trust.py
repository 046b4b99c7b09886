"""Web chat trust: signed identity tokens, weak unsigned claims, origin and rate limits."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from omniroute.contract import InboundMessage
from omniroute.settings import Settings
from omniroute_connectors.base import Event
from omniroute_connectors.webchat import WebChatConnector
from omniroute_connectors.webchat.protocol import (
    FrameError,
    identity_hash,
    inbound_from_frame,
    open_session,
)
from omniroute_connectors.webchat.trust import identity_token

SECRET = "webchat-secret-for-tests-0123456789abcdef"


def hello(**fields: Any) -> dict[str, Any]:
    return {"type": "hello", **fields}


def message_of(visitor: Any) -> InboundMessage:
    return inbound_from_frame({"type": "message", "client_message_id": "c1", "text": "hi"},
                              visitor, "default")


class TestIdentityToken:
    def test_signed_claims_are_verified(self) -> None:
        token = identity_token(SECRET, "cust-42", email="jo@acme.test", name="Jo")
        visitor = open_session(hello(identity_token=token), SECRET, "shop")
        message = message_of(visitor)
        assert message.verified_identity is not None
        assert (message.verified_identity.identifier, message.verified_identity.email) == (
            "cust-42", "jo@acme.test")
        assert message.claimed == {}
        assert message.sender.name == "Jo"  # the site signed it: agents see it

    def test_a_signed_name_wins_over_the_one_the_page_sent(self) -> None:
        token = identity_token(SECRET, "cust-42", name="Jo")
        signed = open_session(hello(identity_token=token, name="Mallory"), SECRET, "shop")
        assert message_of(signed).sender.name == "Jo"
        unsigned_name = identity_token(SECRET, "cust-42")
        visitor = open_session(hello(identity_token=unsigned_name, name="Jo K"), SECRET, "shop")
        assert message_of(visitor).sender.name == "Jo K"

    @pytest.mark.parametrize(("token", "code"), [
        (identity_token(SECRET, "c", now=time.time() - 7200, lifetime=3600), "identity_expired"),
        (identity_token("another-secret-0123456789abcdef-xyz", "c"), "identity_mismatch"),
        (identity_token(SECRET, "c", lifetime=30 * 86400), "identity_invalid"),
        ("not.a.jwt", "identity_invalid"),
        ("é\udcff", "identity_invalid"),
    ])
    def test_bad_tokens_are_refused_precisely(self, token: str, code: str) -> None:
        with pytest.raises(FrameError) as caught:
            open_session(hello(identity_token=token), SECRET, "shop")
        assert caught.value.code == code

    def test_token_without_exp_is_refused(self) -> None:
        import jwt

        token = jwt.encode({"sub": "c"}, SECRET.encode(), algorithm="HS256")
        with pytest.raises(FrameError) as caught:
            open_session(hello(identity_token=token), SECRET, "shop")
        assert caught.value.code == "identity_invalid"


class TestWeakClaims:
    def test_email_beside_an_identifier_hash_is_only_a_claim(self) -> None:
        """The takeover of issue 16: a signed-in visitor types someone else's email."""
        visitor = open_session(hello(identifier="me", identity_hash=identity_hash(SECRET, "me"),
                                     email="victim@acme.test"), SECRET, "shop")
        message = message_of(visitor)
        assert message.verified_identity is not None
        assert message.verified_identity.email is None
        assert message.claimed["email"] == "victim@acme.test"

    def test_non_ascii_hash_is_a_mismatch_not_a_crash(self) -> None:
        with pytest.raises(FrameError) as caught:
            open_session(hello(identifier="me\udcff", identity_hash="é" * 64), SECRET, "shop")
        assert caught.value.code == "identity_mismatch"


class FakePublisher:
    def __init__(self) -> None:
        self.events: list[Event] = []

    async def publish(self, events: Sequence[Event]) -> None:
        self.events.extend(events)


@pytest.fixture
async def chat() -> AsyncIterator[tuple[TestClient, FakePublisher]]:
    settings = Settings(webchat_identity_secret=SECRET,
                        webchat_allowed_origins="https://shop.example",
                        webchat_max_sockets_per_ip=3, webchat_new_visitors_per_minute=2,
                        webchat_messages_per_minute=2)
    publisher = FakePublisher()
    connector = WebChatConnector(settings)
    app = web.Application()
    for route in connector.raw_routes(publisher):
        app.router.add_route(route.method, connector.mount + route.path, route.handler)
    async with TestClient(TestServer(app)) as client:
        yield client, publisher


ORIGIN = {"Origin": "https://shop.example"}


async def receive(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    return json.loads((await ws.receive(timeout=5)).data)


class TestSocketLimits:
    async def test_other_origins_are_refused_403(self, chat) -> None:
        client, _ = chat
        response = await client.get("/webchat/ws", headers={"Origin": "https://evil.example"})
        assert response.status == 403
        assert (await response.json())["error"] == "origin_not_allowed"

    async def test_sockets_per_ip_are_bounded_429(self, chat) -> None:
        client, _ = chat
        sockets = [await client.ws_connect("/webchat/ws", headers=ORIGIN) for _ in range(3)]
        response = await client.get("/webchat/ws", headers=ORIGIN)
        assert response.status == 429
        for ws in sockets:
            await ws.close()

    async def test_new_visitors_per_ip_are_rate_limited(self, chat) -> None:
        client, _ = chat
        codes = []
        for _ in range(3):
            async with client.ws_connect("/webchat/ws", headers=ORIGIN) as ws:
                await ws.send_json(hello())
                codes.append((await receive(ws)).get("code", "welcome"))
        assert codes == ["welcome", "welcome", "rate_limited"]

    async def test_messages_per_visitor_are_rate_limited(self, chat) -> None:
        client, publisher = chat
        async with client.ws_connect("/webchat/ws", headers=ORIGIN) as ws:
            await ws.send_json(hello())
            assert (await receive(ws))["type"] == "welcome"
            answers = []
            for n in range(3):
                await ws.send_json({"type": "message", "client_message_id": f"m{n}",
                                    "text": "hi"})
                answers.append((await receive(ws)).get("code", "ack"))
        assert answers == ["ack", "ack", "rate_limited"]
        assert len(publisher.events) == 2

    async def test_odd_frames_never_kill_the_socket(self, chat) -> None:
        client, publisher = chat
        async with client.ws_connect("/webchat/ws", headers=ORIGIN) as ws:
            await ws.send_json(hello())
            assert (await receive(ws))["type"] == "welcome"
            await ws.send_str("[" * 5000 + "]" * 5000)
            assert (await receive(ws))["code"] == "invalid_json"
            await ws.send_str('{"type": "message", "client_message_id": "x\\udcff", "text": 1}')
            assert (await receive(ws))["type"] == "error"
            await ws.send_json({"type": "message", "client_message_id": "ok", "text": "a\x00b"})
            assert (await receive(ws))["type"] == "ack"
        (message,) = publisher.events
        assert isinstance(message, InboundMessage) and message.text == "a\x00b".replace("\x00", "")
