"""Twilio Programmable Messaging (SMS, MMS, WhatsApp via Twilio): the connector plugin.

Route ``POST /webhooks/twilio`` accepts form posts (and JSON bodies signed through
``bodySHA256``) and answers an empty TwiML ``<Response/>`` once Kafka acknowledged.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import parse_qsl

from omniroute.contract import InboundMessage
from omniroute_connectors.accounts import book, require_owner, verifying
from omniroute_connectors.base import (
    BadRequest,
    Connector,
    Forbidden,
    Ingest,
    Route,
    Unauthorized,
    WebhookRequest,
    WebhookResponse,
)
from omniroute_connectors.outbound import OutboundSender
from omniroute_connectors.signatures import twilio_valid
from omniroute_connectors.twilio.inbound import EMPTY_TWIML, map_webhook

FORM = "application/x-www-form-urlencoded"


def _pairs(request: WebhookRequest) -> list[tuple[str, str]]:
    """The form's pairs, parsed once per request (the signature and the mapping read them)."""
    return request.once("pairs", lambda: _parse_form(request.body))


def _parse_form(body: bytes) -> list[tuple[str, str]]:
    try:
        return parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError as exc:
        raise BadRequest("form body is not UTF-8", reason="malformed_body") from exc


class TwilioConnector(Connector):
    """Twilio webhooks in, Twilio Messages API out."""

    name = "twilio"

    def routes(self) -> Sequence[Route]:
        """One POST accepting form posts and JSON."""
        return (Route(content_types=(FORM, "application/json")),)

    def enabled(self) -> bool:
        """Needs OMNIROUTE_TWILIO_AUTH_TOKEN or a [[twilio]] account in the config file."""
        return self.settings.twilio_auth_token is not None or bool(
            book(self.settings).of("twilio"))

    def _verifying(self, request: WebhookRequest) -> list[str | None]:
        """The accounts whose auth token signed the request (see :mod:`..accounts`)."""
        return request.once("verifying", lambda: self._check(request))

    def _check(self, request: WebhookRequest) -> list[str | None]:
        signature = request.header("x-twilio-signature")
        if not signature:
            raise Unauthorized("X-Twilio-Signature header is missing")
        if request.content_type == "application/json":
            def valid(token: str) -> bool:
                return twilio_valid(token, request.url, signature, body=request.body)
        else:
            pairs = _pairs(request)

            def valid(token: str) -> bool:
                return twilio_valid(token, request.url, signature, pairs)
        return verifying(self.settings, "twilio", "auth_token",
                         self.settings.twilio_auth_token, valid)

    def verify(self, request: WebhookRequest) -> None:
        """X-Twilio-Signature over the public URL as called (escapes kept) and the sorted
        form pairs (or bodySHA256)."""
        if not self._verifying(request):
            raise Forbidden("X-Twilio-Signature does not match the request")

    def handle(self, request: WebhookRequest) -> Ingest:
        """Map the post and answer empty TwiML."""
        if request.content_type == "application/json":
            payload = request.json()
            if not isinstance(payload, dict):
                raise BadRequest("JSON body must be an object of Twilio parameters")
            params = {str(k): "" if v is None else str(v) for k, v in payload.items()}
        else:
            params = dict(_pairs(request))
        events = map_webhook(params)
        require_owner(self.settings, "twilio", self._verifying(request),
                      {e.channel_account for e in events if isinstance(e, InboundMessage)})
        return Ingest(events, WebhookResponse(200, EMPTY_TWIML, "text/xml"))

    def sender(self) -> OutboundSender | None:
        """The Twilio Messages API sender."""
        from omniroute_connectors.twilio.outbound import TwilioSender

        return TwilioSender(self.settings)


__all__ = ["TwilioConnector"]
