"""Property-based fuzz of every webhook route (issue 16): no 500, no hang.

The ingress application (every connector, a fake publish port) runs in its own
thread and event loop on a real port; hypothesis sends bodies of every shape,
correctly signed (so they reach the plugins' mappings) and unsigned, with odd
headers. Every answer must come within a few seconds and be below 500. Examples
per route: ``OMNIROUTE_FUZZ_EXAMPLES`` (default 40, short for CI).
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import urlencode

import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from harness.ports import free_port
from omniroute.ingress.app import build_app
from omniroute.settings import Settings
from omniroute_connectors.base import Event
from omniroute_connectors.email.webhooks import (
    MailgunConnector,
    SendGridConnector,
    mailgun_signature,
)
from omniroute_connectors.instagram import InstagramConnector
from omniroute_connectors.kakao import KakaoConnector
from omniroute_connectors.line import LineConnector
from omniroute_connectors.messenger import MessengerConnector
from omniroute_connectors.signatures import line_signature, meta_signature, twilio_signature
from omniroute_connectors.telegram import TelegramConnector
from omniroute_connectors.twilio import TwilioConnector
from omniroute_connectors.whatsapp import WhatsAppConnector

EXAMPLES = int(os.environ.get("OMNIROUTE_FUZZ_EXAMPLES", "40"))
ANSWER_SECONDS = 10.0
KEY = "mailgun-fuzz-key-0123456789"
VERIFY_TOKEN = "verify-fuzz"
SETTINGS = Settings(twilio_auth_token="tw-token-fuzz", meta_app_secret="meta-fuzz-secret",
                    meta_verify_token="verify-fuzz", telegram_secret_token="tg-fuzz-secret",
                    line_channel_secret="line-fuzz-secret", kakao_secret="kakao-fuzz-secret",
                    telegram_bot_token="42:fuzz", mailgun_signing_key=SecretStr(KEY),
                    sendgrid_inbound_secret=SecretStr("sendgrid-fuzz-secret"),
                    email_mailboxes="support@acme.test")
FUZZ = settings(max_examples=EXAMPLES, deadline=None,
                derandomize=os.environ.get("OMNIROUTE_FUZZ_RANDOM") is None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])


class Sink:
    async def publish(self, events: Sequence[Event]) -> None:
        return None


@pytest.fixture(scope="module")
def ingress() -> Iterator[int]:
    """The ingress app served from a thread of its own; yields its port."""
    connectors = [c(SETTINGS) for c in (
        TwilioConnector, WhatsAppConnector, MessengerConnector, InstagramConnector,
        TelegramConnector, LineConnector, KakaoConnector, MailgunConnector, SendGridConnector)]
    port = free_port()
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    runner = web.AppRunner(build_app(SETTINGS, connectors, Sink()), access_log=None)

    async def start() -> None:
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        ready.set()

    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(start(), loop).result(30)
    assert ready.wait(30)
    yield port
    asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(30)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)


def post(port: int, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, float]:
    """POST and return (status, seconds); an answer that does not come fails the test."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=ANSWER_SECONDS)
    started = time.monotonic()
    try:
        conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        return response.status, time.monotonic() - started
    finally:
        conn.close()


KEYS = st.sampled_from([
    "object", "entry", "changes", "field", "value", "messages", "statuses", "metadata",
    "phone_number_id", "from", "id", "timestamp", "type", "text", "body", "contacts", "wa_id",
    "messaging", "sender", "recipient", "message", "mid", "attachments", "payload", "url",
    "events", "destination", "source", "userId", "replyToken", "webhookEventId", "update_id",
    "chat", "date", "caption", "photo", "file_id", "location", "latitude", "longitude",
    "callback_query", "data", "userRequest", "user", "utterance", "bot", "callbackUrl",
    "properties", "reaction", "emoji", "status", "errors", "code", "title", "interactive"])
LEAVES = (st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats()
          | st.text(max_size=40) | st.sampled_from(["whatsapp_business_account", "page",
                                                   "instagram", "message", "text", "image"]))
JSON = st.recursive(LEAVES, lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(KEYS | st.text(max_size=8), inner, max_size=5),
                    max_leaves=30)
META_OBJECTS = st.sampled_from(["whatsapp_business_account", "page", "instagram"])


def meta_body(draw_json: Any, obj: str) -> bytes:
    payload = draw_json if isinstance(draw_json, dict) else {"entry": draw_json}
    return json.dumps({**payload, "object": obj}, allow_nan=True).encode()


