"""A parked conversation (the router could not route it) is routed again when the customer writes."""

from __future__ import annotations

from datetime import timedelta

from omniroute.contract import ConversationEvent, ConversationEventKind
from omniroute.conversations.threading import add_message, apply_router_event
from omniroute.routing.requests import RoutingRequestKind

from .test_threading import POLICY, T0, customer, message

Kind = ConversationEventKind


def parked(state, reason: str = "no pool for channel sms"):  # type: ignore[no-untyped-def]
    assert state.current is not None
    event = ConversationEvent(event_id="park-1", occurred_at=T0, kind=Kind.PARKED,
                              conversation_id=state.current.id, customer_id=state.customer_id,
                              reason=reason)
    return apply_router_event(state, event).state


class TestParked:
    """No message goes unseen: the router's ``parked`` is remembered and undone by the next message."""

    def test_the_router_parking_a_conversation_is_remembered_with_its_reason(self) -> None:
        """``parked`` keeps the conversation open, without agent or pool, with the reason."""
        state = parked(add_message(customer(), message("e1"), POLICY).state)
        assert state.current is not None
        assert state.current.is_open and state.current.parked == "no pool for channel sms"
        assert state.current.agent_id is None

    def test_the_next_message_routes_a_parked_conversation_again(self) -> None:
        """The same conversation, one ``route`` request naming why, and parking forgotten."""
        opened = add_message(customer(), message("e1"), POLICY).state
        out = add_message(parked(opened), message("e2", at=T0 + timedelta(minutes=1)), POLICY)
        assert [e.kind for e in out.events] == [Kind.MESSAGE_ADDED]
        assert [r.kind for r in out.requests] == [RoutingRequestKind.ROUTE]
        assert out.requests[0].conversation_id == opened.current.id  # type: ignore[union-attr]
        assert "no pool for channel sms" in (out.requests[0].reason or "")
        assert out.requests[0].was_parked  # the pool that queues it says it left parking
        assert out.state.current is not None and out.state.current.parked is None

    def test_routed_again_elsewhere_the_next_message_asks_for_nothing(self) -> None:
        """A supervisor re-routed the parked conversation: the pool that queued it said so
        (``rerouted``), or an agent got it (``assigned``); the customer's next message is a
        plain follow-up, not another route request."""
        opened = add_message(customer(), message("e1"), POLICY).state
        for kind in (Kind.REROUTED, Kind.ASSIGNED):
            state = parked(opened)
            news = ConversationEvent(event_id=f"news-{kind}", occurred_at=T0, kind=kind,
                                     conversation_id=state.current.id,  # type: ignore[union-attr]
                                     customer_id=state.customer_id, pool="support",
                                     agent_id="ada" if kind is Kind.ASSIGNED else None)
            state = apply_router_event(state, news).state
            assert state.current is not None and state.current.parked is None
            assert state.current.pool == "support"
            out = add_message(state, message("e2", at=T0 + timedelta(minutes=1)), POLICY)
            assert out.requests == [], kind

    def test_a_conversation_that_is_not_parked_is_not_routed_again(self) -> None:
        """A plain follow-up on the same channel asks the router for nothing."""
        opened = add_message(customer(), message("e1"), POLICY).state
        out = add_message(opened, message("e2", at=T0 + timedelta(minutes=1)), POLICY)
        assert out.requests == []
