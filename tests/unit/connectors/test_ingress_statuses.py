"""The ingress shell's answers: 2xx after publish, 400/401/403/413/415/404/405, 503.

The publisher here is a fake of the publish capability (a port); the real
producer is exercised against the real broker in tests/integration/connectors.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from urllib.parse import urlencode

import pytest
from aiohttp.test_utils import TestClient, TestServer

from omniroute.contract import InboundMessage
from omniroute.ingress.app import build_app
from omniroute.settings import Settings
from omniroute_connectors.base import Event, PublishUnavailable
from omniroute_connectors.kakao import KakaoConnector
from omniroute_connectors.line import LineConnector
from omniroute_connectors.signatures import line_signature, meta_signature, twilio_signature
from omniroute_connectors.telegram import TelegramConnector
from omniroute_connectors.twilio import TwilioConnector
from omniroute_connectors.whatsapp import WhatsAppConnector

BASE = "https://hooks.example.com"
SETTINGS = Settings(public_base_url=BASE, twilio_auth_token="tw-token", meta_app_secret="app",
                    meta_verify_token="verify-me", telegram_secret_token="tg",
                    line_channel_secret="line", kakao_secret="kk", telegram_bot_token="42:x")


class FakePublisher:
    """Records published events; fails while ``down``."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.down = False

    async def publish(self, events: Sequence[Event]) -> None:
        if self.down:
            raise PublishUnavailable("broker down")
        self.events.extend(events)


@pytest.fixture
async def hub() -> AsyncIterator[tuple[TestClient, FakePublisher]]:
    publisher = FakePublisher()
    connectors = [c(SETTINGS) for c in (TwilioConnector, WhatsAppConnector, TelegramConnector,
                                        LineConnector, KakaoConnector)]
    client = TestClient(TestServer(build_app(SETTINGS, connectors, publisher)))
    await client.start_server()
    try:
        yield client, publisher
    finally:
        await client.close()


SMS = [("MessageSid", "SM1"), ("From", "+14155550100"), ("To", "+14155550199"),
       ("Body", "hello"), ("NumMedia", "1"), ("MediaUrl0", "https://api.twilio.com/m/1"),
       ("MediaContentType0", "image/jpeg"), ("SmsStatus", "received")]
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def twilio_headers(pairs: list[tuple[str, str]]) -> dict[str, str]:
    sig = twilio_signature("tw-token", f"{BASE}/webhooks/twilio", pairs)
    return {**FORM, "X-Twilio-Signature": sig}


class TestTwilio:
    """Twilio form posts through the shell."""

    async def test_signed_mms_published_and_empty_twiml(self, hub) -> None:
        """A signed MMS is published once and answered with an empty TwiML Response."""
        client, publisher = hub
        response = await client.post("/webhooks/twilio", data=urlencode(SMS),
                                     headers=twilio_headers(SMS))
        assert response.status == 200
        assert response.content_type == "text/xml"
        assert (await response.text()).endswith("<Response></Response>")
        [event] = publisher.events
        assert isinstance(event, InboundMessage)
        assert event.event_id == "twilio:SM1" and event.text == "hello"
        assert event.attachments[0].content_type == "image/jpeg"

    async def test_status_callback_is_delivery_status(self, hub) -> None:
        """A status callback becomes a DeliveryStatus, not a customer message."""
        client, publisher = hub
        pairs = [("MessageSid", "SM9"), ("MessageStatus", "delivered"), ("To", "+1415555")]
        response = await client.post("/webhooks/twilio", data=urlencode(pairs),
                                     headers=twilio_headers(pairs))
        assert response.status == 200
        assert publisher.events[0].state.value == "delivered"  # type: ignore[union-attr]

    async def test_missing_signature_401(self, hub) -> None:
        """No X-Twilio-Signature: 401, nothing published, JSON reason."""
        client, publisher = hub
        response = await client.post("/webhooks/twilio", data=urlencode(SMS), headers=FORM)
        assert response.status == 401
        assert (await response.json())["error"] == "missing_signature"
        assert publisher.events == []

    async def test_bad_signature_403(self, hub) -> None:
        """A tampered body: 403."""
        client, publisher = hub
        headers = twilio_headers(SMS)
        tampered = [*SMS[:3], ("Body", "HELLO"), *SMS[4:]]
        response = await client.post("/webhooks/twilio", data=urlencode(tampered),
                                     headers=headers)
        assert response.status == 403
        assert publisher.events == []

    async def test_missing_field_400_names_it(self, hub) -> None:
        """A signed post without MessageSid: 400 naming the field."""
        client, _ = hub
        pairs = [p for p in SMS if p[0] != "MessageSid"]
        response = await client.post("/webhooks/twilio", data=urlencode(pairs),
                                     headers=twilio_headers(pairs))
        assert response.status == 400
        assert "MessageSid" in (await response.json())["detail"]

    async def test_kafka_down_503(self, hub) -> None:
        """Kafka not acknowledging: 503 so Twilio retries."""
        client, publisher = hub
        publisher.down = True
        response = await client.post("/webhooks/twilio", data=urlencode(SMS),
                                     headers=twilio_headers(SMS))
        assert response.status == 503
        assert (await response.json())["error"] == "kafka_unavailable"


