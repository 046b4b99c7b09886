"""Which messages wait behind an earlier one of their conversation (omniroute.delivery.rounds)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from omniroute.contract import (
    Address,
    Author,
    AuthorKind,
    Channel,
    DeliveryState,
    DeliveryStatus,
    OutboundMessage,
    utcnow,
)
from omniroute.delivery.rounds import DUE_HEADER, ROUND_HEADER, Rounds
from omniroute.settings import Settings

START = utcnow()


class Producer:
    """Keeps what it is asked to write (every write acknowledged at once)."""

    def __init__(self) -> None:
        self.written: list[tuple[str, bytes, bytes, list[tuple[str, bytes]]]] = []

    async def send(self, topic: str, value: bytes, *, key: bytes,
                   headers: list[tuple[str, bytes]] | None = None) -> asyncio.Future[None]:
        self.written.append((topic, value, key, headers or []))
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done

    def statuses(self) -> list[DeliveryStatus]:
        return [DeliveryStatus.from_json_bytes(value) for topic, value, _key, _headers
                in self.written if topic == "omniroute.delivery.v1"]


def message(n: int, conversation: str = "conv-1") -> OutboundMessage:
    return OutboundMessage(
        event_id=f"out-{n}", occurred_at=START + timedelta(seconds=n),
        conversation_id=conversation, channel=Channel.SMS, channel_account="+14155550199",
        recipient=Address(value="+14155550100"), author=Author(kind=AuthorKind.AGENT, id="a1"),
        text=f"reply {n}")


def rounds(producer: Any, **changes: Any) -> Rounds:
    settings = Settings(**({"delivery_retry_seconds": 30.0} | changes))
    return Rounds(settings, "omniroute.internal.delivery-retry", None, producer,  # type: ignore[arg-type]
                  "delivery")


async def test_a_later_message_of_the_conversation_waits_until_the_earlier_is_settled() -> None:
    producer = Producer()
    later = rounds(producer)
    await later.defer(message(1), 1, "twilio", "503", "Twilio answered 503")
    assert later.behind(message(2))
    assert not later.behind(message(1)), "the earliest is never behind itself"
    assert not later.behind(message(3, "conv-2")), "another conversation goes on"
    later.settled(message(1))
    assert not later.behind(message(2))
    (topic, _value, key, headers) = producer.written[0]
    assert (topic, key) == ("omniroute.internal.delivery-retry", b"conv-1")
    assert dict(headers)[ROUND_HEADER] == b"1" and DUE_HEADER in dict(headers)


async def test_a_rebalance_or_the_waiting_time_forgets_the_earlier_message() -> None:
    later = rounds(Producer(), delivery_retry_seconds=0.001, delivery_retry_rounds=1)
    await later.defer(message(1), 1, "twilio", None, "down")
    later.forget()
    assert not later.behind(message(2))
    await later.defer(message(1), 1, "twilio", None, "down")
    await asyncio.sleep(0.01)  # (1 round + 2) x 1 ms: whoever had it is not waited for
    assert not later.behind(message(2))


def test_the_reason_after_the_last_round() -> None:
    later = rounds(Producer(), delivery_retry_seconds=30.0)
    assert later.spent(0) == ""
    assert later.spent(1) == " (tried again once, 30 s apart)"
    assert later.spent(20) == " (tried again 20 times, 30 s apart)"


async def test_each_round_says_queued_why_and_when() -> None:
    """The agent sees that a reply has not gone out: the attempt's reason, then the next
    message of the conversation waiting behind it, each with its round."""
    producer = Producer()
    later = rounds(producer, delivery_retry_rounds=20)
    account = ("twilio", "+14155550199")
    assert await later.tried(message(1), 0, account, "twilio", reached=False, unreachable=True,
                             code="retries_exhausted:503", why="Twilio answered 503")
    assert await later.wait_turn(message(2), 0, ("meta", "other"), "meta")
    assert await later.wait_turn(message(3, "conv-2"), 0, account, "twilio")
    first, behind, down = producer.statuses()
    assert {s.state for s in (first, behind, down)} == {DeliveryState.QUEUED}
    assert (first.outbound_event_id, first.error_code) == ("out-1", "retries_exhausted:503")
    assert first.error_message is not None
    assert first.error_message.startswith("Twilio answered 503; next try at ")
    assert first.error_message.endswith(" UTC (round 1 of 20)")
    assert behind.error_message is not None and behind.error_message.startswith(
        "an earlier message to this customer waits to be sent; next try at ")
    assert down.error_message is not None and down.error_message.startswith(
        "twilio could not be reached less than 30 s ago")
    assert first.event_id != behind.event_id
    assert DeliveryState.QUEUED.rank < DeliveryState.ACCEPTED.rank, "any other status wins"
