"""Instagram Messaging: the connector plugin (``/webhooks/instagram``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from omniroute.contract import Channel, InboundMessage
from omniroute_connectors.base import Event, ProfileLookup, text_field
from omniroute_connectors.meta import MetaConnector
from omniroute_connectors.meta.graph import profile_lookup
from omniroute_connectors.meta.messaging import MessagingMapper
from omniroute_connectors.outbound import OutboundSender

MAPPER = MessagingMapper(Channel.INSTAGRAM, "instagram")


class InstagramConnector(MetaConnector):
    """Instagram Messaging webhooks in, the Instagram Send API out."""

    name = "instagram"
    expected_object = "instagram"

    def map(self, payload: dict[str, Any]) -> Sequence[Event]:
        """Messages, postbacks, reactions and reads of every entry."""
        return MAPPER.map_payload(payload)

    def sender(self) -> OutboundSender | None:
        """The Instagram Send API sender."""
        from omniroute_connectors.meta.outbound import InstagramSender

        return InstagramSender(self.settings)

    def profile_lookup(self, message: InboundMessage) -> ProfileLookup | None:
        """Instagram's User Profile API: the IGSID's ``name``, else ``@username``."""
        return profile_lookup(self.settings, message, "name,username", display_name)


def display_name(body: Any) -> str | None:
    """An Instagram profile's name (null when the user set none), else its ``@username``."""
    username = text_field(body, "username")
    return text_field(body, "name") or (f"@{username}" if username else None)
