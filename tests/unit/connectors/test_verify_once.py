"""A webhook's signature is checked once per request, though verify and handle both need it."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from urllib.parse import urlencode

import pytest
from pydantic import SecretStr

from omniroute.settings import Settings
from omniroute_connectors import signatures
from omniroute_connectors.base import WebhookRequest
from omniroute_connectors.line import LineConnector
from omniroute_connectors.messenger import MessengerConnector
from omniroute_connectors.twilio import TwilioConnector

URL = "https://hooks.example.com:8443/webhooks/twilio"
PAIRS = [("MessageSid", "SM1"), ("From", "+14155550100"), ("To", "+14155550199"),
         ("Body", "hello"), ("NumMedia", "0")]


def counting(monkeypatch: pytest.MonkeyPatch, module: object, name: str) -> list[int]:
    """Count the calls of ``module.name`` (patched where the connector looks it up)."""
    calls: list[int] = []
    original = getattr(module, name)

    def counted(*args: object, **kwargs: object) -> object:
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, counted)
    return calls


def test_twilio_signs_once_per_request_and_tries_the_url_as_called_first(
        monkeypatch: pytest.MonkeyPatch) -> None:
    connector = TwilioConnector(Settings(twilio_auth_token=SecretStr("token-abc")))
    hmacs = counting(monkeypatch, signatures, "twilio_signature")
    request = WebhookRequest("POST", "/webhooks/twilio", URL, {
        "content-type": "application/x-www-form-urlencoded",
        "x-twilio-signature": signatures.twilio_signature("token-abc", URL, PAIRS)},
        body=urlencode(PAIRS).encode())
    hmacs.clear()
    connector.verify(request)
    ingest = connector.handle(request)
    assert [e.provider_message_id for e in ingest.events] == ["SM1"]  # type: ignore[union-attr]
    assert len(hmacs) == 1  # before: 4 (verify and handle, each over two URL variants)


def test_twilio_still_accepts_a_signature_over_the_url_without_its_port() -> None:
    connector = TwilioConnector(Settings(twilio_auth_token=SecretStr("token-abc")))
    bare = "https://hooks.example.com/webhooks/twilio"
    connector.verify(WebhookRequest("POST", "/webhooks/twilio", URL, {
        "content-type": "application/x-www-form-urlencoded",
        "x-twilio-signature": signatures.twilio_signature("token-abc", bare, PAIRS)},
        body=urlencode(PAIRS).encode()))


def test_line_and_meta_check_their_signature_once(monkeypatch: pytest.MonkeyPatch) -> None:
    import omniroute_connectors.line as line
    import omniroute_connectors.meta as meta

    body = json.dumps({"destination": "U1", "events": []}).encode()
    secret = "line-secret-1"
    line_checks = counting(monkeypatch, line, "line_valid")
    connector = LineConnector(Settings(line_channel_secret=SecretStr(secret)))
    signature = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest())
    request = WebhookRequest("POST", "/webhooks/line", "u", {
        "content-type": "application/json", "x-line-signature": signature.decode()}, body=body)
    connector.verify(request)
    connector.handle(request)
    assert len(line_checks) == 1

    body = json.dumps({"object": "page", "entry": []}).encode()
    meta_checks = counting(monkeypatch, meta, "meta_valid")
    messenger = MessengerConnector(Settings(meta_app_secret=SecretStr("app-secret-1")))
    request = WebhookRequest("POST", "/webhooks/messenger", "u", {
        "content-type": "application/json",
        "x-hub-signature-256": signatures.meta_signature("app-secret-1", body)}, body=body)
    messenger.verify(request)
    messenger.handle(request)
    assert len(meta_checks) == 1
