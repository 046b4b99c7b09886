"""OutboundMessage → Messenger / Instagram Send API ``POST /{version}/me/messages`` (pure).

``{"recipient": {"id": PSID}, "messaging_type": "RESPONSE", "message": {"text"}}``;
attachments as ``{"attachment": {"type", "payload": {"url", "is_reusable": true}}}``,
one request each. ``choices`` become ``quick_replies`` (text, at most 13, titles of at most
20 characters) on the last message; a tap comes back as ``message.quick_reply.payload``.
Outside the 24-hour window a ``message_tag`` is required
(``messaging_type: MESSAGE_TAG``, ``tag``; ``HUMAN_AGENT`` extends it to 7 days);
without one the message fails clearly. The answer is ``{"recipient_id", "message_id"}``.
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

ATTACHMENT_TYPES = {AttachmentKind.IMAGE: "image", AttachmentKind.VIDEO: "video",
                    AttachmentKind.AUDIO: "audio", AttachmentKind.FILE: "file",
                    AttachmentKind.STICKER: "image"}
MAX_QUICK_REPLIES = 13
MAX_QUICK_REPLY_TITLE = 20


class MessengerSender(OutboundSender):
    """Sends through the Messenger Send API."""

    provider = "messenger"
    channel = Channel.MESSENGER
    max_text_chars = 2000

    @property
    def base_url(self) -> str:
        """OMNIROUTE_META_GRAPH_BASE_URL."""
        return self.settings.meta_graph_base_url

    def handles(self, message: OutboundMessage) -> bool:
        """Messages on this sender's channel."""
        return message.channel is self.channel

    def enabled(self) -> bool:
        """Needs OMNIROUTE_META_ACCESS_TOKEN or [[meta]] accounts in the config file."""
        return configured(self.settings)

    def _envelope(self, message: OutboundMessage, context: SendContext) -> dict[str, Any]:
        if context.in_window():
            return {"messaging_type": "RESPONSE"}
        if message.message_tag:
            return {"messaging_type": "MESSAGE_TAG", "tag": message.message_tag}
        raise SendRejected("the customer has not written in 24 hours: a message_tag "
                           "(e.g. HUMAN_AGENT) is required", code="outside_window")

    def build(self, message: OutboundMessage, context: SendContext) -> Sequence[ProviderRequest]:
        """The text, then one request per attachment, all with the same messaging type."""
        envelope = self._envelope(message, context)
        text = message.text or ""
        if len(text) > self.max_text_chars:
            raise SendRejected(f"text is {len(text)} characters; {self.provider} allows "
                               f"{self.max_text_chars}", code="too_long")
        bodies: list[dict[str, Any]] = [{"text": text}] if text else []
        for attachment in message.attachments:
            if not attachment.url:
                raise SendRejected("attachments are sent by public URL; one has none",
                                   code="media_without_url")
            bodies.append({"attachment": {"type": ATTACHMENT_TYPES[attachment.kind],
                                          "payload": {"url": attachment.url,
                                                      "is_reusable": True}}})
        if not bodies:
            raise SendRejected(f"{self.provider} has no templates; send text or media",
                               code="unsupported_content")
        if message.choices:  # quick replies under the last message; a tap is a quick_reply
            bodies[-1]["quick_replies"] = [
                {"content_type": "text", "title": c.title[:MAX_QUICK_REPLY_TITLE],
                 "payload": c.payload} for c in message.choices[:MAX_QUICK_REPLIES]]
        path = f"/{self.settings.meta_graph_version}/me/messages"
        auth = bearer(access_token(self.settings, message.channel_account))
        return [ProviderRequest.json(path, {"recipient": {"id": message.recipient.value},
                                            **envelope, "message": body}, auth)
                for body in bodies]

    def interpret(self, request: ProviderRequest, response: ProviderResponse) -> SendResult:
        """``message_id`` on 2xx; a Graph error otherwise."""
        body = response.json()
        if 200 <= response.status < 300 and isinstance(body, dict) and body.get("message_id"):
            return SendResult(str(body["message_id"]))
        raise graph_error(response)


class InstagramSender(MessengerSender):
    """Sends through the Instagram Messaging Send API (same shape, 1000-character texts)."""

    provider = "instagram"
    channel = Channel.INSTAGRAM
    max_text_chars = 1000
