"""Facebook Messenger: the connector plugin (``/webhooks/messenger``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from omniroute.contract import Channel
from omniroute_connectors.base import Event
from omniroute_connectors.meta import MetaConnector
from omniroute_connectors.meta.messaging import MessagingMapper
from omniroute_connectors.outbound import OutboundSender

MAPPER = MessagingMapper(Channel.MESSENGER, "messenger")


class MessengerConnector(MetaConnector):
    """Messenger Platform webhooks in, the Send API out."""

    name = "messenger"
    expected_object = "page"

    def map(self, payload: dict[str, Any]) -> Sequence[Event]:
        """Messages, postbacks, reactions, deliveries and reads of every entry."""
        return MAPPER.map_payload(payload)

    def sender(self) -> OutboundSender | None:
        """The Send API sender."""
        from omniroute_connectors.meta.outbound import MessengerSender

        return MessengerSender(self.settings)
