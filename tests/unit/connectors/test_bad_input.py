"""Bad input at the edge gets a precise answer: never a 500, never a silent cut (issue 16).

Each test sends the bad input over a real HTTP connection to the ingress shell
(aiohttp test server; the publisher is a fake of the publish port) and checks
the exact status and reason.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr

from omniroute.contract import InboundMessage
from omniroute.ingress.app import build_app
from omniroute.settings import Settings
from omniroute_connectors.base import Event, PublishUnavailable
from omniroute_connectors.email.webhooks import MailgunConnector, mailgun_signature
from omniroute_connectors.kakao import KakaoConnector
from omniroute_connectors.line import LineConnector
from omniroute_connectors.signatures import line_signature, meta_signature, twilio_signature
from omniroute_connectors.telegram import TelegramConnector
from omniroute_connectors.twilio import TwilioConnector
from omniroute_connectors.whatsapp import WhatsAppConnector

BASE = "https://hooks.example.com"
KEY = "key-mailgun-signing"
SETTINGS = Settings(public_base_url=BASE, twilio_auth_token="tw-token", meta_app_secret="app",
                    meta_verify_token="verify-me", telegram_secret_token="tg",
                    line_channel_secret="line", kakao_secret="kk", telegram_bot_token="42:x",
                    mailgun_signing_key=SecretStr(KEY), email_mailboxes="support@acme.test")


class FakePublisher:
    """Records published events."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    async def publish(self, events: Sequence[Event]) -> None:
        self.events.extend(events)


@pytest.fixture
async def hub() -> AsyncIterator[tuple[TestClient, FakePublisher]]:
    publisher = FakePublisher()
    connectors = [c(SETTINGS) for c in (TwilioConnector, WhatsAppConnector, TelegramConnector,
                                        LineConnector, KakaoConnector, MailgunConnector)]
    client = TestClient(TestServer(build_app(SETTINGS, connectors, publisher)))
    await client.start_server()
    try:
        yield client, publisher
    finally:
        await client.close()


def whatsapp(text: str = "hello", padding: int = 0) -> bytes:
    message = {"from": "14155550100", "id": f"wamid.{uuid.uuid4().hex}",
               "timestamp": "1700000000", "type": "text", "text": {"body": text}}
    value = {"messaging_product": "whatsapp",
             "metadata": {"display_phone_number": "1", "phone_number_id": "PN1"},
             "contacts": [{"wa_id": "14155550100", "profile": {"name": "Ann"}}],
             "messages": [message], "padding": "p" * padding}
    payload = {"object": "whatsapp_business_account",
               "entry": [{"id": "1", "changes": [{"field": "messages", "value": value}]}]}
    return json.dumps(payload).encode()


def telegram(text: str = "hi") -> bytes:
    return json.dumps({"update_id": 7, "message": {
        "message_id": 1, "date": 1700000000, "text": text, "chat": {"id": 5, "type": "private"},
        "from": {"id": 5, "is_bot": False, "first_name": "Ann"}}}).encode()


def meta_headers(body: bytes) -> dict[str, str]:
    return {"Content-Type": "application/json", "X-Hub-Signature-256": meta_signature("app", body)}


async def raw_request(client: TestClient, head: bytes, body: bytes = b"") -> tuple[int, bytes]:
    """Send a hand-written HTTP/1.1 request (header bytes exactly as given)."""
    reader, writer = await asyncio.open_connection(client.host, client.port)
    writer.write(head + b"\r\nContent-Length: " + str(len(body)).encode()
                 + b"\r\nConnection: close\r\n\r\n" + body)
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    status = int(answer.split(b" ", 2)[1])
    return status, answer.partition(b"\r\n\r\n")[2]


