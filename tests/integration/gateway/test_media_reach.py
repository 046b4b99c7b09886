"""The gateway fetches a customer's media only from the public internet and the provider
APIs it is configured with: a Messenger attachment whose URL names a cloud's metadata
address, a service on the gateway's own host (by address or by ``localhost``), or a public
CDN URL that redirects there, is refused ``502 media_unavailable`` and the service is never
asked; the same service is reachable once its origin is allowed
(``OMNIROUTE_MEDIA_PRIVATE_ORIGINS``)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import asyncpg
import pytest
from aiohttp import web
from yarl import URL

from harness.ports import free_port
from harness.served import served
from integration.history.factories import added, assignment, opened
from omniroute.contract import Address, Attachment, AttachmentKind, Channel, InboundMessage, utcnow
from omniroute.gateway.admin import create_token
from omniroute.gateway.auth import Role
from omniroute.gateway.server import running_gateway
from omniroute.history.store import write_batch
from omniroute.settings import Settings

SECRET = b"internal: the payroll export"


@dataclass
class Internal:
    """A service on the gateway's own network, counting who asked it."""

    port: int
    asked: list[str]


@pytest.fixture
async def internal() -> AsyncIterator[Internal]:
    asked: list[str] = []

    async def serve(request: web.Request) -> web.Response:
        asked.append(request.path)
        return web.Response(body=SECRET, content_type="image/png")

    app = web.Application()
    app.router.add_get("/{tail:.*}", serve)
    async with served(app) as base:
        yield Internal(URL(base).port or 0, asked)


def _messenger(n: int, url: str) -> InboundMessage:
    return InboundMessage(
        event_id=f"messenger:reach-{n}", channel=Channel.MESSENGER, provider="messenger",
        channel_account="111111", sender=Address(value="psid-reach"),
        recipient=Address(value="111111"), provider_message_id=f"m_reach_{n}",
        provider_timestamp=utcnow(), text=None,
        attachments=[Attachment(kind=AttachmentKind.IMAGE, url=url)])


async def _seed(database_url: str, urls: list[str]) -> tuple[str, list[str]]:
    messages = [_messenger(n, url) for n, url in enumerate(urls)]
    conn = await asyncpg.connect(database_url)
    try:
        await write_batch(conn, [("conversations", opened("c-reach", "cust-reach")),
                                 ("assignments", assignment("ada", "c-reach"))])
        await write_batch(conn, [("inbound", m) for m in messages] + [
            ("conversations", added(m, conversation="c-reach", customer="cust-reach"))
            for m in messages])
        return await create_token(conn, "ada", Role.AGENT), [m.event_id for m in messages]
    finally:
        await conn.close()


async def _fetch(gateway: str, token: str, message_id: str) -> tuple[int, bytes]:
    url = f"{gateway}/api/v1/conversations/c-reach/messages/{message_id}/attachments/0"
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as http, \
            http.get(url) as response:
        return response.status, await response.read()


async def test_private_addresses_are_not_fetched_unless_allowed(
        topics: Settings, database_url: str, internal: Internal) -> None:
    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound(f"http://127.0.0.1:{internal.port}/via-redirect")

    redirector = web.Application()  # stands for a public CDN answering with a redirect
    redirector.router.add_get("/{tail:.*}", redirect)
    async with served(redirector) as cdn:
        urls = ["http://169.254.169.254/latest/meta-data/iam/security-credentials/",
                f"http://127.0.0.1:{internal.port}/payroll.png",
                f"http://localhost:{internal.port}/payroll.png",
                f"http://[::ffff:127.0.0.1]:{internal.port}/mapped.png",
                f"{cdn}/photo.png"]
        token, ids = await _seed(database_url, urls)
        settings = topics.model_copy(update={"database_url": database_url,
                                             "media_fetch_timeout_s": 3.0,
                                             "media_private_origins": cdn})
        async with running_gateway(settings, database_url, port=free_port()) as gateway:
            for message_id in ids:
                status, body = await _fetch(gateway.url, token, message_id)
                assert status == 502, (message_id, body)
                message = json.loads(body)["error"]["message"]
                assert message.startswith("could not fetch the attachment from Messenger: ")
                assert "a private network address; omniroute does not fetch media from it " \
                    "(OMNIROUTE_MEDIA_PRIVATE_ORIGINS)" in message, message
                assert "Cannot connect" not in message and "Error" not in message, message
        assert internal.asked == []

        allowed = settings.model_copy(update={
            "media_private_origins": f"{cdn},http://localhost:{internal.port}"})
        async with running_gateway(allowed, database_url, port=free_port()) as gateway:
            assert await _fetch(gateway.url, token, ids[2]) == (200, SECRET)
            assert await _fetch(gateway.url, token, ids[4]) == (200, SECRET)  # via the CDN
            assert (await _fetch(gateway.url, token, ids[0]))[0] == 502
        assert internal.asked == ["/payroll.png", "/via-redirect"]
