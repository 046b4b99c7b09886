"""LINE Messaging API: the connector plugin (``/webhooks/line``)."""

from __future__ import annotations

from omniroute_connectors.base import (
    BadRequest,
    Connector,
    Forbidden,
    Ingest,
    Unauthorized,
    WebhookRequest,
)
from omniroute_connectors.line.inbound import map_payload
from omniroute_connectors.outbound import OutboundSender
from omniroute_connectors.signatures import line_valid


class LineConnector(Connector):
    """LINE webhooks in, the push message API out."""

    name = "line"

    def enabled(self) -> bool:
        """Needs OMNIROUTE_LINE_CHANNEL_SECRET."""
        return self.settings.line_channel_secret is not None

    def verify(self, request: WebhookRequest) -> None:
        """x-line-signature = base64 HMAC-SHA256(channel secret, raw body)."""
        signature = request.header("x-line-signature")
        if not signature:
            raise Unauthorized("x-line-signature header is missing")
        secret = self.settings.line_channel_secret
        assert secret is not None
        if not line_valid(secret.get_secret_value(), request.body, signature):
            raise Forbidden("x-line-signature does not match the body")

    def handle(self, request: WebhookRequest) -> Ingest:
        """Every message event of the POST (an empty ``events`` is LINE's URL check)."""
        payload = request.json()
        if not isinstance(payload, dict):
            raise BadRequest("body must be a JSON object")
        return Ingest(map_payload(payload))

    def sender(self) -> OutboundSender | None:
        """The push API sender."""
        from omniroute_connectors.line.outbound import LineSender

        return LineSender(self.settings)
