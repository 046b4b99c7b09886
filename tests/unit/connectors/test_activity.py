"""The delivery process's view of customers: window start and single-use reply hints."""

from __future__ import annotations

from datetime import timedelta

from omniroute.contract import (
    Address,
    Author,
    AuthorKind,
    Channel,
    InboundMessage,
    OutboundMessage,
    utcnow,
)
from omniroute.delivery.activity import CustomerActivity


def inbound(n: int, minutes_ago: float, **meta: str) -> InboundMessage:
    return InboundMessage(event_id=f"line:e{n}", channel=Channel.LINE, provider="line",
                          channel_account="Ubot", sender=Address(value="Ucust"),
                          recipient=Address(value="Ubot"), provider_message_id=f"m{n}",
                          provider_timestamp=utcnow() - timedelta(minutes=minutes_ago),
                          text="hi", metadata=meta)


REPLY = OutboundMessage(event_id="o1", conversation_id="c1", channel=Channel.LINE,
                        channel_account="Ubot", recipient=Address(value="Ucust"),
                        author=Author(kind=AuthorKind.AGENT, id="a"), text="hello")


def test_latest_message_wins_and_older_ones_never_move_the_window_back() -> None:
    view = CustomerActivity()
    view.observe(inbound(1, 5, reply_token="new"), utcnow())
    view.observe(inbound(0, 30, reply_token="old"), utcnow())  # arrives late
    context = view.context(REPLY, utcnow())
    assert context.in_window()
    assert context.reply_hint["reply_token"] == "new"


def test_reply_hints_are_spent_once_used() -> None:
    view = CustomerActivity()
    view.observe(inbound(1, 0.1, reply_token="rt"), utcnow())
    view.spend_hints(REPLY)
    context = view.context(REPLY, utcnow())
    assert context.reply_hint == {}
    assert context.in_window()  # the window itself is unaffected
