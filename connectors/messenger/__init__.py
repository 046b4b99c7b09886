"""Facebook Messenger: the connector plugin (``/webhooks/messenger``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from omniroute.contract import Channel, InboundMessage
from omniroute_connectors.base import Event, ProfileLookup, text_field
from omniroute_connectors.meta import MetaConnector
from omniroute_connectors.meta.graph import profile_lookup
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

    def profile_lookup(self, message: InboundMessage) -> ProfileLookup | None:
        """Messenger's User Profile API: the PSID's ``first_name`` and ``last_name``."""
        return profile_lookup(self.settings, message, "first_name,last_name", full_name)


def full_name(body: Any) -> str | None:
    """``first_name last_name`` of a Messenger profile, either alone when the other is absent."""
    parts = [text_field(body, key) for key in ("first_name", "last_name")]
    return " ".join(part for part in parts if part) or None