class TestSignedBodies:
    """Correctly signed bodies of any shape reach the mappings: answered 2xx/4xx, in time."""

    @FUZZ
    @given(payload=JSON, obj=META_OBJECTS,
           route=st.sampled_from(["whatsapp", "messenger", "instagram"]))
    def test_meta(self, ingress: int, payload: Any, obj: str, route: str) -> None:
        body = meta_body(payload, obj)
        status, seconds = post(ingress, f"/webhooks/{route}", body, {
            "Content-Type": "application/json",
            "X-Hub-Signature-256": meta_signature("meta-fuzz-secret", body)})
        assert status < 500 and seconds < ANSWER_SECONDS

    @FUZZ
    @given(payload=JSON)
    def test_telegram(self, ingress: int, payload: Any) -> None:
        status, _ = post(ingress, "/webhooks/telegram", json.dumps(payload).encode(), {
            "Content-Type": "application/json",
            "X-Telegram-Bot-Api-Secret-Token": "tg-fuzz-secret"})
        assert status < 500

    @FUZZ
    @given(payload=JSON)
    def test_line(self, ingress: int, payload: Any) -> None:
        body = json.dumps(payload).encode()
        status, _ = post(ingress, "/webhooks/line", body, {
            "Content-Type": "application/json",
            "x-line-signature": line_signature("line-fuzz-secret", body)})
        assert status < 500

    @FUZZ
    @given(payload=JSON)
    def test_kakao(self, ingress: int, payload: Any) -> None:
        status, _ = post(ingress, "/webhooks/kakao", json.dumps(payload).encode(), {
            "Content-Type": "application/json", "X-Omniroute-Kakao-Secret": "kakao-fuzz-secret"})
        assert status < 500

    @FUZZ
    @given(pairs=st.lists(st.tuples(
        st.sampled_from(["MessageSid", "SmsSid", "From", "To", "Body", "NumMedia", "MediaUrl0",
                         "MediaContentType0", "MessageStatus", "SmsStatus", "ErrorCode",
                         "Latitude", "Longitude", "ButtonPayload", "OriginalRepliedMessageSid"])
        | st.text(max_size=10), st.text(max_size=30)), max_size=12))
    def test_twilio(self, ingress: int, pairs: list[tuple[str, str]]) -> None:
        signature = twilio_signature("tw-token-fuzz", f"http://127.0.0.1:{ingress}/webhooks/twilio",
                                     pairs)
        status, _ = post(ingress, "/webhooks/twilio", urlencode(pairs).encode(), {
            "Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature})
        assert status < 500

    @FUZZ
    @given(mime=st.binary(max_size=2000) | st.text(max_size=2000).map(str.encode),
           headers=st.lists(st.tuples(st.text(max_size=12), st.text(max_size=40)), max_size=4),
           extra=st.dictionaries(st.sampled_from(["recipient", "sender", "message-headers",
                                                  "body-plain", "body-html", "X-Mailgun-Spf"]),
                                 st.binary(max_size=200), max_size=4),
           raw_mime=st.booleans())
    def test_mailgun(self, ingress: int, mime: bytes, headers: list[tuple[str, str]],
                     extra: dict[str, bytes], raw_mime: bool) -> None:
        token = uuid.uuid4().hex * 2
        stamp = str(int(time.time()))
        fields = {"timestamp": stamp.encode(), "token": token.encode(),
                  "signature": mailgun_signature(KEY, stamp, token).encode(), **extra}
        if raw_mime:
            fields["body-mime"] = b"".join(f"{k}: {v}\r\n".encode() for k, v in headers) + mime
        ctype, body = multipart(fields)
        status, _ = post(ingress, "/webhooks/mailgun", body, {"Content-Type": ctype})
        assert status < 500

    @FUZZ
    @given(fields=st.dictionaries(st.sampled_from(["email", "headers", "text", "envelope",
                                                   "SPF", "dkim", "from", "to"]),
                                  st.binary(max_size=800), max_size=6))
    def test_sendgrid(self, ingress: int, fields: dict[str, bytes]) -> None:
        ctype, body = multipart(fields)
        status, _ = post(ingress, "/webhooks/sendgrid/sendgrid-fuzz-secret", body,
                         {"Content-Type": ctype})
        assert status < 500


def multipart(fields: dict[str, bytes]) -> tuple[str, bytes]:
    boundary = uuid.uuid4().hex
    body = b"".join(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                    .encode() + value + b"\r\n" for name, value in fields.items())
    return f"multipart/form-data; boundary={boundary}", body + f"--{boundary}--\r\n".encode()


ROUTES = ["/webhooks/twilio", "/webhooks/whatsapp", "/webhooks/messenger", "/webhooks/instagram",
          "/webhooks/telegram", "/webhooks/line", "/webhooks/line/x", "/webhooks/kakao",
          "/webhooks/mailgun", "/webhooks/mailgun/mime", "/webhooks/sendgrid/x", "/nope"]
HEADER_VALUES = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=255,
                                               blacklist_characters="\x7f"), max_size=60)


class TestAnyRequest:
    """Anything at all, unsigned or oddly signed, on any route: answered below 500."""

    @FUZZ
    @given(route=st.sampled_from(ROUTES), body=st.binary(max_size=3000),
           ctype=st.sampled_from(["application/json", "application/x-www-form-urlencoded",
                                  "multipart/form-data; boundary=b", "text/plain", ""]),
           signature=HEADER_VALUES)
    def test_anything(self, ingress: int, route: str, body: bytes, ctype: str,
                      signature: str) -> None:
        headers = {"Content-Type": ctype, "X-Hub-Signature-256": signature,
                   "X-Twilio-Signature": signature, "x-line-signature": signature,
                   "X-Telegram-Bot-Api-Secret-Token": signature,
                   "X-Omniroute-Kakao-Secret": signature}
        encoded = {k: v.encode("latin-1").decode("latin-1") for k, v in headers.items()}
        status, _ = post(ingress, route, body, encoded)
        assert status < 500


def get(port: int, path: str) -> int:
    """GET and return the status; an answer that does not come fails the test."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=ANSWER_SECONDS)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


class TestVerificationRequests:
    """Meta's GET subscription checks with any query string: answered below 500."""

    @FUZZ
    @given(route=st.sampled_from(["/webhooks/whatsapp", "/webhooks/messenger",
                                  "/webhooks/instagram"]),
           params=st.lists(st.tuples(
               st.sampled_from(["hub.mode", "hub.verify_token", "hub.challenge"])
               | st.text(max_size=10), st.text(max_size=80)), max_size=5),
           right_token=st.booleans())
    def test_any_query(self, ingress: int, route: str, params: list[tuple[str, str]],
                       right_token: bool) -> None:
        if right_token:
            params = [*params, ("hub.verify_token", VERIFY_TOKEN), ("hub.mode", "subscribe")]
        status = get(ingress, f"{route}?{urlencode(params)}")
        assert status < 500