class TestBodies:
    """Bodies are read whole, however they are segmented, and over the limit is 413."""

    async def test_signed_200kb_body_in_64kib_segments_is_accepted(self, hub) -> None:
        client, publisher = hub
        body = whatsapp(padding=200_000)

        async def segments() -> AsyncIterator[bytes]:
            for start in range(0, len(body), 65_536):
                yield body[start:start + 65_536]
                await asyncio.sleep(0.01)

        response = await client.post("/webhooks/whatsapp", data=segments(),
                                     headers=meta_headers(body))
        assert response.status == 200, await response.text()
        assert len(publisher.events) == 1

    async def test_chunked_body_over_the_limit_is_413(self, hub) -> None:
        client, _ = hub

        async def segments() -> AsyncIterator[bytes]:
            for _ in range(20):
                yield b"x" * 65_536

        response = await client.post("/webhooks/line", data=segments(),
                                     headers={"Content-Type": "application/json",
                                              "x-line-signature": "x"})
        assert response.status == 413
        assert (await response.json())["error"] == "too_large"

    async def test_mailgun_attachment_is_received_whole(self, hub) -> None:
        client, publisher = hub
        pdf = b"%PDF-1.4\n" + bytes(range(256)) * 1200  # ~300 KB
        mail = (b"From: Jane <jane@example.com>\r\nTo: support@acme.test\r\n"
                b"Message-ID: <pdf@example.com>\r\nSubject: Invoice\r\nMIME-Version: 1.0\r\n"
                b"Content-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\n"
                b"Content-Type: text/plain\r\n\r\nSee attached.\r\n--B\r\n"
                b"Content-Type: application/pdf; name=a.pdf\r\n"
                b"Content-Disposition: attachment; filename=a.pdf\r\n"
                b"Content-Transfer-Encoding: base64\r\n\r\n"
                + __import__("base64").encodebytes(pdf) + b"--B--\r\n")
        ctype, body = mailgun_form(mail)
        response = await client.post("/webhooks/mailgun", data=body,
                                     headers={"Content-Type": ctype})
        assert response.status == 200, await response.text()
        (message,) = publisher.events
        assert isinstance(message, InboundMessage)
        assert message.attachments[0].size_bytes == len(pdf)


def mailgun_form(mail: bytes, token: str | None = None, recipient: str = "support@acme.test",
                 extra_parts: int = 0) -> tuple[str, bytes]:
    import time

    token = token or uuid.uuid4().hex * 2
    stamp = str(int(time.time()))
    fields = {"timestamp": stamp.encode(), "token": token.encode(),
              "signature": mailgun_signature(KEY, stamp, token).encode(),
              "recipient": recipient.encode(), "body-mime": mail}
    fields.update({f"x{i}": b"y" for i in range(extra_parts)})
    boundary = uuid.uuid4().hex
    body = b"".join(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                    .encode() + value + b"\r\n" for name, value in fields.items())
    return f"multipart/form-data; boundary={boundary}", body + f"--{boundary}--\r\n".encode()


MAIL = (b"From: Jane <jane@example.com>\r\nTo: support@acme.test\r\n"
        b"Message-ID: <m1@example.com>\r\nSubject: Help\r\n\r\nMy order is late.\r\n")


class TestHeaders:
    """Non-ASCII or undecodable bytes in credentials are refused precisely."""

    @pytest.mark.parametrize(("path", "header", "content_type"), [
        ("/webhooks/twilio", b"X-Twilio-Signature", b"application/x-www-form-urlencoded"),
        ("/webhooks/whatsapp", b"X-Hub-Signature-256", b"application/json"),
        ("/webhooks/telegram", b"X-Telegram-Bot-Api-Secret-Token", b"application/json"),
        ("/webhooks/line", b"x-line-signature", b"application/json"),
        ("/webhooks/kakao", b"X-Omniroute-Kakao-Secret", b"application/json"),
    ])
    @pytest.mark.parametrize("value", ["héllo".encode(), b"\xff\xfe\x80", "秘密".encode()])
    async def test_undecodable_credentials_are_403(self, hub, path: str, header: bytes,
                                                   content_type: bytes, value: bytes) -> None:
        client, publisher = hub
        head = (b"POST " + path.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Type: "
                + content_type + b"\r\n" + header + b": " + value)
        status, body = await raw_request(client, head, b"{}")
        assert status == 403, body
        assert json.loads(body)["error"] == "bad_signature"
        assert publisher.events == []


