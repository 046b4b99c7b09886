"""Threading: one open conversation per customer, reopen window, merges."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from omniroute.contract import (
    Address,
    Channel,
    ConversationEvent,
    ConversationEventKind,
    InboundMessage,
    ThreadHints,
)
from omniroute.conversations.merging import absorb, detach, merge_away
from omniroute.conversations.state import CustomerState
from omniroute.conversations.threading import (
    ThreadingPolicy,
    add_message,
    apply_router_event,
    reply_channel,
)
from omniroute.routing.requests import RoutingRequestKind

T0 = datetime(2026, 1, 1, 9, tzinfo=UTC)
POLICY = ThreadingPolicy(reopen_window=timedelta(hours=1))
Kind = ConversationEventKind


def message(event_id: str, channel: Channel = Channel.SMS, at: datetime = T0,
            **extra: object) -> InboundMessage:
    return InboundMessage(
        event_id=event_id, occurred_at=at, channel=channel, provider="p", channel_account="acct",
        sender=Address(value="+821012345678"), recipient=Address(value="acct"),
        provider_message_id=f"pm-{event_id}", text="hello", **extra,  # type: ignore[arg-type]
    )


def customer(cid: str = "cus_a") -> CustomerState:
    return CustomerState(customer_id=cid, workspace="default")


def router(state: CustomerState, kind: Kind, at: datetime, agent: str | None = None) -> CustomerState:
    assert state.current is not None
    event = ConversationEvent(event_id=f"r-{kind}-{at.isoformat()}", occurred_at=at,
                              conversation_id=state.current.id, customer_id=state.customer_id,
                              kind=kind, agent_id=agent)
    return apply_router_event(state, event).state


class TestOpenAndJoin:
    """Messages on any channel join the one open conversation."""

    def test_first_message_opens_and_asks_for_routing(self) -> None:
        """opened + message_added, and one route request."""
        out = add_message(customer(), message("e1"), POLICY)
        assert [e.kind for e in out.events] == [Kind.OPENED, Kind.MESSAGE_ADDED]
        assert [r.kind for r in out.requests] == [RoutingRequestKind.ROUTE]
        assert out.requests[0].conversation_id == out.events[0].conversation_id

    def test_second_channel_joins_and_becomes_the_reply_channel(self) -> None:
        """A WhatsApp message joins the SMS conversation; replies go to WhatsApp."""
        first = add_message(customer(), message("e1"), POLICY)
        second = add_message(first.state, message("e2", Channel.WHATSAPP), POLICY)
        assert [e.kind for e in second.events] == [Kind.MESSAGE_ADDED]
        assert second.events[0].conversation_id == first.events[0].conversation_id
        assert reply_channel(second.state) is Channel.WHATSAPP
        assert [r.kind for r in second.requests] == [RoutingRequestKind.UPDATE]
        # the update goes to the pool holding the work: the one the route's channel chose
        assert second.requests[0].channel is Channel.SMS
        assert second.requests[0].reason == "reply channel changed"

    def test_email_thread_hints_are_kept_on_the_message(self) -> None:
        """In-Reply-To and References ride on the message_added event."""
        hints = ThreadHints(message_id="<m2@x>", in_reply_to=["<m1@x>"], references=["<m1@x>"])
        out = add_message(customer(), message("e1", Channel.EMAIL, thread=hints), POLICY)
        added = out.events[-1].message
        assert added is not None and added.thread == hints
        assert out.state.current is not None and out.state.current.thread_ids == ["<m2@x>"]

    def test_a_replayed_message_emits_the_same_events_and_opens_nothing_new(self) -> None:
        """Processing the same message twice gives identical event ids and one conversation."""
        first = add_message(customer(), message("e1"), POLICY)
        again = add_message(first.state, message("e1"), POLICY)
        assert [e.event_id for e in again.events] == [e.event_id for e in first.events]
        assert again.state == first.state

    def test_weak_claims_are_recorded(self) -> None:
        """A typed email is kept on the customer."""
        out = add_message(customer(), message("e1", claimed={"email": "a@b.co"}), POLICY)
        assert out.state.claims == {"email": "a@b.co"}


class TestResolveAndReopen:
    """A resolved conversation reopens within the window, else a new one opens."""

    def test_within_the_window_reopens_with_the_last_agent(self) -> None:
        """Same conversation id, reopened, sticky agent in the route request."""
        state = add_message(customer(), message("e1"), POLICY).state
        state = router(state, Kind.ASSIGNED, T0 + timedelta(minutes=1), agent="ag1")
        state = router(state, Kind.RESOLVED, T0 + timedelta(minutes=5))
        out = add_message(state, message("e2", at=T0 + timedelta(minutes=30)), POLICY)
        assert [e.kind for e in out.events] == [Kind.REOPENED, Kind.MESSAGE_ADDED]
        assert out.events[0].conversation_id == state.current.id  # type: ignore[union-attr]
        assert out.requests[0].last_agent_id == "ag1"

    def test_after_the_window_a_new_conversation_opens(self) -> None:
        """Past the window the customer gets a new conversation."""
        state = add_message(customer(), message("e1"), POLICY).state
        state = router(state, Kind.RESOLVED, T0 + timedelta(minutes=5))
        out = add_message(state, message("e2", at=T0 + timedelta(hours=2)), POLICY)
        assert out.events[0].kind is Kind.OPENED
        assert out.events[0].conversation_id != state.current.id  # type: ignore[union-attr]

    def test_an_email_reply_to_the_thread_reopens_even_after_the_window(self) -> None:
        """In-Reply-To naming a message of the resolved conversation reopens it."""
        first = ThreadHints(message_id="<m1@x>")
        state = add_message(customer(), message("e1", Channel.EMAIL, thread=first), POLICY).state
        state = router(state, Kind.RESOLVED, T0 + timedelta(minutes=5))
        reply = ThreadHints(message_id="<m2@x>", in_reply_to=["<m1@x>"], references=["<m1@x>"])
        out = add_message(state, message("e2", Channel.EMAIL, T0 + timedelta(days=30),
                                         thread=reply), POLICY)
        assert out.events[0].kind is Kind.REOPENED
        assert out.events[0].conversation_id == state.current.id  # type: ignore[union-attr]

    def test_news_about_another_conversation_is_ignored(self) -> None:
        """A resolve for a conversation this customer no longer has changes nothing."""
        state = add_message(customer(), message("e1"), POLICY).state
        event = ConversationEvent(event_id="x", conversation_id="cnv_other", customer_id="cus_a",
                                  kind=Kind.RESOLVED)
        assert apply_router_event(state, event).state == state


class TestMerge:
    """Merging customers folds the later open conversation into the earlier."""

    def test_later_conversation_folds_into_the_earlier(self) -> None:
        """merged event for the later one, cancel for it, update for the survivor."""
        early = add_message(customer("cus_a"), message("e1", Channel.SMS, T0), POLICY).state
        late = add_message(customer("cus_b"),
                           message("e2", Channel.EMAIL, T0 + timedelta(minutes=1)), POLICY).state
        loser, handed = merge_away(late, "cus_a")
        assert loser.merged_into == "cus_a" and handed == late.current
        out = absorb(early, handed, None, {}, "m1", T0 + timedelta(minutes=2))
        merged = [e for e in out.events if e.kind is Kind.MERGED]
        assert merged and merged[0].conversation_id == handed.id  # type: ignore[union-attr]
        assert merged[0].merged_into == early.current.id  # type: ignore[union-attr]
        assert {r.kind for r in out.requests} == {RoutingRequestKind.CANCEL,
                                                   RoutingRequestKind.UPDATE}
        assert out.state.current.message_count == 2  # type: ignore[union-attr]
        assert out.state.current.last_channel is Channel.EMAIL  # type: ignore[union-attr]

    def test_the_earlier_wins_even_when_it_comes_from_the_loser(self) -> None:
        """Earlier-opened survives regardless of which customer survives."""
        late = add_message(customer("cus_a"), message("e2", at=T0 + timedelta(minutes=1)),
                           POLICY).state
        early = add_message(customer("cus_b"), message("e1", at=T0), POLICY).state
        _, handed = merge_away(early, "cus_a")
        out = absorb(late, handed, None, {}, "m1", T0 + timedelta(minutes=2))
        assert out.state.current.id == handed.id  # type: ignore[union-attr]
        assert out.events[0].conversation_id == late.current.id  # type: ignore[union-attr]

    def test_a_replayed_absorb_changes_nothing_and_re_announces_the_merge(self) -> None:
        """After a crash the same merged event and requests go out again, same event ids."""
        early = add_message(customer("cus_a"), message("e1", at=T0), POLICY).state
        late = add_message(customer("cus_b"), message("e2", at=T0 + timedelta(minutes=1)),
                           POLICY).state
        _, handed = merge_away(late, "cus_a")
        once = absorb(early, handed, None, {}, "m1", T0)
        twice = absorb(once.state, handed, None, {}, "m1", T0)
        assert twice.state == once.state
        assert twice.events == once.events and twice.requests == once.requests
        assert [e.kind for e in once.events] == [Kind.MERGED, Kind.NOTE_ADDED]

    def test_the_same_conversation_from_another_merge_emits_nothing(self) -> None:
        """Another merge handing over an already folded conversation is a no-op."""
        early = add_message(customer("cus_a"), message("e1", at=T0), POLICY).state
        late = add_message(customer("cus_b"), message("e2", at=T0 + timedelta(minutes=1)),
                           POLICY).state
        _, handed = merge_away(late, "cus_a")
        once = absorb(early, handed, None, {}, "m1", T0)
        other = absorb(once.state, handed, None, {}, "m2", T0)
        assert not other.events and not other.requests

    def test_merged_event_names_the_surviving_customer_for_history(self) -> None:
        """The history sink re-attributes the folded conversation from the merged event."""
        early = add_message(customer("cus_a"), message("e1", at=T0), POLICY).state
        late = add_message(customer("cus_b"), message("e2", at=T0 + timedelta(minutes=1)),
                           POLICY).state
        _, handed = merge_away(late, "cus_a")
        event = absorb(early, handed, None, {}, "m1", T0).events[0]
        assert (event.kind, event.customer_id, event.conversation_id, event.merged_into) == (
            Kind.MERGED, "cus_a", handed.id, early.current.id)  # type: ignore[union-attr]
        assert event.event_id == f"m1.merged.{handed.id}"

    def test_merged_away_customer_redirects_its_messages(self) -> None:
        """A message reaching a merged-away customer goes to the survivor."""
        loser, _ = merge_away(customer("cus_b"), "cus_a")
        assert add_message(loser, message("e9"), POLICY).redirect == "cus_a"

    def test_adopting_a_conversation_into_an_empty_customer(self) -> None:
        """A survivor without a conversation takes the loser's and tells the router."""
        state = add_message(customer("cus_b"), message("e1"), POLICY).state
        _, handed = merge_away(state, "cus_a")
        out = absorb(customer("cus_a"), handed, "ag", {}, "m1", T0)
        assert out.state.current == handed and out.state.last_agent_id == "ag"
        assert out.requests[0].kind is RoutingRequestKind.UPDATE
        assert out.requests[0].customer_id == "cus_a"
        replay = absorb(out.state, handed, "ag", {}, "m1", T0)
        assert replay.requests == out.requests and replay.state == out.state


class TestDetach:
    """Unlink frees a merged-away customer."""

    def test_detached_customer_starts_a_new_conversation(self) -> None:
        """After detach the old (handed-over) conversation is not reused."""
        state = add_message(customer("cus_b"), message("e1"), POLICY).state
        loser, handed = merge_away(state, "cus_a")
        freed = detach(loser)
        assert freed.merged_into is None and freed.current is None
        out = add_message(freed, message("e2", at=T0 + timedelta(minutes=1)), POLICY)
        assert out.events[0].kind is Kind.OPENED
        assert out.events[0].conversation_id != handed.id  # type: ignore[union-attr]
