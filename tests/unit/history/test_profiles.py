"""Customer and address rows folded from a batch's message views and conversation patches."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from omniroute.history.profiles import address_rows, customer_rows
from omniroute.history.projection import ConversationPatch, MessageRow

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def message(n: int, *, customer: str | None = "cust-1", sender: str | None = "+1555",
            name: str | None = None, direction: str = "inbound") -> MessageRow:
    return MessageRow(message_id=f"m{n}", created_at=T0 + timedelta(minutes=n),
                      workspace="default", direction=direction, channel="sms",
                      customer_id=customer, sender=sender, sender_name=name)


class TestCustomerRows:
    def test_one_row_per_customer_earliest_and_latest_sighting_and_a_known_name(self) -> None:
        """Names win over none; first/last seen span messages and conversation patches."""
        patch = ConversationPatch(conversation_id="c1", workspace="default",
                                  customer_id="cust-1", opened_at=T0, updated_at=T0)
        rows = customer_rows([message(2, name="Ada"), message(5), message(3, customer=None)],
                             [patch])
        assert rows == [("cust-1", "default", "Ada", T0, T0 + timedelta(minutes=5))]

    def test_messages_without_a_customer_name_nobody(self) -> None:
        """A message not yet tied to a customer creates no customer row."""
        assert customer_rows([message(1, customer=None)]) == []


class TestAddressRows:
    def test_only_inbound_senders_of_known_customers(self) -> None:
        """Replies and untied messages give no address; repeats fold into one row."""
        rows = address_rows([message(1), message(4, name="Ada"), message(2, direction="outbound"),
                             message(3, customer=None)])
        assert rows == [("cust-1", "sms", "+1555", "Ada", T0 + timedelta(minutes=1),
                         T0 + timedelta(minutes=4))]
