"""Threading defects of issue 11: reply channel order, reply tokens, own Message-IDs, merges.

Each test failed before its fix.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from omniroute.contract import Address, Channel, ConversationEvent, InboundMessage, ThreadHints
from omniroute.contract import ConversationEventKind as Kind
from omniroute.conversations.mailthread import (
    conversation_of_message_id,
    outbound_message_id,
    reply_thread,
    thread_of,
)
from omniroute.conversations.merging import absorb, merge_away
from omniroute.conversations.state import CustomerState
from omniroute.conversations.threading import ThreadingPolicy, add_message, apply_router_event
from omniroute.routing.requests import RoutingRequestKind

T0 = datetime(2026, 1, 1, 9, tzinfo=UTC)
POLICY = ThreadingPolicy(reopen_window=timedelta(hours=1))
LATE = T0 + timedelta(days=30)


def message(event_id: str, channel: Channel = Channel.SMS, at: datetime = T0,
            **extra: object) -> InboundMessage:
    return InboundMessage(
        event_id=event_id, occurred_at=at, channel=channel, provider="p", channel_account="acct",
        sender=Address(value="+821012345678"), recipient=Address(value="acct"),
        provider_message_id=f"pm-{event_id}", text="hello", **extra,  # type: ignore[arg-type]
    )


def resolved(state: CustomerState, at: datetime) -> CustomerState:
    assert state.current is not None
    event = ConversationEvent(event_id=f"res-{int(at.timestamp())}", occurred_at=at, customer_id=state.customer_id,
                              conversation_id=state.current.id, kind=Kind.RESOLVED)
    return apply_router_event(state, event).state


def opened(customer_id: str = "cus_a", *msgs: InboundMessage) -> CustomerState:
    state = CustomerState(customer_id=customer_id, workspace="default")
    for m in msgs or (message("e1"),):
        state = add_message(state, m, POLICY).state
    return state


class TestReplyChannelByEventTime:
    """The reply channel is the channel of the latest message by ``occurred_at``."""

    def test_a_late_arriving_older_message_does_not_change_the_reply_channel(self) -> None:
        """WhatsApp at 9:05 arrives, then an SMS written at 9:01: replies stay on WhatsApp."""
        state = opened("cus_a", message("e1", Channel.SMS, T0),
                       message("e2", Channel.WHATSAPP, T0 + timedelta(minutes=5)))
        out = add_message(state, message("e3", Channel.SMS, T0 + timedelta(minutes=1)), POLICY)
        assert out.state.current is not None
        assert out.state.current.last_channel is Channel.WHATSAPP
        assert not [r for r in out.requests if r.kind is RoutingRequestKind.UPDATE]
        assert [e.kind for e in out.events] == [Kind.MESSAGE_ADDED]


class TestRepliesAfterTheWindow:
    """Replies that name the conversation reopen it at any age."""

    def test_reply_token_of_the_plus_address_reopens(self) -> None:
        """``support+<conversation id>@`` with no threading headers, 30 days later."""
        state = resolved(opened(), T0 + timedelta(minutes=5))
        assert state.current is not None
        token = ThreadHints(reply_token=state.current.id)
        out = add_message(state, message("e2", Channel.EMAIL, LATE, thread=token), POLICY)
        assert out.events[0].kind is Kind.REOPENED
        assert out.events[0].conversation_id == state.current.id

    def test_reply_to_our_own_outbound_message_id_reopens(self) -> None:
        """In-Reply-To our reply's Message-ID (a conversation that began on SMS)."""
        state = resolved(opened(), T0 + timedelta(minutes=5))
        assert state.current is not None
        ours = f"<{outbound_message_id('out-1', state.current.id, 'support@acme.example')}>"
        hints = ThreadHints(message_id="<c2@x>", in_reply_to=[ours], references=[ours])
        out = add_message(state, message("e2", Channel.EMAIL, LATE, thread=hints), POLICY)
        assert out.events[0].kind is Kind.REOPENED

    def test_a_token_of_another_conversation_does_not_reopen(self) -> None:
        """Only the customer's own conversation reopens."""
        state = resolved(opened(), T0 + timedelta(minutes=5))
        token = ThreadHints(reply_token="cnv_someone_else")
        out = add_message(state, message("e2", Channel.EMAIL, LATE, thread=token), POLICY)
        assert out.events[0].kind is Kind.OPENED

    def test_own_message_ids_carry_the_conversation(self) -> None:
        """The outbound Message-ID is deterministic and names its conversation."""
        mid = outbound_message_id("out-1", "cnv_abc", "support@acme.example")
        assert mid == outbound_message_id("out-1", "cnv_abc", "support@acme.example")
        assert mid.endswith("@acme.example")
        assert conversation_of_message_id(f"<{mid}>") == "cnv_abc"
        assert conversation_of_message_id("<m1@gmail.com>") is None