class TestShell:
    """Route, size, content type and method checks."""

    async def test_unknown_route_404_json(self, hub) -> None:
        """An unknown path: 404 JSON."""
        client, _ = hub
        response = await client.post("/webhooks/nope", data=b"{}")
        assert response.status == 404
        assert (await response.json())["error"] == "unknown_route"

    async def test_wrong_method_405(self, hub) -> None:
        """PUT on a webhook: 405."""
        client, _ = hub
        response = await client.put("/webhooks/line", data=b"{}")
        assert response.status == 405

    async def test_wrong_content_type_415(self, hub) -> None:
        """text/plain to a JSON webhook: 415."""
        client, publisher = hub
        response = await client.post("/webhooks/line", data=b"hi",
                                     headers={"Content-Type": "text/plain"})
        assert response.status == 415
        assert publisher.events == []

    async def test_oversized_413(self, hub) -> None:
        """A body over the 1 MiB limit: 413 before verification."""
        client, _ = hub
        response = await client.post("/webhooks/line", data=b"x" * (1_048_576 + 10),
                                     headers={"Content-Type": "application/json"})
        assert response.status == 413

    async def test_malformed_json_400(self, hub) -> None:
        """A correctly signed body that is not JSON: 400 invalid_json."""
        client, _ = hub
        body = b"{not json"
        response = await client.post("/webhooks/line", data=body, headers={
            "Content-Type": "application/json", "x-line-signature": line_signature("line", body)})
        assert response.status == 400
        assert (await response.json())["error"] == "invalid_json"

    async def test_metrics_count_rejections(self, hub) -> None:
        """/metrics exposes rejections by provider and reason."""
        client, _ = hub
        await client.post("/webhooks/telegram", data=b"{}",
                          headers={"Content-Type": "application/json"})
        text = await (await client.get("/metrics")).text()
        assert 'omniroute_rejections_total{provider="telegram",reason="missing_signature"}' in text


class TestMeta:
    """WhatsApp Cloud: handshake and signature."""

    async def test_handshake_echoes_challenge(self, hub) -> None:
        """GET with the right verify token echoes hub.challenge."""
        client, _ = hub
        response = await client.get("/webhooks/whatsapp", params={
            "hub.mode": "subscribe", "hub.verify_token": "verify-me", "hub.challenge": "1158201444"})
        assert response.status == 200 and await response.text() == "1158201444"

    async def test_handshake_wrong_token_403(self, hub) -> None:
        """GET with a wrong verify token: 403."""
        client, _ = hub
        response = await client.get("/webhooks/whatsapp", params={
            "hub.mode": "subscribe", "hub.verify_token": "nope", "hub.challenge": "1"})
        assert response.status == 403

    async def test_signed_status_published(self, hub, shared_fixtures) -> None:
        """A signed fixture body is published."""
        client, publisher = hub
        body = json.dumps(json.loads((shared_fixtures / "webhooks/whatsapp/message_status.json")
                                     .read_text())["read"]).encode()
        response = await client.post("/webhooks/whatsapp", data=body, headers={
            "Content-Type": "application/json", "X-Hub-Signature-256": meta_signature("app", body)})
        assert response.status == 200
        assert publisher.events[0].state.value == "read"  # type: ignore[union-attr]


class TestTelegramAndKakao:
    """Secret-token providers."""

    async def test_telegram_update(self, hub) -> None:
        """A text update keyed by update_id, sender = chat id."""
        client, publisher = hub
        update = {"update_id": 10000, "message": {
            "message_id": 7, "date": 1441645532, "text": "hi",
            "from": {"id": 1111111, "first_name": "Ann", "is_bot": False},
            "chat": {"id": 1111111, "type": "private"},
            "reply_to_message": {"message_id": 6, "chat": {"id": 1111111}}}}
        response = await client.post("/webhooks/telegram", json=update,
                                     headers={"X-Telegram-Bot-Api-Secret-Token": "tg"})
        assert response.status == 200
        [event] = publisher.events
        assert isinstance(event, InboundMessage)
        assert event.event_id == "telegram:42:10000" and event.sender.value == "1111111"
        assert event.reply_to_provider_message_id == "1111111:6"

    async def test_kakao_skill_response(self, hub) -> None:
        """Kakao gets a SkillResponse; with a callbackUrl it switches to the callback."""
        client, publisher = hub
        payload = {"userRequest": {"utterance": "안녕하세요", "user": {"id": "botuser1",
                   "type": "botUserKey"}, "callbackUrl": "https://bot-api.kakao.com/cb/1"},
                   "bot": {"id": "bot9"}}
        response = await client.post("/webhooks/kakao", json=payload,
                                     headers={"X-Omniroute-Kakao-Secret": "kk"})
        assert response.status == 200
        body = await response.json()
        assert body["version"] == "2.0" and body["useCallback"] is True
        [event] = publisher.events
        assert event.metadata["callback_url"] == "https://bot-api.kakao.com/cb/1"  # type: ignore[union-attr]
        del payload["userRequest"]["callbackUrl"]
        response = await client.post("/webhooks/kakao", json=payload,
                                     headers={"X-Omniroute-Kakao-Secret": "kk"})
        outputs = (await response.json())["template"]["outputs"]
        assert outputs[0]["simpleText"]["text"] == SETTINGS.kakao_ack_text
