"""OutboundMessage → LINE ``POST /v2/bot/message/reply`` or ``/v2/bot/message/push`` (pure).

``{"to": userId, "messages": [{"type": "text", "text"}, {"type": "image",
"originalContentUrl", "previewImageUrl"}]}`` (at most 5 messages, text 5000
characters), bearer channel access token and ``X-Line-Retry-Key`` (a UUID derived
from the outbound event id, so a retried push is never delivered twice; LINE
answers 409 for a key it already accepted). Answers ``{"sentMessages": [{"id"}]}``.

When the customer's latest message left a reply token younger than
:data:`REPLY_TOKEN_VALIDITY`, the free reply API is tried first (``{"replyToken",
"messages"}``; it accepts no retry key, and a token works once): any failure of the
reply falls back to the push, which is retried safely under its retry key.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from omniroute.contract import AttachmentKind, Channel, OutboundMessage
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

MAX_TEXT_CHARS = 5000
MAX_MESSAGES = 5
REPLY_TOKEN_VALIDITY = timedelta(seconds=50)
"""LINE asks for replies within about a minute of the webhook; keep a margin."""
RETRY_KEY_NAMESPACE = uuid.UUID("6f1c8f0e-4c55-4d2b-9a8e-2f6b8f3a1d70")


class LineSender(OutboundSender):
    """Sends through LINE's push message API."""

    provider = "line"

    @property
    def base_url(self) -> str:
        """OMNIROUTE_LINE_API_BASE_URL."""
        return self.settings.line_api_base_url

    def handles(self, message: OutboundMessage) -> bool:
        """LINE messages."""
        return message.channel is Channel.LINE

    def enabled(self) -> bool:
        """Needs OMNIROUTE_LINE_CHANNEL_ACCESS_TOKEN or [[line]] accounts."""
        return self.settings.line_channel_access_token is not None or bool(
            book(self.settings).of("line"))

    def build(self, message: OutboundMessage, context: SendContext) -> Sequence[ProviderRequest]:
        """One push carrying the text and up to four media messages."""
        text = message.text or ""
        if len(text) > MAX_TEXT_CHARS:
            raise SendRejected(f"text is {len(text)} characters; LINE allows {MAX_TEXT_CHARS}",
                               code="too_long")
        messages: list[dict[str, Any]] = [{"type": "text", "text": text}] if text else []
        for attachment in message.attachments:
            if not attachment.url or attachment.kind not in (AttachmentKind.IMAGE,
                                                             AttachmentKind.VIDEO):
                raise SendRejected("LINE pushes images and videos by https URL only",
                                   code="unsupported_media")
            messages.append({"type": attachment.kind.value, "originalContentUrl": attachment.url,
                             "previewImageUrl": attachment.url})
        if messages and message.choices:  # quick reply buttons; a tap is a postback
            messages[-1]["quickReply"] = {"items": [
                {"type": "action", "action": {"type": "postback", "label": c.title[:20],
                                              "data": c.payload, "displayText": c.title}}
                for c in message.choices[:13]]}
        if not messages:
            raise SendRejected("LINE has no templates here; send text or media",
                               code="unsupported_content")
        if len(messages) > MAX_MESSAGES:
            raise SendRejected(f"{len(messages)} messages; LINE pushes at most {MAX_MESSAGES}",
                               code="too_many_media")
        token = credential(self.settings, "line", "channel_access_token",
                           message.channel_account, self.settings.line_channel_access_token)
        if not token:
            raise SendRejected(f"no LINE channel is configured for {message.channel_account}",
                               code="provider_not_configured")
        auth = {"Authorization": f"Bearer {token}"}
        push = ProviderRequest.json(
            "/v2/bot/message/push", {"to": message.recipient.value, "messages": messages},
            {**auth, "X-Line-Retry-Key": str(uuid.uuid5(RETRY_KEY_NAMESPACE, message.event_id))})
        reply_token = fresh_reply_token(context)
        if reply_token is None:
            return [push]
        reply = ProviderRequest.json("/v2/bot/message/reply",
                                     {"replyToken": reply_token, "messages": messages}, auth)
        return [reply.with_fallback(push)]

    def interpret(self, request: ProviderRequest, response: ProviderResponse) -> SendResult:
        """``sentMessages[0].id`` on 200; 409 (retry key already accepted) is success.

        A failed reply is never retried (its token may already be spent): it fails
        permanently so the host falls back to the push.
        """
        body = response.json()
        if request.path.endswith("/reply") and not 200 <= response.status < 300:
            message = body.get("message") if isinstance(body, dict) else None
            raise SendFailed(str(message or failure_text(response, "LINE's reply API")),
                             code=str(response.status), retriable=False)
        if 200 <= response.status < 300 or response.status == 409:
            sent = (body or {}).get("sentMessages") if isinstance(body, dict) else None
            return SendResult(str(sent[0]["id"]) if sent else None)
        message = body.get("message") if isinstance(body, dict) else None
        raise classify_http(response.status, str(response.status),
                            str(message or failure_text(response, "LINE")),
                            retry_after(response.headers))


def fresh_reply_token(context: SendContext) -> str | None:
    """The customer's latest reply token if it is still young enough to use."""
    token = context.reply_hint.get("reply_token")
    received = context.reply_hint.get("received_at")
    if not token or not received:
        return None
    if context.now - datetime.fromisoformat(received) > REPLY_TOKEN_VALIDITY:
        return None
    return token
