"""The worker routes conversation events on their headline: kind and channel, nothing else."""

from __future__ import annotations

import pydantic
import pytest

from omniroute.contract import (
    Channel,
    ConversationEvent,
    ConversationEventKind,
    Direction,
    MessageRef,
)
from omniroute.worker.news import headline


def event(kind: ConversationEventKind, channel: Channel | None) -> ConversationEvent:
    message = MessageRef(source_event_id="twilio:SM1", direction=Direction.INBOUND,
                         channel=Channel.WHATSAPP, text='{"kind":"resolved","channel":"sms"}')
    return ConversationEvent(
        event_id="e-1", conversation_id="conv-1", customer_id="cust-1", kind=kind,
        channel=channel, agent_id="ada" if kind is ConversationEventKind.ASSIGNED else None,
        message=message if kind is ConversationEventKind.MESSAGE_ADDED else None)


@pytest.mark.parametrize("kind", list(ConversationEventKind))
def test_the_headline_is_the_events_own_kind_and_channel(kind: ConversationEventKind) -> None:
    """Whatever the event nests (a message whose text looks like another event's JSON)."""
    for channel in (Channel.SMS, None):
        try:
            full = event(kind, channel)
        except pydantic.ValidationError:
            continue  # a kind the contract wants more fields for
        head = headline(full.to_json_bytes())
        assert (head.kind, head.channel) == (full.kind, full.channel)
        assert head.channel_label == (channel.value if channel else None)


def test_a_record_without_a_valid_kind_still_fails() -> None:
    """So it is dead-lettered, as when the whole event was decoded first."""
    for value in (b"not json", b'{"channel":"sms"}', b'{"kind":"exploded"}'):
        with pytest.raises(pydantic.ValidationError):
            headline(value)
