"""The history sink's projection sees a merge the way the worker announces it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from omniroute.contract import Address, Channel, InboundMessage
from omniroute.conversations.merging import absorb, merge_away
from omniroute.conversations.state import CustomerState
from omniroute.conversations.threading import ThreadingPolicy, add_message
from omniroute.history.projection import fold_conversation

T0 = datetime(2026, 1, 1, 9, tzinfo=UTC)


def opened(customer_id: str, event_id: str, at: datetime) -> CustomerState:
    message = InboundMessage(
        event_id=event_id, occurred_at=at, channel=Channel.SMS, provider="p",
        channel_account="acct", sender=Address(value="+821012345678"),
        recipient=Address(value="acct"), provider_message_id=event_id, text="hi",
    )
    state = CustomerState(customer_id=customer_id, workspace="default")
    return add_message(state, message, ThreadingPolicy()).state


class TestMergeInHistory:
    """fold_conversation (history) applied to the worker's merged event."""

    def test_folded_conversation_is_merged_into_the_survivor_under_the_surviving_customer(
        self,
    ) -> None:
        """status merged, merged_into the earlier conversation, customer the survivor."""
        early = opened("cus_a", "e1", T0)
        late = opened("cus_b", "e2", T0 + timedelta(minutes=1))
        _, handed = merge_away(late, "cus_a")
        event = absorb(early, handed, None, {}, "m1", T0 + timedelta(minutes=2)).events[0]
        patch = fold_conversation(None, event)
        assert early.current is not None and handed is not None
        assert (patch.conversation_id, patch.status, patch.merged_into, patch.customer_id) == (
            handed.id, "merged", early.current.id, "cus_a")
