"""Agents see the photos and files customers send: signed webhooks with media through the
ingress onto ``omniroute.inbound.v1`` (real Kafka), stored by the history sink's writer
(real PostgreSQL), then ``GET …/messages/{id}/attachments/{n}`` on the gateway fetches the
bytes from the provider (the harness's fakes, which check credentials as documented).

The worker between the topic and history (identity, threading, routing) changes nothing
of an attachment; the test ties the messages to one conversation with the events the
conversations processor would publish, to keep to a few seconds."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import urlencode

import aiohttp
import asyncpg
import pytest
from prometheus_client import REGISTRY

from harness.kafka import consume
from harness.ports import free_port
from harness.providers.base import Failure
from harness.providers.graph import FakeGraph
from harness.providers.line import FakeLine
from harness.providers.telegram import FakeTelegram
from harness.providers.twilio import FakeTwilio
from integration.history.factories import added, assignment, opened
from omniroute.contract import (
    Address,
    Attachment,
    AttachmentKind,
    Channel,
    InboundMessage,
    utcnow,
)
from omniroute.gateway.admin import create_token
from omniroute.gateway.auth import Role
from omniroute.gateway.server import running_gateway
from omniroute.history.store import write_batch
from omniroute.ingress.server import IngressServer
from omniroute.settings import Settings
from omniroute_connectors.line import LineConnector
from omniroute_connectors.signatures import line_signature, meta_signature, twilio_signature
from omniroute_connectors.telegram import TelegramConnector
from omniroute_connectors.twilio import TwilioConnector
from omniroute_connectors.whatsapp import WhatsAppConnector

SID, TWILIO_TOKEN = "AC" + "7" * 32, "twilio-auth-token"
APP_SECRET, GRAPH_TOKEN = "meta-app-secret", "graph-token"
BOT_TOKEN, TG_SECRET = "7000001:telegram-bot-token", "telegram-secret"
LINE_SECRET, LINE_TOKEN = "line-secret", "line-token"
PHOTO = b"\xff\xd8\xff\xe0 a customer's photo of a broken mug \xff\xd9"
PDF = b"%PDF-1.4 the customer's invoice %%EOF"
STICKERISH = b"\x89PNG\r\n\x1a\n a LINE image"
TG_PHOTO = b"\xff\xd8\xff a telegram photo"
POSTER = b"\x89PNG\r\n\x1a\n" + bytes(4096)
"""Over the gateway's limit in this test (OMNIROUTE_MEDIA_MAX_BYTES=2048)."""


@dataclass
class Desk:
    gateway: str
    tokens: dict[str, str]
    http: aiohttp.ClientSession
    ids: dict[str, str]
    """What each webhook became: provider → the stored message id."""
    twilio: FakeTwilio
    graph: FakeGraph

    async def get(self, who: str, message: str, position: int = 0,
                  conversation: str = "c-media") -> tuple[int, dict[str, str], bytes]:
        url = (f"{self.gateway}/api/v1/conversations/{conversation}/messages/{message}/"
               f"attachments/{position}")
        async with self.http.get(url, headers={"Authorization": f"Bearer {self.tokens[who]}"}
                                 ) as response:
            return response.status, dict(response.headers), await response.read()

    async def error(self, who: str, message: str, position: int = 0,
                    conversation: str = "c-media") -> tuple[int, str, str]:
        status, _headers, body = await self.get(who, message, position, conversation)
        error = json.loads(body)["error"]
        return status, error["code"], error["message"]


async def _post(http: aiohttp.ClientSession, url: str, body: bytes | str,
                headers: dict[str, str]) -> None:
    async with http.post(url, data=body, headers=headers) as response:
        assert response.status == 200, await response.text()