class TestJsonShapes:
    """Deep or oddly shaped JSON in a correctly signed body is 400, never 500."""

    async def test_deeply_nested_json_is_400_too_deep(self, hub) -> None:
        client, _ = hub
        body = b"[" * 100_000 + b"]" * 100_000
        response = await client.post("/webhooks/line", data=body, headers={
            "Content-Type": "application/json", "x-line-signature": line_signature("line", body)})
        assert response.status == 400
        assert (await response.json())["error"] == "too_deep"

    @pytest.mark.parametrize("payload", [
        {"update_id": 1, "message": []}, {"update_id": 1, "message": {"chat": 5, "text": 1}},
        {"update_id": [], "message": {"from": "x", "chat": {"id": {}}}},
        {"update_id": 1, "callback_query": "x"}, {"update_id": 1e400, "message": {"a": 1}},
    ])
    async def test_odd_telegram_shapes_are_400_or_ignored(self, hub,
                                                          payload: dict[str, Any]) -> None:
        """An update of an odd shape is refused (400) or, when it names no message, ignored."""
        client, publisher = hub
        response = await client.post("/webhooks/telegram", data=json.dumps(payload).encode(),
                                     headers={"Content-Type": "application/json",
                                              "X-Telegram-Bot-Api-Secret-Token": "tg"})
        assert response.status in (200, 400), await response.text()
        if response.status == 200:
            assert payload["message"] == []
        assert publisher.events == []

    @pytest.mark.parametrize("payload", [
        {"events": {"a": 1}}, {"destination": [], "events": [[]]},
        {"events": [{"type": "message", "message": "x", "source": 3}]},
    ])
    async def test_odd_line_shapes_are_400(self, hub, payload: dict[str, Any]) -> None:
        client, _ = hub
        body = json.dumps(payload).encode()
        response = await client.post("/webhooks/line", data=body, headers={
            "Content-Type": "application/json", "x-line-signature": line_signature("line", body)})
        assert response.status == 400, await response.text()

    async def test_huge_integer_is_400_invalid_json(self, hub) -> None:
        client, _ = hub
        body = b'{"update_id": ' + b"9" * 10_000 + b"}"
        response = await client.post("/webhooks/telegram", data=body, headers={
            "Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": "tg"})
        assert response.status == 400
        assert (await response.json())["error"] == "invalid_json"


class TestText:
    """Text PostgreSQL would refuse never leaves the edge."""

    async def test_nul_and_lone_surrogates_are_cleaned(self, hub) -> None:
        client, publisher = hub
        body = telegram("a\x00b\ud800c").replace(b"\\ud800", b"\\ud800")
        response = await client.post("/webhooks/telegram", data=body, headers={
            "Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": "tg"})
        assert response.status == 200
        (message,) = publisher.events
        assert isinstance(message, InboundMessage)
        assert message.text == "ab\ufffdc"


class TestTwilioUrl:
    """Twilio signs the URL as it called it, escapes kept."""

    async def test_percent_escaped_query_verifies(self, hub) -> None:
        client, publisher = hub
        pairs = [("MessageSid", "SM9"), ("From", "+14155550100"), ("To", "+14155550199"),
                 ("Body", "hi"), ("NumMedia", "0")]
        path = "/webhooks/twilio?tenant=acme%20corp&x=%2F"
        signature = twilio_signature("tw-token", BASE + path, pairs)
        head = (f"POST {path} HTTP/1.1\r\nHost: x\r\n"
                "Content-Type: application/x-www-form-urlencoded\r\n"
                f"X-Twilio-Signature: {signature}").encode()
        status, body = await raw_request(client, head, urlencode(pairs).encode())
        assert status == 200, body
        assert len(publisher.events) == 1


