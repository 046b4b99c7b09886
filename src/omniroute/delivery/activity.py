"""What the delivery process knows about each customer's recent messages (pure).

WhatsApp's and Messenger's 24-hour customer service window starts at the
customer's last inbound message; Kakao answers through the callback URL of the
latest request. The delivery process rebuilds this view from
``omniroute.inbound.v1`` itself (reading the last 24 hours at start-up, then
following the topic), so it holds no state Kafka does not have.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from omniroute.contract import InboundMessage, OutboundMessage
from omniroute_connectors.outbound import SERVICE_WINDOW, SendContext

HINT_KEYS = ("callback_url", "reply_token")
Key = tuple[str, str, str]


@dataclass
class Activity:
    """The latest inbound time and reply hints of one customer on one account."""

    last_inbound_at: datetime
    hints: dict[str, str] = field(default_factory=dict)


@dataclass
class CustomerActivity:
    """Latest inbound activity per (channel, channel account, customer address)."""

    customers: dict[Key, Activity] = field(default_factory=dict)

    def observe(self, message: InboundMessage, received_at: datetime) -> None:
        """Record one inbound message; older messages never move the window back."""
        key = (message.channel.value, message.channel_account, message.sender.value)
        at = message.provider_timestamp or received_at
        current = self.customers.get(key)
        if current is not None and current.last_inbound_at >= at:
            return
        hints = {k: message.metadata[k] for k in HINT_KEYS if k in message.metadata}
        if hints:
            hints["received_at"] = received_at.isoformat()
        self.customers[key] = Activity(at, hints)

    def context(self, message: OutboundMessage, now: datetime) -> SendContext:
        """The SendContext of an outbound message."""
        key = (message.channel.value, message.channel_account, message.recipient.value)
        activity = self.customers.get(key)
        if activity is None:
            return SendContext(now=now)
        return SendContext(now=now, last_inbound_at=activity.last_inbound_at,
                           reply_hint=dict(activity.hints))

    def spend_hints(self, message: OutboundMessage) -> None:
        """Forget the reply hints of ``message``'s customer: a Kakao callback URL and a
        LINE reply token work once, so the next answer must not reuse them."""
        key = (message.channel.value, message.channel_account, message.recipient.value)
        activity = self.customers.get(key)
        if activity is not None:
            activity.hints.clear()

    def forget_before(self, cutoff: datetime) -> int:
        """Drop customers silent since ``cutoff`` (memory stays bounded to the window)."""
        stale = [k for k, a in self.customers.items() if a.last_inbound_at < cutoff]
        for key in stale:
            del self.customers[key]
        return len(stale)


LOOKBACK = SERVICE_WINDOW + timedelta(minutes=5)
"""How far back the view is rebuilt at start-up: the window plus clock-skew margin."""