async def _webhooks(base: str, http: aiohttp.ClientSession, twilio: FakeTwilio,
                    graph: FakeGraph, telegram: FakeTelegram, line: FakeLine) -> None:
    """A Twilio MMS (photo, PDF, a large PNG), a WhatsApp image, a Telegram photo and a LINE
    image."""
    pairs = [("MessageSid", "MMmedia1"), ("From", "+14155550100"), ("To", "+14155550199"),
             ("Body", "my mug arrived broken"), ("NumMedia", "3"),
             ("MediaUrl0", twilio.add_media("MMmedia1", "image/jpeg", PHOTO)),
             ("MediaContentType0", "image/jpeg"),
             ("MediaUrl1", twilio.add_media("MMmedia1", "application/pdf", PDF)),
             ("MediaContentType1", "application/pdf"),
             ("MediaUrl2", twilio.add_media("MMmedia1", "image/png", POSTER)),
             ("MediaContentType2", "image/png")]
    await _post(http, f"{base}/webhooks/twilio", urlencode(pairs), {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Twilio-Signature": twilio_signature(TWILIO_TOKEN, f"{base}/webhooks/twilio", pairs)})
    media_id = graph.add_media("image/jpeg", PHOTO + b"wa")
    body = json.dumps({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{
        "field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "14155550199", "phone_number_id": "11223"},
            "contacts": [{"profile": {"name": "Marco"}, "wa_id": "14155551002"}],
            "messages": [{"from": "14155551002", "id": "wamid.media1", "timestamp": "1700000000",
                          "type": "image", "image": {"mime_type": "image/jpeg",
                                                     "sha256": "x", "id": media_id}}]}}]}]})
    await _post(http, f"{base}/webhooks/whatsapp", body, {
        "Content-Type": "application/json",
        "X-Hub-Signature-256": meta_signature(APP_SECRET, body.encode())})
    file_id = telegram.add_file("photos/file_7.jpg", TG_PHOTO)
    body = json.dumps({"update_id": 900001, "message": {
        "message_id": 5, "date": 1700000000, "chat": {"id": 4242, "type": "private"},
        "from": {"id": 4242, "is_bot": False, "first_name": "Ana"},
        "photo": [{"file_id": file_id, "file_unique_id": "u1", "width": 90, "height": 90,
                   "file_size": len(TG_PHOTO)}]}})
    await _post(http, f"{base}/webhooks/telegram", body, {
        "Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": TG_SECRET})
    line.content["325708"] = ("image/png", STICKERISH)
    body = json.dumps({"destination": "Ubot", "events": [{
        "type": "message", "webhookEventId": "01HMEDIA1", "mode": "active",
        "timestamp": 1700000000000, "source": {"type": "user", "userId": "Umedia"},
        "replyToken": "r1", "message": {"id": "325708", "type": "image",
                                        "contentProvider": {"type": "line"}}}]})
    await _post(http, f"{base}/webhooks/line", body, {
        "Content-Type": "application/json",
        "x-line-signature": line_signature(LINE_SECRET, body.encode())})


def _email() -> InboundMessage:
    return InboundMessage(
        event_id="smtp:media-mail", channel=Channel.EMAIL, provider="smtp",
        channel_account="support@shop.test", sender=Address(value="ana@example.test"),
        recipient=Address(value="support@shop.test"), provider_message_id="<m1@example.test>",
        provider_timestamp=utcnow(), text="invoice attached",
        attachments=[Attachment(kind=AttachmentKind.FILE, media_id="sha256:" + "ab" * 32,
                                content_type="application/pdf", filename="invoice.pdf")])


@pytest.fixture
async def desk(topics: Settings, database_url: str) -> AsyncIterator[Desk]:
    async with FakeTwilio(SID, TWILIO_TOKEN) as twilio, FakeGraph(GRAPH_TOKEN) as graph, \
            FakeTelegram(BOT_TOKEN) as telegram, FakeLine(LINE_TOKEN) as line, \
            aiohttp.ClientSession() as http:
        port = free_port()
        settings = Settings(
            kafka_bootstrap=topics.kafka_bootstrap, topic_namespace=topics.topic_namespace,
            public_base_url=f"http://127.0.0.1:{port}", profile_lookup_timeout_s=0,
            twilio_account_sid=SID, twilio_auth_token=TWILIO_TOKEN,
            twilio_api_base_url=twilio.base_url, meta_app_secret=APP_SECRET,
            meta_access_token=GRAPH_TOKEN, meta_graph_base_url=graph.base_url,
            telegram_bot_token=BOT_TOKEN, telegram_secret_token=TG_SECRET,
            telegram_api_base_url=telegram.base_url, line_channel_secret=LINE_SECRET,
            line_channel_access_token=LINE_TOKEN, line_data_api_base_url=line.base_url,
            media_fetch_timeout_s=5.0, media_max_bytes=2048)
        ingress = IngressServer(settings, [TwilioConnector(settings), WhatsAppConnector(settings),
                                           TelegramConnector(settings), LineConnector(settings)],
                                port=port)
        await ingress.start()
        try:
            await _webhooks(f"http://127.0.0.1:{port}", http, twilio, graph, telegram, line)
        finally:
            await ingress.stop()
        records = await consume(settings.kafka_bootstrap,
                                settings.topic("omniroute.inbound.v1"), 4, timeout=20)
        messages = [InboundMessage.from_json_bytes(r.value) for r in records] + [_email()]
        assert len(messages) == 5
        conn = await asyncpg.connect(database_url)
        try:
            await write_batch(conn, [("conversations", opened("c-media", "cust-m")),
                                     ("conversations", opened("c-other", "cust-o")),
                                     ("assignments", assignment("ada", "c-media")),
                                     ("assignments", assignment("bob", "c-other"))])
            await write_batch(conn, [("inbound", m) for m in messages] + [
                ("conversations", added(m, conversation="c-media", customer="cust-m"))
                for m in messages])
            tokens = {who: await create_token(conn, who, role) for who, role in
                      (("ada", Role.AGENT), ("bob", Role.AGENT), ("boss", Role.SUPERVISOR))}
        finally:
            await conn.close()
        async with running_gateway(settings, database_url, port=free_port()) as gateway:
            yield Desk(gateway.url, tokens, http, {m.provider: m.event_id for m in messages},
                       twilio, graph)


