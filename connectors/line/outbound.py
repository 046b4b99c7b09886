"""OutboundMessage → LINE ``POST /v2/bot/message/push`` (pure).

``{"to": userId, "messages": [{"type": "text", "text"}, {"type": "image",
"originalContentUrl", "previewImageUrl"}]}`` (at most 5 messages, text 5000
characters), bearer channel access token and ``X-Line-Retry-Key`` (a UUID derived
from the outbound event id, so a retried push is never delivered twice; LINE
answers 409 for a key it already accepted). Answers ``{"sentMessages": [{"id"}]}``.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from omniroute.contract import AttachmentKind, Channel, OutboundMessage
from omniroute_connectors.outbound import (
    OutboundSender,
    ProviderRequest,
    ProviderResponse,
    SendContext,
    SendRejected,
    SendResult,
    classify_http,
)

MAX_TEXT_CHARS = 5000
MAX_MESSAGES = 5
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
        """Needs OMNIROUTE_LINE_CHANNEL_ACCESS_TOKEN."""
        return self.settings.line_channel_access_token is not None

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
        if not messages:
            raise SendRejected("LINE has no templates here; send text or media",
                               code="unsupported_content")
        if len(messages) > MAX_MESSAGES:
            raise SendRejected(f"{len(messages)} messages; LINE pushes at most {MAX_MESSAGES}",
                               code="too_many_media")
        token = self.settings.line_channel_access_token
        headers = {"Authorization": f"Bearer {token.get_secret_value() if token else ''}",
                   "X-Line-Retry-Key": str(uuid.uuid5(RETRY_KEY_NAMESPACE, message.event_id))}
        return [ProviderRequest.json("/v2/bot/message/push",
                                     {"to": message.recipient.value, "messages": messages},
                                     headers)]

    def interpret(self, request: ProviderRequest, response: ProviderResponse) -> SendResult:
        """``sentMessages[0].id`` on 200; 409 (retry key already accepted) is success."""
        body = response.json()
        if 200 <= response.status < 300 or response.status == 409:
            sent = (body or {}).get("sentMessages") if isinstance(body, dict) else None
            return SendResult(str(sent[0]["id"]) if sent else None)
        message = body.get("message") if isinstance(body, dict) else None
        raise classify_http(response.status, str(response.status),
                            str(message or f"LINE answered HTTP {response.status}"))
