"""The gateway's pure parts: tokens, request models, events built, the OpenAPI document."""

from __future__ import annotations

import json

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from pydantic import ValidationError

from omniroute.contract import Channel
from omniroute.gateway.app import Gateway, build_app, problems
from omniroute.gateway.auth import Principal, Role, bearer_token, hash_token, issue_token
from omniroute.gateway.commands import (
    ConversationRef,
    ReplyRequest,
    Route,
    TransferRequest,
    reply_message,
)
from omniroute.gateway.openapi import document
from omniroute.gateway.problems import Unauthorized
from omniroute.observability.health import Health

A1 = Principal("a1", Role.AGENT)
REF = ConversationRef("c1", "cust-1", "default")


class TestTokens:
    def test_issued_tokens_are_random_and_stored_only_as_hash(self) -> None:
        """Two tokens differ; the stored form is the SHA-256 of the token, not the token."""
        (t1, h1), (t2, _) = issue_token(), issue_token()
        assert t1 != t2 and t1.startswith("omr_") and h1 == hash_token(t1) and t1 not in h1

    def test_bearer_header_parsing(self) -> None:
        """'Bearer x' gives x; other schemes and nothing are 401; ?token= serves sockets."""
        assert bearer_token("Bearer abc") == "abc"
        assert bearer_token(None, "q") == "q"
        for bad in ("Basic abc", "Bearer ", None):
            with pytest.raises(Unauthorized):
                bearer_token(bad)


class TestCommands:
    def test_a_reply_is_an_outbound_message_on_the_route(self) -> None:
        """Recipient and account come from the route; the author is the agent."""
        route = Route(Channel.WHATSAPP, "whatsapp:+1555", "+1999")
        message = reply_message(A1, REF, route, ReplyRequest(text="hello"))
        assert (message.channel, message.recipient.value, message.channel_account) == (
            Channel.WHATSAPP, "whatsapp:+1555", "+1999")
        assert (message.author.id, message.conversation_id, message.customer_id) == (
            "a1", "c1", "cust-1")

    def test_the_same_client_id_is_the_same_reply(self) -> None:
        """A retried POST with one client_id publishes the same event id (idempotent)."""
        route = Route(Channel.SMS, "+1555", "+1999")
        first = reply_message(A1, REF, route, ReplyRequest(text="x", client_id="k1"))
        again = reply_message(A1, REF, route, ReplyRequest(text="x", client_id="k1"))
        other = reply_message(A1, REF, route, ReplyRequest(text="x"))
        assert first.event_id == again.event_id != other.event_id

    def test_a_transfer_needs_a_target(self) -> None:
        """Neither agent nor pool is a 400-worthy validation error."""
        with pytest.raises(ValidationError, match="target_agent_id or target_pool"):
            TransferRequest(reason="x")


class TestOpenApi:
    def test_every_api_route_is_documented(self) -> None:
        """The document and the application list the same /api/v1 routes and methods."""
        gateway = Gateway(None, None, None, None)  # type: ignore[arg-type]
        app = build_app(gateway, Health())
        served = {(r.method.lower(), r.resource.canonical) for r in app.router.routes()
                  if r.resource is not None and r.resource.canonical.startswith("/api/v1")
                  and r.method != "HEAD"}
        documented = {(m, p) for p, ops in document()["paths"].items() for m in ops}
        assert served == documented

    def test_writes_document_their_errors(self) -> None:
        """A conversation write documents 202, 400, 401, 403, 404 and 503; a reply also 409
        (its client_id in flight, or used for another reply)."""
        paths = document()["paths"]
        notes = paths["/api/v1/conversations/{conversation_id}/notes"]["post"]
        assert set(notes["responses"]) == {"202", "400", "401", "403", "404", "409", "503"}
        replies = paths["/api/v1/conversations/{conversation_id}/replies"]["post"]
        assert set(replies["responses"]) == {"202", "400", "401", "403", "404", "409", "503"}
        assert "client_id" in replies["responses"]["409"]["description"]


class TestDatabaseOutage:
    @pytest.mark.parametrize("error", [
        ConnectionResetError("reset by peer"),
        asyncpg.InternalClientError("cannot switch to state 12; another operation (2) is in "
                                    "progress"),
        asyncpg.CannotConnectNowError("the database system is starting up"),
    ], ids=type)
    async def test_a_lost_database_is_503_with_retry_after(self, error: Exception) -> None:
        """What a pooled connection raises when PostgreSQL died under it is a 503 to retry.
        InternalClientError came from SIGKILLing the embedded server under load: the gateway
        answered it with aiohttp's bare 500."""
        async def handler(_request: web.Request) -> web.StreamResponse:
            raise error

        response = await problems(make_mocked_request("GET", "/api/v1/me"), handler)
        assert response.status == 503 and response.headers["Retry-After"] == "5"
        body = json.loads(response.body)  # type: ignore[arg-type]
        assert body["error"]["code"] == "unavailable"

    async def test_the_answer_names_postgresql_only_when_the_error_came_from_it(self) -> None:
        """A timeout raised outside the database layer is not called a PostgreSQL outage."""
        async def database(_request: web.Request) -> web.StreamResponse:
            raise asyncpg.InternalClientError("cannot switch to state 12")

        async def elsewhere(_request: web.Request) -> web.StreamResponse:
            raise TimeoutError

        messages = []
        for handler in (database, elsewhere):
            response = await problems(make_mocked_request("GET", "/api/v1/board"), handler)
            assert response.status == 503
            messages.append(json.loads(response.body)["error"]["message"])  # type: ignore[arg-type]
        assert messages[0].startswith("PostgreSQL cannot take the request now")
        assert messages[1].startswith("a service the gateway needs (PostgreSQL or Kafka)")
