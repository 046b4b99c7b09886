"""A web chat visitor's photo reaches the agent: ``POST /webchat/uploads`` stores it in the
real PostgreSQL, a ``message`` frame names it, the InboundMessage on the real broker carries
it, and the gateway serves the very bytes to the agent of the conversation."""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import asyncpg
import pytest

from harness.kafka import consume, consume_all
from harness.ports import free_port
from integration.history.factories import added, assignment, opened
from integration.webchat.test_durable_chat import next_frame
from omniroute.contract import AttachmentKind, InboundMessage
from omniroute.gateway.admin import create_token
from omniroute.gateway.auth import Role
from omniroute.gateway.server import running_gateway
from omniroute.history.store import write_batch
from omniroute.ingress.server import IngressServer
from omniroute.settings import Settings
from omniroute_connectors.webchat import WebChatConnector

TOKEN = "VisitorTokenForUploadsTest0001"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4
MAX_BYTES = 4096


@dataclass
class Chat:
    url: str
    http: aiohttp.ClientSession

    async def upload(self, data: bytes, filename: str = "broken-mug.png",
                     token: str | None = TOKEN, content_type: str = "image/png"
                     ) -> tuple[int, dict[str, Any]]:
        form = aiohttp.FormData()
        form.add_field("file", data, filename=filename, content_type=content_type)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with self.http.post(f"{self.url}/webchat/uploads", data=form,
                                  headers=headers) as response:
            return response.status, await response.json()

    async def say(self, frame: dict[str, Any], token: str = TOKEN) -> dict[str, Any]:
        """Send one message frame on a fresh socket; the ack or error answering it."""
        async with self.http.ws_connect(f"{self.url}/webchat/ws") as ws:
            await ws.send_json({"type": "hello", "visitor_token": token, "site": "shop.test"})
            await next_frame(ws, "welcome")
            await ws.send_json(frame)
            while True:
                answer: dict[str, Any] = await ws.receive_json(timeout=30)
                if answer["type"] in ("ack", "error"):
                    return answer


@pytest.fixture
async def chat(topics: Settings, database_url: str) -> AsyncIterator[Chat]:
    settings = topics.model_copy(update={"database_url": database_url,
                                         "webchat_upload_max_bytes": MAX_BYTES})
    server = IngressServer(settings, connectors=[WebChatConnector(settings)], port=free_port())
    await server.start()
    try:
        async with aiohttp.ClientSession() as http:
            yield Chat(f"http://127.0.0.1:{server.port}", http)
    finally:
        await server.stop()


async def shown_to_ada(database_url: str, message: InboundMessage) -> str:
    """The message written as the history sink writes it, in ada's conversation; her token."""
    conn = await asyncpg.connect(database_url)
    try:
        await write_batch(conn, [("conversations", opened("c-chat", "cust-v")),
                                 ("assignments", assignment("ada", "c-chat"))])
        await write_batch(conn, [("inbound", message), ("conversations", added(
            message, conversation="c-chat", customer="cust-v"))])
        return await create_token(conn, "ada", Role.AGENT)
    finally:
        await conn.close()


async def test_an_uploaded_photo_reaches_the_agent_byte_for_byte(
        chat: Chat, topics: Settings, database_url: str) -> None:
    """The PNG is stored before the 200, rides the message frame onto omniroute.inbound.v1 as
    a sha256 media_id, and the gateway serves its exact bytes to the assigned agent."""
    status, body = await chat.upload(PNG, filename="broken-mug.png",
                                     content_type="application/octet-stream")
    digest = hashlib.sha256(PNG).hexdigest()
    assert status == 200
    assert body == {"upload_id": body["upload_id"], "content_type": "image/png",
                    "size_bytes": len(PNG), "filename": "broken-mug.png"}
    assert re.fullmatch(f"sha256:{digest}\\.[0-9a-f]{{32}}", body["upload_id"])
    ack = await chat.say({"type": "message", "client_message_id": "m-photo-1",
                          "attachments": [{"upload_id": body["upload_id"],
                                           "filename": "broken-mug.png"}]})
    assert ack["type"] == "ack", ack
    (record,) = await consume(topics.kafka_bootstrap, topics.topic("omniroute.inbound.v1"), 1)
    message = InboundMessage.from_json_bytes(record.value)
    (attachment,) = message.attachments
    assert (message.event_id, message.text) == (ack["event_id"], None)
    assert (attachment.kind, attachment.media_id, attachment.content_type,
            attachment.filename, attachment.size_bytes) == (
        AttachmentKind.IMAGE, f"sha256:{digest}", "image/png", "broken-mug.png", len(PNG))

    token = await shown_to_ada(database_url, message)
    settings = topics.model_copy(update={"database_url": database_url})
    async with running_gateway(settings, database_url, port=free_port()) as gateway, \
            aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as http:
        url = (f"{gateway.url}/api/v1/conversations/c-chat/messages/{message.event_id}"
               "/attachments/0")
        async with http.get(url) as response:
            assert (response.status, await response.read()) == (200, PNG)
            assert response.headers["Content-Type"] == "image/png"


