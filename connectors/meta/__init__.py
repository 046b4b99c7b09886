"""What WhatsApp Cloud, Messenger and Instagram share: Meta's signature and GET handshake.

Every POST carries ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app secret, raw body)>``.
Subscribing a webhook sends ``GET ?hub.mode=subscribe&hub.verify_token=...&hub.challenge=N``;
the endpoint echoes ``hub.challenge`` when the token matches.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from omniroute.contract import InboundMessage
from omniroute_connectors.accounts import book, candidates, require_owner, verifying
from omniroute_connectors.base import (
    BadRequest,
    Connector,
    Event,
    Forbidden,
    Ingest,
    Route,
    Unauthorized,
    WebhookRequest,
    WebhookResponse,
)
from omniroute_connectors.signatures import meta_valid, raw, secret_equal


class MetaConnector(Connector):
    """Base of the Meta connectors: signature check, GET handshake, JSON POSTs."""

    expected_object: str = ""
    """The ``object`` field this webhook carries (``page``, ``instagram``, ...)."""

    def routes(self) -> Sequence[Route]:
        """GET for the subscription handshake, POST for events."""
        return (Route(methods=("GET",), content_types=()), Route())

    def enabled(self) -> bool:
        """Needs OMNIROUTE_META_APP_SECRET or a [[meta]] account in the config file."""
        return self.settings.meta_app_secret is not None or bool(book(self.settings).of("meta"))

    def verify(self, request: WebhookRequest) -> None:
        """POST: X-Hub-Signature-256; GET: hub.verify_token equals the configured token."""
        if request.method == "GET":
            token = request.query_value("hub.verify_token")
            if not token:
                raise Unauthorized("hub.verify_token is missing")
            expected = candidates(self.settings, "meta", "verify_token",
                                  self.settings.meta_verify_token)
            if not any(secret_equal(e, token) for e in expected):
                raise Forbidden("hub.verify_token does not match OMNIROUTE_META_VERIFY_TOKEN")
            return
        signature = request.header("x-hub-signature-256")
        if not signature:
            raise Unauthorized("X-Hub-Signature-256 header is missing")
        if not self._verifying(request, signature):
            raise Forbidden("X-Hub-Signature-256 does not match the body")

    def _verifying(self, request: WebhookRequest, signature: str) -> list[str | None]:
        """The accounts whose app secret signed the body (checked once per request)."""
        return request.once(f"verifying:{signature}", lambda: verifying(
            self.settings, "meta", "app_secret", self.settings.meta_app_secret,
            lambda secret: meta_valid(secret, request.body, signature)))

    def handle(self, request: WebhookRequest) -> Ingest:
        """GET → echo the challenge; POST → map the body."""
        if request.method == "GET":
            if request.query_value("hub.mode") != "subscribe":
                raise BadRequest("hub.mode must be 'subscribe'", reason="bad_handshake")
            challenge = request.query_value("hub.challenge")
            if not challenge:
                raise BadRequest("hub.challenge is missing", reason="bad_handshake")
            return Ingest((), WebhookResponse(200, raw(challenge)))
        payload = request.json()
        if not isinstance(payload, dict):
            raise BadRequest("body must be a JSON object")
        if payload.get("object") != self.expected_object:
            raise BadRequest(f"object must be {self.expected_object!r}, got "
                             f"{payload.get('object')!r}", reason="wrong_object")
        events = self.map(payload)
        require_owner(self.settings, "meta",
                      self._verifying(request, request.header("x-hub-signature-256") or ""),
                      {e.channel_account for e in events if isinstance(e, InboundMessage)})
        return Ingest(events)

    def map(self, payload: dict[str, Any]) -> Sequence[Event]:
        """The pure mapping of a verified body; subclasses implement it."""
        raise NotImplementedError
