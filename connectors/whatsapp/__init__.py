"""WhatsApp Business Cloud API: the connector plugin (``/webhooks/whatsapp``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from omniroute_connectors.base import Event
from omniroute_connectors.meta import MetaConnector
from omniroute_connectors.outbound import OutboundSender
from omniroute_connectors.whatsapp.inbound import map_payload


class WhatsAppConnector(MetaConnector):
    """WhatsApp Cloud webhooks in, the Cloud API ``/messages`` endpoint out."""

    name = "whatsapp"
    expected_object = "whatsapp_business_account"

    def map(self, payload: dict[str, Any]) -> Sequence[Event]:
        """Messages and statuses of every change."""
        return map_payload(payload)

    def sender(self) -> OutboundSender | None:
        """The Cloud API sender."""
        from omniroute_connectors.whatsapp.outbound import WhatsAppSender

        return WhatsAppSender(self.settings)