class TestMergeKeepsThreads:
    """A resolved conversation absorbed in a merge keeps its thread ids."""

    def test_reply_to_an_absorbed_resolved_conversation_reopens_the_survivor(self) -> None:
        """B's resolved email thread lives on in A's conversation after the merge."""
        first = ThreadHints(message_id="<b1@x>")
        b = resolved(opened("cus_b", message("b1", Channel.EMAIL, T0, thread=first)),
                     T0 + timedelta(minutes=2))
        a = opened("cus_a", message("a1", Channel.SMS, T0 + timedelta(minutes=3)))
        _, handed = merge_away(b, "cus_a")
        merged = absorb(a, handed, None, {}, "m1", T0 + timedelta(minutes=4)).state
        assert merged.current is not None and "<b1@x>" in merged.current.thread_ids
        state = resolved(merged, T0 + timedelta(minutes=10))
        reply = ThreadHints(message_id="<b2@x>", in_reply_to=["<b1@x>"])
        out = add_message(state, message("b2", Channel.EMAIL, LATE, thread=reply), POLICY)
        assert out.events[0].kind is Kind.REOPENED

    def test_token_of_an_absorbed_conversation_reopens_the_survivor(self) -> None:
        """A reply token naming B's conversation finds A's after the merge."""
        b = resolved(opened("cus_b", message("b1", Channel.EMAIL, T0)), T0 + timedelta(minutes=2))
        a = opened("cus_a", message("a1", Channel.SMS, T0 + timedelta(minutes=3)))
        _, handed = merge_away(b, "cus_a")
        assert handed is not None
        merged = absorb(a, handed, None, {}, "m1", T0 + timedelta(minutes=4)).state
        state = resolved(merged, T0 + timedelta(minutes=10))
        token = ThreadHints(reply_token=handed.id)
        out = add_message(state, message("b2", Channel.EMAIL, LATE, thread=token), POLICY)
        assert out.events[0].kind is Kind.REOPENED


class TestReplyThread:
    """What a reply to a mail carries so the customer's client shows it under their mail."""

    def test_a_long_chain_keeps_its_first_and_latest_references(self) -> None:
        mail = ThreadHints(message_id="m30@x", in_reply_to=["m29@x"],
                           references=[f"m{i}@x" for i in range(30)], reply_token="cnv_old",
                           subject="Order 7")
        reply = reply_thread(mail)
        assert reply is not None
        assert reply.references == ["m0@x", *(f"m{i}@x" for i in range(21, 30))]
        assert (reply.message_id, reply.subject, reply.reply_token) == ("m30@x", "Order 7", None)

    def test_a_mail_without_an_id_or_subject_gives_nothing_to_thread_under(self) -> None:
        assert reply_thread(ThreadHints(reply_token="cnv_1")) is None
        assert reply_thread(None) is None

    def test_only_an_email_is_answered_in_a_thread(self) -> None:
        hints = ThreadHints(message_id="m1@x", subject="Order 7")
        assert thread_of(message("e1", Channel.EMAIL, thread=hints)) == ThreadHints(
            message_id="m1@x", subject="Order 7")
        assert thread_of(message("s1", Channel.SMS, thread=hints)) is None
