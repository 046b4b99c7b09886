"""A merge hands automation's memory of the conversation to the customer that goes on.

A user run: a signed-in web chat visitor (phone verified by the site's token) wrote
first and was acknowledged; their SMS a second later joined the same conversation,
now owned by the phone's customer, and was acknowledged again ("at most once per
conversation per day"). Automation remembers per customer, and the survivor had no
memory of the conversation it took over: no acknowledgement sent, no human engaged
(so no survey after a resolve), no escalation. Driven through the worker's
conversations processor and automation hook, their tables and sends in memory.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from omniroute.automation.memory import ConversationMemory
from omniroute.contract import Address, Channel, ConversationEvent, InboundMessage
from omniroute.contract.topics import CONVERSATIONS
from omniroute.conversations.commands import (
    CUSTOMER_COMMAND,
    AbsorbCustomer,
    MergeCustomer,
    ThreadMessage,
)
from omniroute.worker.topology import CUSTOMERS
from unit.automation.test_bot_overlap import FakeTable, hook

AT = datetime(2026, 12, 4, 22, 3, tzinfo=UTC)


class Desk:
    """One worker's conversations processor and automation, with what they send."""

    def __init__(self) -> None:
        self.automation, self.outbound = hook(None)  # automation's outbound, in memory
        worker = self.automation.worker
        self.conversations = worker.components["conversations"]
        self.conversations.customers = FakeTable()
        self.records: list[tuple[str, str, bytes]] = []

        async def send(topic: str, key: str, value: bytes, channel: str | None = None) -> None:
            self.records.append((topic, key, value))

        worker.send = send  # type: ignore[method-assign]

    async def message(self, customer: str, n: int, channel: Channel, sender: str,
                      address: str, text: str) -> None:
        message = InboundMessage(
            event_id=f"{channel.value}:{n}", occurred_at=AT + timedelta(seconds=n),
            channel=channel, provider=channel.value, channel_account="acme",
            sender=Address(value=sender), recipient=Address(value="acme"),
            provider_message_id=f"p{n}", text=text)
        await self.conversations.apply(ThreadMessage(
            workspace="default", customer_id=customer, address=address, message=message))

    async def merge(self, merged: str, survivor: str) -> AbsorbCustomer:
        """Merge ``merged`` into ``survivor``; apply the hand-over it sends; return it."""
        await self.conversations.apply(MergeCustomer(
            workspace="default", customer_id=merged, survivor=survivor, event_id="merge-1",
            at=AT + timedelta(seconds=1)))
        [hand_over] = [CUSTOMER_COMMAND.validate_json(v) for t, k, v in self.records
                       if t == CUSTOMERS and k == survivor]
        assert isinstance(hand_over, AbsorbCustomer)
        await self.conversations.apply(hand_over)
        return hand_over

    def kinds(self) -> list[str | None]:
        return [m.automation for m in self.outbound]


class TestMergeHandsOverAutomationMemory:
    async def test_the_customer_is_acknowledged_once_across_the_merge(self) -> None:
        desk = Desk()
        await desk.message("cus_visitor", 1, Channel.WEBCHAT, "id:site-user-77",
                           "id:site-user-77", "Hi, my order 12345 has not arrived yet")
        assert desk.kinds() == ["acknowledgement"]
        conversation = desk.conversations.customers.get("cus_visitor").current.id
        hand_over = await desk.merge("cus_visitor", "cus_phone")
        assert hand_over.automation is not None
        await desk.message("cus_phone", 2, Channel.SMS, "+821055500001", "tel:+821055500001",
                           "Also by SMS: any news on order 12345?")
        assert desk.conversations.customers.get("cus_phone").current.id == conversation
        assert desk.kinds() == ["acknowledgement"]  # not a second one on SMS
        taken = desk.automation.memory.get("cus_phone").conversations[conversation]
        assert taken.auto_replied_on == AT.date().isoformat() and taken.open
        # the merged-away customer's copy is closed: its clocks no longer tick for it
        assert not desk.automation.memory.get("cus_visitor").conversations[conversation].open

    async def test_without_a_memory_nothing_is_handed_over(self) -> None:
        """A merged-away customer automation never saw hands over the conversation alone."""
        desk = Desk()
        desk.automation.memory = FakeTable()  # type: ignore[assignment]
        await desk.message("cus_visitor", 1, Channel.WEBCHAT, "id:v", "id:v", "hello")
        desk.automation.memory = FakeTable()  # type: ignore[assignment]  # forgotten
        hand_over = await desk.merge("cus_visitor", "cus_phone")
        assert hand_over.automation is None


class TestJoined:
    def test_what_happened_in_either_counts_and_joining_again_changes_nothing(self) -> None:
        mine = ConversationMemory(conversation_id="c1", auto_replied_on="2026-12-03",
                                  tags=["vip"], priority=10, language="en")
        theirs = ConversationMemory(conversation_id="c0", auto_replied_on="2026-12-04",
                                    human_engaged=True, escalated=True, tags=["refund", "vip"],
                                    priority=80, language="ko", slots={"order": "12345"})
        joined = mine.joined(theirs)
        assert (joined.conversation_id, joined.auto_replied_on, joined.human_engaged,
                joined.escalated, joined.priority, joined.language, joined.tags,
                joined.slots) == ("c1", "2026-12-04", True, True, 80, "en", ["vip", "refund"],
                                  {"order": "12345"})
        assert joined.joined(theirs) == joined
        assert ConversationMemory(conversation_id="c1").joined(
            ConversationMemory(conversation_id="c0")) == ConversationMemory(conversation_id="c1")


class TestTriagedIntent:
    async def test_a_message_naming_no_intent_keeps_the_conversations(self) -> None:
        """History and reports file a conversation under its latest triaged event: a refund
        that ended with a thank-you was reported as intent "other"."""
        desk = Desk()
        await desk.message("cus_1", 1, Channel.SMS, "+821055500002", "tel:+821055500002",
                           "I was charged twice, I want a refund")
        await desk.message("cus_1", 2, Channel.SMS, "+821055500002", "tel:+821055500002",
                           "ok thank you")
        await desk.message("cus_1", 3, Channel.SMS, "+821055500002", "tel:+821055500002",
                           "and my password does not work either")
        triaged = [ConversationEvent.from_json_bytes(v) for t, _, v in desk.records
                   if t == CONVERSATIONS.name and b'"triaged"' in v]
        assert [(e.triage["intent"], "intent_confidence" in e.triage) for e in triaged] == [
            ("refund", True), ("refund", False), ("account", True)]
