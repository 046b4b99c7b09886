"""OutboundMessage → Telegram Bot API ``POST /bot<token>/sendMessage`` etc. (pure).

Text: ``{"chat_id", "text", "reply_parameters": {"message_id"}}`` (4096 characters);
media: ``sendPhoto`` / ``sendVideo`` / ``sendAudio`` / ``sendDocument`` / ``sendSticker``
with a URL or file id and a ``caption`` (1024). Answers ``{"ok": true, "result":
{"message_id"}}`` or ``{"ok": false, "error_code", "description", "parameters":
{"retry_after"}}``.
"""

from __future__ import annotations

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
    failure_text,
    retry_after,
)

MAX_TEXT_CHARS = 4096
MAX_CAPTION_CHARS = 1024
METHODS = {AttachmentKind.IMAGE: ("sendPhoto", "photo"),
           AttachmentKind.VIDEO: ("sendVideo", "video"),
           AttachmentKind.AUDIO: ("sendAudio", "audio"),
           AttachmentKind.FILE: ("sendDocument", "document"),
           AttachmentKind.STICKER: ("sendSticker", "sticker")}


class TelegramSender(OutboundSender):
    """Sends through the Telegram Bot API."""

    provider = "telegram"

    @property
    def base_url(self) -> str:
        """OMNIROUTE_TELEGRAM_API_BASE_URL."""
        return self.settings.telegram_api_base_url

    def handles(self, message: OutboundMessage) -> bool:
        """Telegram messages."""
        return message.channel is Channel.TELEGRAM

    def enabled(self) -> bool:
        """Needs OMNIROUTE_TELEGRAM_BOT_TOKEN."""
        return self.settings.telegram_bot_token is not None

    def rate_limit_per_second(self) -> float:
        """Telegram's documented bulk limit: about 30 messages per second per bot."""
        return 30.0

    def build(self, message: OutboundMessage, context: SendContext) -> Sequence[ProviderRequest]:
        """sendMessage for the text, one send<Media> per attachment."""
        token = self.settings.telegram_bot_token
        prefix = f"/bot{token.get_secret_value() if token else ''}"
        text = message.text or ""
        if len(text) > MAX_TEXT_CHARS:
            raise SendRejected(f"text is {len(text)} characters; Telegram allows "
                               f"{MAX_TEXT_CHARS}", code="too_long")
        chat = message.recipient.value
        base: dict[str, Any] = {"chat_id": chat}
        reply = message.reply_to_provider_message_id
        if reply and reply.startswith(f"{chat}:"):
            base["reply_parameters"] = {"message_id": int(reply.split(":")[-1])}
        requests = []
        if text:
            payload = {**base, "text": text}
            if message.choices:  # one inline button per row; a tap is a callback_query
                payload["reply_markup"] = {"inline_keyboard": [
                    [{"text": c.title, "callback_data": c.payload[:64]}] for c in message.choices]}
            requests.append(ProviderRequest.json(f"{prefix}/sendMessage", payload))
        for attachment in message.attachments:
            method, field = METHODS[attachment.kind]
            ref = attachment.url or attachment.media_id
            if not ref:
                raise SendRejected("a Telegram attachment needs a URL or a file id",
                                   code="media_without_url")
            payload = {**base, field: ref}
            if attachment.caption and attachment.kind is not AttachmentKind.STICKER:
                payload["caption"] = attachment.caption[:MAX_CAPTION_CHARS]
            requests.append(ProviderRequest.json(f"{prefix}/{method}", payload))
        if not requests:
            raise SendRejected("Telegram has no templates; send text or media",
                               code="unsupported_content")
        return requests

    def interpret(self, request: ProviderRequest, response: ProviderResponse) -> SendResult:
        """``result.message_id`` when ``ok``; retry_after honoured on 429."""
        body = response.json()
        if isinstance(body, dict) and body.get("ok") and 200 <= response.status < 300:
            chat = (body.get("result") or {}).get("chat", {}).get("id")
            message_id = (body.get("result") or {}).get("message_id")
            return SendResult(f"{chat}:{message_id}" if chat is not None else str(message_id))
        body = body if isinstance(body, dict) else {}
        wait = (body.get("parameters") or {}).get("retry_after")
        raise classify_http(response.status, str(body.get("error_code", response.status)),
                            str(body.get("description") or failure_text(response, "Telegram")),
                            float(wait) if wait is not None else retry_after(response.headers))
