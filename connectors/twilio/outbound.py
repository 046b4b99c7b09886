"""OutboundMessage → Twilio Messages API (pure).

``POST /2010-04-01/Accounts/{AccountSid}/Messages.json``, form-encoded ``To``,
``From``, ``Body``, repeated ``MediaUrl`` (at most 10), HTTP basic auth with the
account SID and auth token. WhatsApp via Twilio outside the 24-hour window needs
a template: ``ContentSid`` (the template name) and ``ContentVariables``.
Twilio answers 201 ``{"sid": "SM...", "status": "queued"}``, errors as
``{"code": 21211, "message": "...", "status": 400}``.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence

from omniroute.contract import Channel, OutboundMessage
from omniroute_connectors.accounts import book, credential
from omniroute_connectors.outbound import (
    OutboundSender,
    ProviderRequest,
    ProviderResponse,
    SendContext,
    SendFailed,
    SendRejected,
    SendResult,
    classify_http,
    failure_text,
    retry_after,
)

MAX_BODY_CHARS = 1600
MAX_MEDIA = 10
# Twilio error codes that a later attempt will not fix even though they come with 5xx
PERMANENT_CODES = frozenset({21211, 21408, 21610, 21614, 63016})


class TwilioSender(OutboundSender):
    """Sends SMS, MMS and WhatsApp messages through Twilio."""

    provider = "twilio"

    @property
    def base_url(self) -> str:
        """OMNIROUTE_TWILIO_API_BASE_URL."""
        return self.settings.twilio_api_base_url

    def handles(self, message: OutboundMessage) -> bool:
        """SMS always; WhatsApp when the business address is a Twilio ``whatsapp:+`` number."""
        if message.channel is Channel.SMS:
            return True
        return message.channel is Channel.WHATSAPP and message.channel_account.startswith(
            "whatsapp:")

    def enabled(self) -> bool:
        """Needs OMNIROUTE_TWILIO_ACCOUNT_SID and _AUTH_TOKEN, or [[twilio]] accounts."""
        return bool(self.settings.twilio_account_sid and self.settings.twilio_auth_token) or (
            bool(book(self.settings).of("twilio")))

    def _account(self, sender_number: str) -> tuple[str, str]:
        """(AccountSid, auth token) of the account that owns ``sender_number``."""
        sid = credential(self.settings, "twilio", "account_sid", sender_number,
                         self.settings.twilio_account_sid)
        token = credential(self.settings, "twilio", "auth_token", sender_number,
                           self.settings.twilio_auth_token)
        if not sid or not token:
            raise SendRejected(f"no Twilio account is configured for {sender_number}",
                               code="provider_not_configured")
        return sid, token

    def build(self, message: OutboundMessage, context: SendContext) -> Sequence[ProviderRequest]:
        """One Messages API call carrying text and media (or a WhatsApp template)."""
        text = message.text or ""
        if len(text) > MAX_BODY_CHARS:
            raise SendRejected(f"text is {len(text)} characters; Twilio allows {MAX_BODY_CHARS}",
                               code="too_long")
        media = [a.url for a in message.attachments if a.url]
        if len(media) != len(message.attachments):
            raise SendRejected("Twilio sends media by public URL; an attachment has none",
                               code="media_without_url")
        if len(media) > MAX_MEDIA:
            raise SendRejected(f"{len(media)} media; Twilio allows {MAX_MEDIA} per message",
                               code="too_many_media")
        pairs = [("To", message.recipient.value), ("From", message.channel_account)]
        whatsapp = message.channel is Channel.WHATSAPP
        if whatsapp and not context.in_window() and message.template is None:
            raise SendRejected("outside WhatsApp's 24-hour window a template is required",
                               code="outside_window")
        if message.template is not None and whatsapp:
            variables = {str(i + 1): p for i, p in enumerate(message.template.parameters)}
            pairs += [("ContentSid", message.template.name),
                      ("ContentVariables", json.dumps(variables))]
        else:
            if text:
                pairs.append(("Body", text))
            pairs += [("MediaUrl", url) for url in media]
        sid, token = self._account(message.channel_account)
        auth = {"Authorization": "Basic " + base64.b64encode(f"{sid}:{token}".encode()).decode()}
        return [ProviderRequest.form(f"/2010-04-01/Accounts/{sid}/Messages.json", pairs, auth)]

    def interpret(self, request: ProviderRequest, response: ProviderResponse) -> SendResult:
        """201/200 with a ``sid`` → sent; a Twilio error body → retriable or permanent."""
        body = response.json() or {}
        if 200 <= response.status < 300 and isinstance(body, dict) and body.get("sid"):
            return SendResult(str(body["sid"]))
        code = str(body.get("code", response.status)) if isinstance(body, dict) else "http"
        message = (body.get("message") if isinstance(body, dict) else None) or (
            failure_text(response, "Twilio"))
        if code.isdigit() and int(code) in PERMANENT_CODES:
            raise SendFailed(message, code=code, retriable=False)
        raise classify_http(response.status, code, message, retry_after(response.headers))
