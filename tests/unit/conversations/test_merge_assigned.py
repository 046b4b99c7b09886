"""Merging two open conversations when one or both are assigned (issue 11).

Who keeps the conversation: the only assigned one, else the earlier-opened.
The folded one is cancelled in the pool where its work item lives; the keeper's
state never holds the folded one's agent (no zombie assignment).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from omniroute.contract import Address, Channel, ConversationEvent, InboundMessage
from omniroute.contract import ConversationEventKind as Kind
from omniroute.conversations.merging import absorb, merge_away
from omniroute.conversations.state import CustomerState
from omniroute.conversations.threading import ThreadingPolicy, add_message, apply_router_event
from omniroute.routing.requests import RoutingRequestKind as Req

T0 = datetime(2026, 1, 1, 9, tzinfo=UTC)
POLICY = ThreadingPolicy()


def message(event_id: str, channel: Channel, at: datetime) -> InboundMessage:
    return InboundMessage(
        event_id=event_id, occurred_at=at, channel=channel, provider="p", channel_account="acct",
        sender=Address(value="x"), recipient=Address(value="acct"),
        provider_message_id=f"pm-{event_id}", text="hello",
    )


def opened(customer: str, event_id: str, channel: Channel, minute: int,
           agent: str | None = None, pool: str | None = None) -> CustomerState:
    state = CustomerState(customer_id=customer, workspace="default")
    state = add_message(state, message(event_id, channel, T0 + timedelta(minutes=minute)),
                        POLICY).state
    if agent:
        assert state.current is not None
        event = ConversationEvent(
            event_id=f"as-{event_id}", occurred_at=T0 + timedelta(minutes=minute, seconds=30),
            conversation_id=state.current.id, customer_id=customer, kind=Kind.ASSIGNED,
            agent_id=agent, pool=pool)
        state = apply_router_event(state, event).state
    return state


def merge(survivor: CustomerState, loser: CustomerState):  # type: ignore[no-untyped-def]
    _, handed = merge_away(loser, survivor.customer_id)
    return absorb(survivor, handed, loser.last_agent_id, {}, "m1", T0 + timedelta(hours=1))


class TestWhoKeepsIt:
    """The assigned conversation keeps the customer's work."""

    def test_assigned_later_conversation_keeps_it_over_a_waiting_earlier_one(self) -> None:
        """A waits in the queue (earlier); B is with agent ag-b: B keeps, A is cancelled."""
        a = opened("cus_a", "a1", Channel.SMS, 0)
        b = opened("cus_b", "b1", Channel.EMAIL, 5, agent="ag-b", pool="email")
        out = merge(a, b)
        assert out.state.current is not None and b.current is not None and a.current is not None
        assert out.state.current.id == b.current.id
        assert out.state.current.agent_id == "ag-b" and out.state.current.waiting_since is None
        cancels = [r for r in out.requests if r.kind is Req.CANCEL]
        assert [r.conversation_id for r in cancels] == [a.current.id]
        merged = [e for e in out.events if e.kind is Kind.MERGED]
        assert [(e.conversation_id, e.merged_into) for e in merged] == [
            (a.current.id, b.current.id)]

    def test_both_assigned_the_earlier_keeps_its_agent_and_the_other_is_revoked(self) -> None:
        """The later one's agent loses it (cancel → revoked), in the later one's pool."""
        a = opened("cus_a", "a1", Channel.SMS, 0, agent="ag-a", pool="sms")
        b = opened("cus_b", "b1", Channel.EMAIL, 5, agent="ag-b", pool="email")
        out = merge(a, b)
        assert out.state.current is not None and b.current is not None
        assert out.state.current.agent_id == "ag-a"
        [cancel] = [r for r in out.requests if r.kind is Req.CANCEL]
        assert cancel.conversation_id == b.current.id and cancel.pool == "email"
        [update] = [r for r in out.requests if r.kind is Req.UPDATE]
        assert update.pool == "sms"

    def test_the_holder_of_the_kept_conversation_gets_a_note(self) -> None:
        """A note_added on the kept conversation says what was merged in."""
        a = opened("cus_a", "a1", Channel.SMS, 0, agent="ag-a", pool="sms")
        b = opened("cus_b", "b1", Channel.EMAIL, 5)
        out = merge(a, b)
        assert out.state.current is not None and b.current is not None
        notes = [e for e in out.events if e.kind is Kind.NOTE_ADDED]
        assert len(notes) == 1 and notes[0].conversation_id == out.state.current.id
        assert notes[0].note is not None and b.current.id in notes[0].note