class TestMailgun:
    """Mailgun: the signature is checked before the mail is parsed; tokens are spent."""

    async def test_token_refused_once_cannot_return_with_another_body(self, hub) -> None:
        client, publisher = hub
        token = uuid.uuid4().hex * 2
        ctype, body = mailgun_form(MAIL, token, recipient="nobody@elsewhere.test")
        other = MAIL.replace(b"support@acme.test", b"nobody@elsewhere.test")
        ctype, body = mailgun_form(other, token, recipient="nobody@elsewhere.test")
        first = await client.post("/webhooks/mailgun", data=body, headers={"Content-Type": ctype})
        assert first.status == 406
        ctype, body = mailgun_form(MAIL, token)
        again = await client.post("/webhooks/mailgun", data=body, headers={"Content-Type": ctype})
        assert again.status == 403
        assert (await again.json())["error"] == "replayed_token"
        assert publisher.events == []

    async def test_unsigned_form_is_refused_before_the_mail_is_parsed(self, hub) -> None:
        client, _ = hub
        boundary = "B"
        parts = b"".join(b"--B\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\ny\r\n"
                         for _ in range(50_000))
        response = await client.post("/webhooks/mailgun", data=parts + b"--B--\r\n", headers={
            "Content-Type": f"multipart/form-data; boundary={boundary}"})
        assert response.status == 401

    async def test_form_with_too_many_parts_is_400(self, hub) -> None:
        client, _ = hub
        ctype, body = mailgun_form(MAIL, extra_parts=1_500)
        response = await client.post("/webhooks/mailgun", data=body,
                                     headers={"Content-Type": ctype})
        assert response.status == 400
        assert (await response.json())["error"] == "too_many_parts"

    async def test_mail_with_too_many_mime_parts_is_400(self, hub) -> None:
        client, _ = hub
        mail = (b"From: a@example.com\r\nTo: support@acme.test\r\nMIME-Version: 1.0\r\n"
                b"Content-Type: multipart/mixed; boundary=Q\r\n\r\n"
                + b"--Q\r\nContent-Type: text/plain\r\n\r\nx\r\n" * 3000 + b"--Q--\r\n")
        ctype, body = mailgun_form(mail)
        response = await client.post("/webhooks/mailgun", data=body,
                                     headers={"Content-Type": ctype})
        assert response.status == 400
        assert "MIME parts" in (await response.json())["detail"]


class TestAccounts:
    """On multi-account routes, the account that verified is the one published."""

    @pytest.fixture
    async def accounts(self, tmp_path: Path) -> AsyncIterator[tuple[TestClient, FakePublisher]]:
        path = tmp_path / "accounts.toml"
        path.write_text('[[twilio]]\nname="us"\nauth_token="token-us"\naccount_sid="ACus"\n'
                        'channel_accounts=["+14155550199"]\n'
                        '[[twilio]]\nname="uk"\nauth_token="token-uk"\naccount_sid="ACuk"\n'
                        'channel_accounts=["+447700900123"]\n'
                        '[[line]]\nname="jp"\nchannel_secret="secret-jp"\n'
                        'channel_access_token="t"\nchannel_accounts=["Ujp"]\n')
        settings = Settings(connectors_config=path, public_base_url=BASE)
        publisher = FakePublisher()
        app = build_app(settings, [TwilioConnector(settings), LineConnector(settings)], publisher)
        async with TestClient(TestServer(app)) as client:
            yield client, publisher

    async def test_body_signed_by_one_account_for_anothers_number_is_403(self, accounts) -> None:
        client, publisher = accounts
        pairs = [("MessageSid", "SM1"), ("From", "+447700900999"), ("To", "+447700900123"),
                 ("Body", "hi"), ("NumMedia", "0")]
        url = f"{BASE}/webhooks/twilio"
        for token, status in (("token-us", 403), ("token-uk", 200)):
            response = await client.post("/webhooks/twilio", data=urlencode(pairs), headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Twilio-Signature": twilio_signature(token, url, pairs)})
            assert response.status == status, await response.text()
        assert [e.channel_account for e in publisher.events] == ["+447700900123"]

    async def test_line_unknown_channel_is_indistinguishable_from_a_bad_signature(
            self, accounts) -> None:
        client, _ = accounts
        body = b'{"destination": "Ujp", "events": []}'
        for path in ("/webhooks/line/nope", "/webhooks/line/jp"):
            response = await client.post(path, data=body, headers={
                "Content-Type": "application/json", "x-line-signature": "forged"})
            assert (response.status, (await response.json())["error"]) == (403, "bad_signature")
        response = await client.post("/webhooks/line/nope", data=body,
                                     headers={"Content-Type": "application/json"})
        assert response.status == 401


class TestPublishFailure:
    """A publish failure stays a 503 (the provider retries)."""

    async def test_unavailable_is_503(self) -> None:
        class Down:
            async def publish(self, events: Sequence[Event]) -> None:
                raise PublishUnavailable("down")

        app = build_app(SETTINGS, [TelegramConnector(SETTINGS)], Down())
        async with TestClient(TestServer(app)) as client:
            response = await client.post("/webhooks/telegram", data=telegram(), headers={
                "Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": "tg"})
            assert response.status == 503
