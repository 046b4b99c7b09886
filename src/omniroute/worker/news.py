"""What the worker reads first of an ``omniroute.conversations.v1`` record: kind and channel.

The worker consumes that topic for the few kinds the router writes (the answer bot
only for ``resolved``), while most of its records are the worker's own events
(``opened``, ``message_added``, ``triaged``, ...), two per message or more. A
:class:`Headline` builds only ``kind`` and ``channel`` (the rest of the JSON is
parsed, not built: ~2 µs against ~7 µs for the whole event); the event is decoded
whole only when its kind is wanted. A record that is not JSON or has no valid
``kind`` still fails here, and is dead-lettered as before.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from omniroute.contract import Channel, ConversationEventKind


class Headline(BaseModel):
    """The two fields of a conversation event a consumer routes on."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    kind: ConversationEventKind
    channel: Channel | None = None

    @property
    def channel_label(self) -> str | None:
        """The channel as the ``channel`` label of the worker's metrics (None: unknown)."""
        return self.channel.value if self.channel else None


def headline(value: bytes) -> Headline:
    """The headline of a conversation event's JSON (ValidationError when it has none)."""
    return Headline.model_validate_json(value)
