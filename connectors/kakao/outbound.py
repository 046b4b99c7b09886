"""OutboundMessage → the Kakao skill callback URL (pure).

A skill server cannot push to a KakaoTalk user: it answers through the
``callbackUrl`` of the user's latest request, once, within one minute. The
delivery process remembers that URL from the inbound stream (``SendContext.reply_hint``);
without a fresh one the message fails with ``no_callback``. The callback body is
a SkillResponse (``simpleText`` up to 1000 characters, ``simpleImage`` by URL).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from omniroute.contract import AttachmentKind, Channel, OutboundMessage
from omniroute_connectors.outbound import (
    OutboundSender,
    ProviderRequest,
    ProviderResponse,
    SendContext,
    SendRejected,
    SendResult,
    classify_http,
    failure_text,
)

CALLBACK_VALIDITY = timedelta(minutes=1)
MAX_TEXT_CHARS = 1000
MAX_OUTPUTS = 3


def callback_allowed(url: str, hosts: str) -> bool:
    """True when ``url`` is https on one of ``hosts`` (or a subdomain), or exactly one of the
    full origins listed (``http://127.0.0.1:8000``, for a local fake)."""
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        origin = f"{parts.scheme}://{parts.netloc}".lower()
    except ValueError:
        return False
    for allowed in (h.strip().lower().rstrip("/") for h in hosts.split(",") if h.strip()):
        if "://" in allowed:
            if origin == allowed:
                return True
        elif parts.scheme == "https" and host and (host == allowed
                                                   or host.endswith("." + allowed)):
            return True
    return False


class KakaoSender(OutboundSender):
    """Answers KakaoTalk users through their latest callback URL."""

    provider = "kakao"

    @property
    def base_url(self) -> str:
        """Callback URLs are absolute; there is no fixed base."""
        return ""

    def handles(self, message: OutboundMessage) -> bool:
        """KakaoTalk messages."""
        return message.channel is Channel.KAKAO

    def build(self, message: OutboundMessage, context: SendContext) -> Sequence[ProviderRequest]:
        """One callback POST with up to three outputs."""
        url = context.reply_hint.get("callback_url")
        received = context.reply_hint.get("received_at")
        if not url or not received or context.now - datetime.fromisoformat(received) \
                > CALLBACK_VALIDITY:
            raise SendRejected("KakaoTalk can only answer through a callback URL less than a "
                               "minute old, and there is none", code="no_callback")
        if not callback_allowed(url, self.settings.kakao_callback_hosts):
            raise SendRejected("the callback URL is not an https URL of an allowed Kakao host "
                               "(OMNIROUTE_KAKAO_CALLBACK_HOSTS)", code="bad_callback_url")
        text = message.text or ""
        if len(text) > MAX_TEXT_CHARS:
            raise SendRejected(f"text is {len(text)} characters; Kakao allows {MAX_TEXT_CHARS}",
                               code="too_long")
        outputs: list[dict[str, Any]] = [{"simpleText": {"text": text}}] if text else []
        for attachment in message.attachments:
            if attachment.kind is not AttachmentKind.IMAGE or not attachment.url:
                raise SendRejected("Kakao callbacks carry images by URL only",
                                   code="unsupported_media")
            outputs.append({"simpleImage": {"imageUrl": attachment.url,
                                            "altText": attachment.caption or "image"}})
        if not outputs or len(outputs) > MAX_OUTPUTS:
            raise SendRejected(f"a SkillResponse carries 1 to {MAX_OUTPUTS} outputs",
                               code="unsupported_content")
        body = {"version": "2.0", "template": {"outputs": outputs}}
        return [ProviderRequest.json(url, body)]

    def interpret(self, request: ProviderRequest, response: ProviderResponse) -> SendResult:
        """2xx is delivered (a callback URL is single-use: a 4xx is permanent)."""
        if 200 <= response.status < 300:
            return SendResult(None)
        raise classify_http(response.status, str(response.status),
                            failure_text(response, "the Kakao callback"))
