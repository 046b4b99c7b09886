"""A new conversation the answer bot takes gets no acknowledgement from automation as well.

Automation acknowledges a new conversation at once; when the answer bot takes
that conversation it answers first, and a second voice promising a human
within minutes would contradict it. Driven through the automation hook with
its memory table and outbound send replaced by in-memory fakes.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from omniroute.automation.processor import AutomationHook
from omniroute.contract import Address, Channel, InboundMessage
from omniroute.conversations.commands import ThreadMessage
from omniroute.conversations.state import CustomerState
from omniroute.conversations.threading import ThreadingPolicy, add_message
from omniroute.settings import Settings
from omniroute.worker.app import build

AT = datetime(2026, 12, 1, 10, tzinfo=UTC)


class FakeTable:
    def __init__(self) -> None:
        self.data: dict[str, Any] = {}

    def get(self, key: str) -> Any:
        return self.data.get(key)

    def set(self, key: str, value: Any) -> None:
        self.data[key] = value

    def values(self) -> list[Any]:
        return list(self.data.values())


class FakeBot:
    def __init__(self, takes: bool) -> None:
        self.policy = self
        self.takes = takes

    def answers(self, channel: str, pool: str | None, at: datetime) -> bool:
        return self.takes


def hook(bot_takes: bool | None) -> tuple[AutomationHook, list[Any]]:
    worker = build(Settings(topic_namespace="t."), partitions=3,
                   processors=("omniroute.worker.identity", "omniroute.worker.conversations",
                               "omniroute.automation.processor"))
    automation: AutomationHook = worker.components["automation"]
    automation.memory = FakeTable()  # type: ignore[assignment]
    if bot_takes is not None:
        worker.components["bot"] = FakeBot(bot_takes)
    sent: list[Any] = []

    async def send_outbound(batch: Any) -> None:
        sent.extend(batch.outbound)

    automation.send_outbound = send_outbound  # type: ignore[method-assign]
    return automation, sent


async def first_message(automation: AutomationHook) -> None:
    message = InboundMessage(
        event_id="wa:1", occurred_at=AT, channel=Channel.WHATSAPP, provider="whatsapp",
        channel_account="1122", sender=Address(value="+821012345678"),
        recipient=Address(value="1122"), provider_message_id="wamid.1",
        text="Where is my order 12345?")
    state = CustomerState(customer_id="cus_1", workspace="default")
    command = ThreadMessage(workspace="default", customer_id="cus_1",
                            address="tel:+821012345678", message=message)
    policy = ThreadingPolicy(reopen_window=timedelta(days=1))

    async def inner(state: CustomerState, command: Any) -> Any:
        return add_message(state, command.message, policy)

    await automation.decide(state, command, inner)


class TestBotOverlap:
    """The acknowledgement goes out unless the answer bot takes the conversation."""

    async def test_without_a_bot_a_new_conversation_is_acknowledged(self) -> None:
        """No bot in the worker: the instant acknowledgement is sent."""
        automation, sent = hook(None)
        await first_message(automation)
        assert [m.automation for m in sent] == ["acknowledgement"]

    async def test_a_conversation_the_bot_takes_gets_no_acknowledgement(self) -> None:
        """The bot's policy takes it: automation stays silent (the bot answers)."""
        automation, sent = hook(True)
        await first_message(automation)
        assert [m.automation for m in sent] == []

    async def test_a_conversation_the_bot_declines_is_acknowledged(self) -> None:
        """The bot is on but not for this conversation: the acknowledgement is sent."""
        automation, sent = hook(False)
        await first_message(automation)
        assert [m.automation for m in sent] == ["acknowledgement"]
