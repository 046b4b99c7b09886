"""Contract events for history and gateway tests: a customer, a conversation, an agent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from omniroute.contract import (
    Address,
    AssignmentEvent,
    AssignmentKind,
    Channel,
    ConversationEvent,
    ConversationEventKind,
    Direction,
    InboundMessage,
    MessageRef,
)

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def inbound(n: int, *, text: str, sender: str = "+14155550100", channel: Channel = Channel.SMS,
            at: datetime = T0) -> InboundMessage:
    """A customer's message number ``n``."""
    return InboundMessage(
        event_id=f"twilio:SM{n:030d}", occurred_at=at + timedelta(minutes=n), channel=channel,
        provider="twilio", channel_account="+14155559999",
        sender=Address(value=sender, name="Ada Lovelace"),
        recipient=Address(value="+14155559999"), provider_message_id=f"SM{n:030d}", text=text,
    )


def added(message: InboundMessage, *, conversation: str, customer: str) -> ConversationEvent:
    """The conversations processor tying ``message`` to a conversation."""
    return ConversationEvent(
        event_id=f"added-{message.event_id}", occurred_at=message.occurred_at + timedelta(seconds=1),
        conversation_id=conversation, customer_id=customer, kind=ConversationEventKind.MESSAGE_ADDED,
        channel=message.channel,
        message=MessageRef(source_event_id=message.event_id, direction=Direction.INBOUND,
                           channel=message.channel, text=message.text,
                           provider_message_id=message.provider_message_id),
    )


def opened(conversation: str, customer: str, at: datetime = T0) -> ConversationEvent:
    """A conversation opening."""
    return ConversationEvent(event_id=f"open-{conversation}", occurred_at=at,
                             conversation_id=conversation, customer_id=customer,
                             kind=ConversationEventKind.OPENED, channel=Channel.SMS)


def assignment(agent: str, conversation: str, kind: AssignmentKind = AssignmentKind.ASSIGNED,
               *, n: int = 0, at: datetime = T0, offer: str | None = None,
               expires: datetime | None = None) -> AssignmentEvent:
    """The router's decision for ``agent``."""
    return AssignmentEvent(
        event_id=f"asg-{agent}-{conversation}-{kind.value}-{n}",
        occurred_at=at + timedelta(minutes=5, seconds=n), agent_id=agent, kind=kind,
        conversation_id=conversation, offer_id=offer or f"offer-{conversation}-{agent}",
        channel=Channel.SMS, expires_at=expires,
    )