async def test_uploads_are_refused_precisely(chat: Chat) -> None:
    """No or a malformed visitor token: 401; HTML or an .exe named .png: 415; over the cap:
    413; not a form: 400; the token may come as a form field instead of the header."""
    assert (await chat.upload(PNG, token=None))[0] == 401
    assert (await chat.upload(PNG, token="short"))[0] == 401
    status, body = await chat.upload(b"<html><script>alert(1)</script></html>", "cat.png")
    assert (status, body["error"]["code"]) == (415, "unsupported_type")
    status, body = await chat.upload(b"MZ\x90\x00 an executable", "receipt.jpg")
    assert (status, body["error"]["code"]) == (415, "unsupported_type")
    status, body = await chat.upload(PNG + bytes(MAX_BYTES))
    assert (status, body["error"]["code"]) == (413, "file_too_large")
    assert str(MAX_BYTES) in body["error"]["message"]
    async with chat.http.post(f"{chat.url}/webchat/uploads", json={"file": "x"},
                              headers={"Authorization": f"Bearer {TOKEN}"}) as response:
        assert (response.status, (await response.json())["error"]["code"]) == (
            400, "invalid_upload")
    form = aiohttp.FormData()
    form.add_field("visitor_token", TOKEN)
    form.add_field("file", PNG, filename="mug.png", content_type="image/png")
    async with chat.http.post(f"{chat.url}/webchat/uploads", data=form) as response:
        assert response.status == 200  # the token as a form field, as the widget sends it


async def test_a_message_naming_an_unknown_upload_is_refused_and_not_published(
        chat: Chat, topics: Settings, database_url: str) -> None:
    """An upload id never stored gets an ``unknown_upload`` error frame; nothing reaches
    omniroute.inbound.v1 and no blob is stored."""
    answer = await chat.say({"type": "message", "client_message_id": "m-ghost",
                             "text": "see attached",
                             "attachments": [{"upload_id": f"sha256:{'ab' * 32}.{'cd' * 16}"}]})
    assert (answer["type"], answer["code"], answer["client_message_id"]) == (
        "error", "unknown_upload", "m-ghost")
    assert await consume_all(topics.kafka_bootstrap, topics.topic("omniroute.inbound.v1")) == []
    conn = await asyncpg.connect(database_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM attachment_blobs") == 0
    finally:
        await conn.close()


async def test_a_visitor_may_name_only_their_own_uploads(
        chat: Chat, topics: Settings, database_url: str) -> None:
    """Another visitor naming Rin's upload id, or any visitor naming a stored file by its
    digest alone (as an email attachment is stored), gets the answer a file never stored
    gets, and nothing is published: no one puts a file they did not send before an agent,
    or learns which files are stored."""
    status, body = await chat.upload(PNG)
    assert status == 200
    digest = hashlib.sha256(PNG).hexdigest()
    other = "AnotherVisitorTokenForUploads01"
    forged_tag = f"sha256:{digest}.{'0' * 32}"
    for token, upload_id in ((other, body["upload_id"]), (TOKEN, forged_tag),
                             (other, forged_tag)):
        answer = await chat.say({"type": "message", "client_message_id": "m-borrowed",
                                 "attachments": [{"upload_id": upload_id}]}, token=token)
        assert (answer["type"], answer["code"]) == ("error", "unknown_upload"), answer
    answer = await chat.say({"type": "message", "client_message_id": "m-bare",
                             "attachments": [{"upload_id": f"sha256:{digest}"}]}, token=other)
    assert (answer["type"], answer["code"]) == ("error", "invalid_attachments"), answer
    assert await consume_all(topics.kafka_bootstrap, topics.topic("omniroute.inbound.v1")) == []
    ack = await chat.say({"type": "message", "client_message_id": "m-mine",
                          "attachments": [{"upload_id": body["upload_id"]}]})
    assert ack["type"] == "ack", ack  # the visitor who uploaded it may, on any socket


async def test_invented_visitor_tokens_share_their_networks_upload_budget(
        topics: Settings, database_url: str) -> None:
    """Any well-formed visitor token passes the per-visitor limits, so the bytes one IP may
    store per hour bound what a script inventing tokens can add to PostgreSQL: the upload
    that does not fit is refused 429 and stores nothing (and uses none of the budget); what
    was received and refused for its type counts."""
    budget = 2 * len(PNG) + 100
    settings = topics.model_copy(update={"database_url": database_url,
                                         "webchat_upload_max_bytes": MAX_BYTES,
                                         "webchat_upload_bytes_per_ip_per_hour": budget})
    server = IngressServer(settings, connectors=[WebChatConnector(settings)], port=free_port())
    await server.start()
    try:
        async with aiohttp.ClientSession() as http:
            chat = Chat(f"http://127.0.0.1:{server.port}", http)
            files = [PNG + bytes([n]) for n in range(4)]
            statuses = [(await chat.upload(data, token=f"InventedVisitorToken{n:010d}"))[0]
                        for n, data in enumerate(files[:3])]
            assert statuses == [200, 200, 429]
            # 98 bytes left: 90 of HTML are received (and refused 415), then 9 do not fit
            status, body = await chat.upload(b"<html>" * 15, token="InventedVisitorToken0000000099")
            assert (status, body["error"]["code"]) == (415, "unsupported_type")
            status, body = await chat.upload(b"%PDF-1.7\n", token="InventedVisitorToken0000000098")
            assert (status, body["error"]["code"]) == (429, "rate_limited")
            assert "OMNIROUTE_WEBCHAT_UPLOAD_BYTES_PER_IP_PER_HOUR" in body["error"]["message"]
    finally:
        await server.stop()
    conn = await asyncpg.connect(database_url)
    try:
        stored = {r["sha256"] for r in await conn.fetch("SELECT sha256 FROM attachment_blobs")}
    finally:
        await conn.close()
    assert stored == {hashlib.sha256(data).hexdigest() for data in files[:2]}