class TestWhereTheWorkLives:
    """A cancel goes to the pool holding the work item, not the current channel's."""

    def test_cancel_of_a_queued_conversation_names_the_channel_it_was_routed_on(self) -> None:
        """B opened on email (routed there), then moved to WhatsApp; its cancel names email."""
        a = opened("cus_a", "a1", Channel.SMS, 0)
        b = opened("cus_b", "b1", Channel.EMAIL, 5)
        b = add_message(b, message("b2", Channel.WHATSAPP, T0 + timedelta(minutes=6)),
                        POLICY).state
        out = merge(a, b)
        [cancel] = [r for r in out.requests if r.kind is Req.CANCEL]
        assert cancel.channel is Channel.EMAIL and cancel.pool is None

    def test_cancel_of_an_assigned_conversation_names_its_pool(self) -> None:
        """The pool the router reported wins over any channel."""
        a = opened("cus_a", "a1", Channel.SMS, 0, agent="ag-a", pool="sms")
        b = opened("cus_b", "b1", Channel.EMAIL, 5, agent="ag-b", pool="vip")
        out = merge(a, b)
        [cancel] = [r for r in out.requests if r.kind is Req.CANCEL]
        assert cancel.pool == "vip"

    def test_cancel_of_overflowed_work_names_the_pool_it_moved_to(self) -> None:
        """Work the router rerouted (overflow) is cancelled in the pool it lives in now, not
        through the pointer the pool it left keeps for an hour."""
        a = opened("cus_a", "a1", Channel.SMS, 0)
        b = opened("cus_b", "b1", Channel.EMAIL, 5)
        assert b.current is not None
        moved = ConversationEvent(
            event_id="rr-b1", occurred_at=T0 + timedelta(minutes=8),
            conversation_id=b.current.id, customer_id="cus_b", kind=Kind.REROUTED,
            pool="overflow", reason="overflow timeout")
        b = apply_router_event(b, moved).state
        out = merge(a, b)
        [cancel] = [r for r in out.requests if r.kind is Req.CANCEL]
        assert cancel.pool == "overflow"


@pytest.mark.parametrize("a_agent", [None, "ag-a"])
@pytest.mark.parametrize("b_agent", [None, "ag-b"])
@pytest.mark.parametrize("b_first", [False, True])
def test_no_zombie_and_nothing_leaked(a_agent: str | None, b_agent: str | None,
                                      b_first: bool) -> None:
    """Every combination: one cancel (the folded one), the kept one keeps only its own agent,
    and the router's revoke of the folded one later changes nothing."""
    a = opened("cus_a", "a1", Channel.SMS, 5 if b_first else 0, agent=a_agent, pool="sms")
    b = opened("cus_b", "b1", Channel.EMAIL, 0 if b_first else 5, agent=b_agent, pool="email")
    out = merge(a, b)
    kept = out.state.current
    assert kept is not None and a.current is not None and b.current is not None
    agents = {a.current.id: a_agent, b.current.id: b_agent}
    assert kept.agent_id == agents[kept.id]
    assert (kept.waiting_since is None) == (kept.agent_id is not None)
    cancels = [r for r in out.requests if r.kind is Req.CANCEL]
    folded = ({a.current.id, b.current.id} - {kept.id}).pop()
    assert [r.conversation_id for r in cancels] == [folded]
    assert not [r for r in out.requests if r.kind is Req.ROUTE]
    revoke = ConversationEvent(event_id="rv", occurred_at=T0 + timedelta(hours=2),
                               conversation_id=folded, customer_id="cus_a", kind=Kind.UNASSIGNED)
    assert apply_router_event(out.state, revoke).state == out.state