def _served(provider: str, outcome: str) -> float:
    return REGISTRY.get_sample_value("omniroute_gateway_attachments_total",
                                     {"provider": provider, "outcome": outcome}) or 0.0


async def test_agents_see_each_providers_bytes_with_its_type(desk: Desk) -> None:
    """The holder and a supervisor get each provider's exact bytes and type: Twilio's photo
    (basic auth, then the signed storage URL without it) and PDF, WhatsApp's image (media
    id, then its URL, with the token), Telegram's photo (getFile, then the file) and LINE's
    image (the data API); an agent who never held the conversation gets 403."""
    before = _served("twilio", "served")
    cases = [("twilio", 0, PHOTO, "image/jpeg", "inline"),
             ("twilio", 1, PDF, "application/pdf", "attachment"),
             ("whatsapp_cloud", 0, PHOTO + b"wa", "image/jpeg", "inline"),
             ("telegram", 0, TG_PHOTO, "image/jpeg", "inline"),
             ("line", 0, STICKERISH, "image/png", "inline")]
    for provider, position, body, kind, shown in cases:
        for who in ("ada", "boss"):
            status, headers, got = await desk.get(who, desk.ids[provider], position)
            assert (status, got, headers["Content-Type"]) == (200, body, kind), provider
            assert headers["Content-Disposition"] == shown
            assert headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
            assert headers["X-Content-Type-Options"] == "nosniff"
            assert headers["Cache-Control"] == "private, max-age=3600"
    assert _served("twilio", "served") - before == 4
    storage = [s for s in desk.twilio.requests if s.path.startswith("/storage/")]
    media = [s for s in desk.twilio.requests if "/Media/" in s.path]
    assert len(storage) == len(media) == 4
    assert all(s.header("Authorization") is None for s in storage)
    assert all((s.header("Authorization") or "").startswith("Basic ") for s in media)
    assert (await desk.error("bob", desk.ids["twilio"]))[:2] == (403, "forbidden")


async def test_what_cannot_be_served_is_a_json_error_naming_why(desk: Desk) -> None:
    """An email attachment whose bytes were not stored is 404 not_stored; one over the limit
    is 502 media_too_large; a provider answering 404 is 502 media_unavailable with its
    status; no such position, message or conversation is 404."""
    status, code, message = await desk.error("ada", desk.ids["smtp"])
    assert (status, code) == (404, "not_stored") and "original mail" in message
    status, code, message = await desk.error("ada", desk.ids["twilio"], 2)
    assert (status, code) == (502, "media_too_large") and "2048" in message
    desk.twilio.media.clear()  # Twilio deleted the media
    status, code, message = await desk.error("ada", desk.ids["twilio"])
    assert (status, code) == (502, "media_unavailable")
    assert message.startswith("could not fetch the attachment from Twilio: Twilio answered "
                              "HTTP 404")
    desk.graph.fail_next = [Failure(404, 100)]
    status, code, message = await desk.error("boss", desk.ids["whatsapp_cloud"])
    assert (status, code) == (502, "media_unavailable")
    assert "the Graph API answered HTTP 404" in message
    assert (await desk.error("ada", desk.ids["twilio"], 3))[:2] == (404, "not_found")
    assert (await desk.error("ada", "no-such-message"))[:2] == (404, "not_found")
    assert (await desk.error("ada", desk.ids["twilio"], conversation="nope"))[:2] == \
        (404, "not_found")
    # a message of another conversation is not reached through one the caller may read
    assert (await desk.error("bob", desk.ids["twilio"], conversation="c-other"))[:2] == \
        (404, "not_found")
