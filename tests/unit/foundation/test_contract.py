"""The public contract's models: what they accept, what they refuse, how they travel."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from omniroute.contract import (
    Address,
    AgentEvent,
    AgentEventKind,
    Attachment,
    Channel,
    ConversationEvent,
    DeadLetter,
    DeliveryState,
    InboundMessage,
    OutboundMessage,
)


def inbound(**overrides: object) -> InboundMessage:
    fields: dict[str, object] = {
        "event_id": "twilio:SM123",
        "channel": "sms",
        "provider": "twilio",
        "channel_account": "+15550000001",
        "sender": {"value": "+15550000002"},
        "recipient": {"value": "+15550000001"},
        "provider_message_id": "SM123",
        "text": "hello",
    }
    fields.update(overrides)
    return InboundMessage.model_validate(fields)


class TestInboundMessage:
    def test_round_trips_through_kafka_bytes(self) -> None:
        """A message serialized for Kafka parses back equal."""
        message = inbound(attachments=[{"kind": "image", "url": "https://x/y.png"}])
        assert InboundMessage.from_json_bytes(message.to_json_bytes()) == message

    def test_key_is_channel_and_sender(self) -> None:
        """The partitioning key keeps one sender's messages in order."""
        assert inbound().kafka_key == "sms:+15550000002"

    def test_refuses_a_message_without_content(self) -> None:
        """A message with nothing to show is a contract violation, named as such."""
        with pytest.raises(ValidationError, match="needs text, attachments"):
            inbound(text=None)

    def test_refuses_naive_timestamps_and_normalizes_to_utc(self) -> None:
        """occurred_at must carry a zone; any zone is normalized to UTC."""
        with pytest.raises(ValidationError, match="timezone"):
            inbound(occurred_at=datetime(2026, 1, 1, 12, 0))
        seoul = timezone(timedelta(hours=9))
        message = inbound(occurred_at=datetime(2026, 1, 1, 21, 0, tzinfo=seoul))
        assert message.occurred_at == datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
        assert message.occurred_at.utcoffset() == timedelta(0)

    def test_refuses_unknown_fields_and_channels(self) -> None:
        """Producers that drift from the contract fail at the edge."""
        with pytest.raises(ValidationError, match="Extra inputs"):
            inbound(surprise=1)
        with pytest.raises(ValidationError, match="channel"):
            inbound(channel="pager")

    def test_refuses_bad_event_ids_and_workspaces(self) -> None:
        """Ids and tenants are restricted to safe characters."""
        with pytest.raises(ValidationError, match="event_id"):
            inbound(event_id="has spaces")
        with pytest.raises(ValidationError, match="workspace"):
            inbound(workspace="Upper Case")

    def test_attachment_needs_a_reference(self) -> None:
        """An attachment without url, media id or content id cannot be fetched."""
        with pytest.raises(ValidationError, match="needs a url"):
            Attachment(kind="file")


class TestOtherPayloads:
    def test_agent_event_requires_fields_of_its_kind(self) -> None:
        """An accept without the offer it accepts is refused, naming what is missing."""
        with pytest.raises(ValidationError, match="accept event needs offer_id, conversation_id"):
            AgentEvent(event_id="a1", agent_id="ann", kind=AgentEventKind.ACCEPT)
        with pytest.raises(ValidationError, match="target_agent_id or target_pool"):
            AgentEvent(event_id="a2", agent_id="ann", kind="transfer", conversation_id="c1")
        assert (
            AgentEvent(event_id="a3", agent_id="ann", kind="heartbeat").kind
            is AgentEventKind.HEARTBEAT
        )

    def test_conversation_event_requires_fields_of_its_kind(self) -> None:
        """A merge must say what it merged into."""
        with pytest.raises(ValidationError, match="merged event needs merged_into"):
            ConversationEvent(event_id="e", conversation_id="c", customer_id="u", kind="merged")

    def test_outbound_needs_content(self) -> None:
        """An empty reply is refused before it reaches a provider."""
        with pytest.raises(ValidationError, match="needs text, attachments or a template"):
            OutboundMessage(
                event_id="o1",
                conversation_id="c1",
                channel=Channel.SMS,
                channel_account="+1555",
                recipient=Address(value="+1556"),
                author={"kind": "agent", "id": "ann"},
            )

    def test_delivery_states_rank_read_above_delivered(self) -> None:
        """A late 'delivered' can be recognized as older than 'read'."""
        ranks = [state.rank for state in DeliveryState]
        assert ranks == sorted(ranks)
        assert DeliveryState.READ.rank > DeliveryState.DELIVERED.rank

    def test_dead_letter_keeps_the_original_bytes_and_a_stable_id(self) -> None:
        """The same refused record gives the same dead letter, with its exact bytes."""
        first = DeadLetter.for_record(
            processor="identity",
            topic="omniroute.inbound.v1",
            partition=2,
            offset=41,
            key=b"k",
            value=b"\xff\xfe not json",
            error=ValueError("bad json"),
        )
        again = DeadLetter.for_record(
            processor="identity",
            topic="omniroute.inbound.v1",
            partition=2,
            offset=41,
            key=b"k",
            value=b"\xff\xfe not json",
            error=ValueError("bad json"),
        )
        assert first.event_id == again.event_id
        assert first.original_b64 == "//4gbm90IGpzb24="
        assert (first.error_type, first.error) == ("ValueError", "bad json")
