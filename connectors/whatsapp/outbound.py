"""OutboundMessage → WhatsApp Cloud API ``POST /{version}/{phone-number-id}/messages`` (pure).

Text: ``{"messaging_product": "whatsapp", "to", "type": "text", "text": {"body"}}``;
media by link (``{"type": "image", "image": {"link", "caption"}}``, one request per
attachment); templates ``{"type": "template", "template": {"name", "language": {"code"},
"components": [{"type": "body", "parameters": [{"type": "text", "text"}]}]}}``.
Outside the 24-hour customer service window only a template may be sent.
The answer carries ``messages[0].id`` (the wamid).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from omniroute.contract import AttachmentKind, Channel, OutboundMessage
from omniroute_connectors.meta.graph import access_token, bearer, configured, graph_error
from omniroute_connectors.outbound import (
    OutboundSender,
    ProviderRequest,
    ProviderResponse,
    SendContext,
    SendRejected,
    SendResult,
)

MAX_TEXT_CHARS = 4096
MAX_CAPTION_CHARS = 1024
MEDIA_TYPES = {AttachmentKind.IMAGE: "image", AttachmentKind.VIDEO: "video",
               AttachmentKind.AUDIO: "audio", AttachmentKind.FILE: "document",
               AttachmentKind.STICKER: "sticker"}


class WhatsAppSender(OutboundSender):
    """Sends through the WhatsApp Business Cloud API."""

    provider = "whatsapp_cloud"

    @property
    def base_url(self) -> str:
        """OMNIROUTE_META_GRAPH_BASE_URL."""
        return self.settings.meta_graph_base_url

    def handles(self, message: OutboundMessage) -> bool:
        """WhatsApp messages whose business account is a Cloud API phone number id."""
        return message.channel is Channel.WHATSAPP and not message.channel_account.startswith(
            "whatsapp:")

    def enabled(self) -> bool:
        """Needs OMNIROUTE_META_ACCESS_TOKEN or [[meta]] accounts in the config file."""
        return configured(self.settings)

    def rate_limit_per_second(self) -> float:
        """Cloud API throughput default: 80 messages per second per phone number."""
        return 80.0

    def _request(self, message: OutboundMessage, body: dict[str, Any]) -> ProviderRequest:
        payload: dict[str, Any] = {"messaging_product": "whatsapp", "recipient_type": "individual",
                                   "to": message.recipient.value, **body}
        if message.reply_to_provider_message_id:
            payload["context"] = {"message_id": message.reply_to_provider_message_id}
        path = f"/{self.settings.meta_graph_version}/{message.channel_account}/messages"
        token = access_token(self.settings, message.channel_account)
        return ProviderRequest.json(path, payload, bearer(token))

    def build(self, message: OutboundMessage, context: SendContext) -> Sequence[ProviderRequest]:
        """A template outside the window; else the text, then one request per attachment."""
        if message.template is not None:
            template = message.template
            params = [{"type": "text", "text": p} for p in template.parameters]
            components = [{"type": "body", "parameters": params}] if params else []
            return [self._request(message, {"type": "template", "template": {
                "name": template.name, "language": {"code": template.language},
                "components": components}})]
        if not context.in_window():
            raise SendRejected("the customer has not written in 24 hours: WhatsApp allows only "
                               "a template message", code="outside_window")
        text = message.text or ""
        if len(text) > MAX_TEXT_CHARS:
            raise SendRejected(f"text is {len(text)} characters; WhatsApp allows "
                               f"{MAX_TEXT_CHARS}", code="too_long")
        requests = []
        if text and message.choices:
            requests.append(self._request(message, _interactive(text, message)))
        elif text:
            requests.append(self._request(message, {"type": "text",
                                                    "text": {"body": text, "preview_url": False}}))
        for attachment in message.attachments:
            if not attachment.url and not attachment.media_id:
                raise SendRejected("a WhatsApp attachment needs a link or a media id",
                                   code="media_without_url")
            kind = MEDIA_TYPES[attachment.kind]
            media: dict[str, Any] = ({"link": attachment.url} if attachment.url
                                     else {"id": attachment.media_id})
            if attachment.caption and kind != "sticker":
                media["caption"] = attachment.caption[:MAX_CAPTION_CHARS]
            if kind == "document" and attachment.filename:
                media["filename"] = attachment.filename
            requests.append(self._request(message, {"type": kind, kind: media}))
        return requests

    def interpret(self, request: ProviderRequest, response: ProviderResponse) -> SendResult:
        """``messages[0].id`` on 2xx; a Graph error otherwise."""
        body = response.json()
        if 200 <= response.status < 300 and isinstance(body, dict) and body.get("messages"):
            return SendResult(str(body["messages"][0]["id"]))
        raise graph_error(response)


def _interactive(text: str, message: OutboundMessage) -> dict[str, Any]:
    """Reply buttons (up to 3) or a list (up to 10); a tap comes back as its id."""
    if len(message.choices) <= 3:
        action: dict[str, Any] = {"buttons": [
            {"type": "reply", "reply": {"id": c.payload, "title": c.title[:20]}}
            for c in message.choices]}
        kind = "button"
    else:
        action = {"button": "Select", "sections": [{"title": "Options", "rows": [
            {"id": c.payload, "title": c.title[:24]} for c in message.choices[:10]]}]}
        kind = "list"
    return {"type": "interactive", "interactive": {
        "type": kind, "body": {"text": text[:1024]}, "action": action}}
