"""DeliveryService.handle: which outbound messages this process reports, and its metrics."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from prometheus_client import REGISTRY

from omniroute.contract import (
    Address,
    Author,
    AuthorKind,
    Channel,
    DeliveryState,
    DeliveryStatus,
    OutboundMessage,
)
from omniroute.delivery.service import DeliveryService
from omniroute.settings import Settings


class RecordingProducer:
    """Stands in for the Kafka producer: keeps what was sent, acknowledges at once."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes]] = []

    async def send(self, topic: str, value: bytes, key: bytes | None = None) -> Any:
        self.sent.append((topic, value))
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


def reply(channel: Channel, recipient: str) -> OutboundMessage:
    return OutboundMessage(event_id=f"out-{channel.value}", conversation_id="c1",
                           channel=channel, channel_account="acct",
                           recipient=Address(value=recipient),
                           author=Author(kind=AuthorKind.AGENT, id="a1"), text="hello")


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture
async def service() -> DeliveryService:
    svc = DeliveryService(Settings(topic_namespace="unitdelivery."), senders=[])
    svc.producer = RecordingProducer()  # type: ignore[assignment]
    return svc


@pytest.mark.parametrize(("channel", "recipient"), [(Channel.EMAIL, "ann@example.com"),
                                                    (Channel.WEBCHAT, "visitor-1")])
async def test_email_and_webchat_are_left_to_their_own_processes(
        service: DeliveryService, channel: Channel, recipient: str) -> None:
    before = sample("omniroute_messages_total", component="delivery",
                    topic="omniroute.outbound.v1", channel=channel.value, direction="in")
    await service.handle(reply(channel, recipient))
    assert service.producer.sent == []  # type: ignore[attr-defined]
    assert sample("omniroute_messages_total", component="delivery",
                  topic="omniroute.outbound.v1", channel=channel.value,
                  direction="in") == before


async def test_a_channel_without_sender_fails_with_no_provider_and_is_counted(
        service: DeliveryService) -> None:
    labels = {"component": "delivery", "channel": "sms"}
    consumed = sample("omniroute_messages_total", topic="omniroute.outbound.v1",
                      direction="in", **labels)
    published = sample("omniroute_messages_total", topic="omniroute.delivery.v1",
                       direction="out", **labels)
    timed = sample("omniroute_processing_seconds_count", stage="delivery")
    await service.handle(reply(Channel.SMS, "+15550001111"))
    [(topic, value)] = service.producer.sent  # type: ignore[attr-defined]
    assert topic == "unitdelivery.omniroute.delivery.v1"
    status = DeliveryStatus.from_json_bytes(value)
    assert (status.state, status.error_code) == (DeliveryState.FAILED, "no_provider")
    assert sample("omniroute_messages_total", topic="omniroute.outbound.v1", direction="in",
                  **labels) == consumed + 1
    assert sample("omniroute_messages_total", topic="omniroute.delivery.v1", direction="out",
                  **labels) == published + 1
    assert sample("omniroute_processing_seconds_count", stage="delivery") == timed + 1
