"""The pure core of the sink: events → rows, patches and holder changes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from omniroute.contract import (
    Address,
    AssignmentEvent,
    AssignmentKind,
    Channel,
    ConversationEvent,
    ConversationEventKind,
    Direction,
    InboundMessage,
    MessageRef,
)
from omniroute.history.partitions import partition_day, partition_name
from omniroute.history.projection import (
    assignment_effect,
    fold_conversation,
    message_from_inbound,
    plan_batch,
)
from omniroute.history.retention import Policy, droppable, longest, shortest
from omniroute.history.sink import Backoff

T = datetime(2026, 11, 20, 9, tzinfo=UTC)
MSG = InboundMessage(event_id="m1", occurred_at=T, channel=Channel.SMS, provider="twilio",
                     channel_account="+1999", sender=Address(value="+1555", name="Ada"),
                     recipient=Address(value="+1999"), provider_message_id="SM1", text="hi")


def conv(kind: ConversationEventKind, n: int, **extra: object) -> ConversationEvent:
    return ConversationEvent(event_id=f"e{n}", occurred_at=T + timedelta(minutes=n),
                             conversation_id="c1", customer_id="k1", kind=kind, **extra)


class TestPlanBatch:
    def test_two_views_of_one_message_make_one_row(self) -> None:
        """message_added (conversation) and the inbound (sender) fold into one row."""
        ref = MessageRef(source_event_id="m1", direction=Direction.INBOUND, channel=Channel.SMS,
                         text="hi")
        plan = plan_batch([conv(ConversationEventKind.MESSAGE_ADDED, 1, message=ref), MSG])
        (row,) = plan.messages.values()
        assert (row.conversation_id, row.customer_id, row.sender, row.channel_account) == (
            "c1", "k1", "+1555", "+1999")
        assert row.created_at == T + timedelta(minutes=1)  # the first view keeps its time

    def test_conversation_events_fold_into_one_patch(self) -> None:
        """Opened, tagged twice, assigned, resolved: the last status and every tag once."""
        plan = plan_batch([
            conv(ConversationEventKind.OPENED, 0, channel=Channel.SMS),
            conv(ConversationEventKind.TAGGED, 1, tags=["billing"]),
            conv(ConversationEventKind.ASSIGNED, 2, agent_id="a1"),
            conv(ConversationEventKind.TAGGED, 3, tags=["billing", "vip"]),
            conv(ConversationEventKind.RESOLVED, 4),
        ])
        patch = plan.conversations["c1"]
        assert (patch.status, patch.agent_id, patch.tags) == ("resolved", "a1", ("billing", "vip"))
        assert patch.resolved_at == T + timedelta(minutes=4) and patch.opened_at == T

    def test_the_customers_latest_message_names_the_channel_whatever_comes_after(self) -> None:
        """Opened on WhatsApp, a message by SMS, then the router's assigned naming WhatsApp (the
        work's first channel) and the agent's answer by email: the conversation is on SMS.
        Other events' channel is only a hint, kept for a conversation with no message yet."""
        def message(n: int, direction: Direction, channel: Channel) -> ConversationEvent:
            ref = MessageRef(source_event_id=f"m{n}", direction=direction, channel=channel,
                             text="hi")
            return conv(ConversationEventKind.MESSAGE_ADDED, n, message=ref, channel=channel)
        events = [
            conv(ConversationEventKind.OPENED, 0, channel=Channel.WHATSAPP),
            message(1, Direction.INBOUND, Channel.WHATSAPP),
            message(2, Direction.INBOUND, Channel.SMS),
            conv(ConversationEventKind.ASSIGNED, 3, agent_id="a1", channel=Channel.WHATSAPP),
            message(4, Direction.OUTBOUND, Channel.EMAIL),
        ]
        patch = plan_batch(events).conversations["c1"]
        assert (patch.channel, patch.channel_hint) == ("sms", "whatsapp")
        later = plan_batch(events[3:]).conversations["c1"]  # a batch with no customer message
        assert (later.channel, later.channel_hint) == (None, "whatsapp")

    def test_reopening_clears_the_resolution(self) -> None:
        """A reopened conversation is open again with no resolution time."""
        patch = fold_conversation(None, conv(ConversationEventKind.RESOLVED, 1))
        patch = fold_conversation(patch, conv(ConversationEventKind.REOPENED, 2))
        assert (patch.status, patch.resolved_at) == ("open", None)


class TestAssignmentEffect:
    def event(self, kind: AssignmentKind) -> AssignmentEvent:
        return AssignmentEvent(event_id="x", agent_id="a1", kind=kind, conversation_id="c1")

    def test_assigned_sets_the_holder_and_a_release_names_the_releaser(self) -> None:
        """assigned → holder a1; completed → nobody, released by a1; offers change nothing."""
        assert self.event(AssignmentKind.ASSIGNED).agent_id == assignment_effect(
            self.event(AssignmentKind.ASSIGNED)).agent_id  # type: ignore[union-attr]
        done = assignment_effect(self.event(AssignmentKind.COMPLETED))
        assert done is not None and (done.agent_id, done.releasing_agent) == (None, "a1")
        assert assignment_effect(self.event(AssignmentKind.OFFERED)) is None


class TestRetentionRules:
    def test_only_whole_days_past_the_longest_policy_drop(self) -> None:
        """With 31 days kept, the day that ended 31 days ago drops, the next one stays."""
        now = datetime(2026, 11, 22, 0, tzinfo=UTC)
        parts = {partition_name(d): d for d in (date(2026, 10, 21), date(2026, 10, 22))}
        assert droppable(parts, now, 31) == ["messages_p20261021"]
        assert droppable(parts, now, longest([Policy("w", "sms", 60)], 31)) == []

    def test_shortest_and_longest_include_the_default(self) -> None:
        """The default counts as a policy for every workspace and channel."""
        policies = [Policy("w", "sms", 5), Policy("w", "*", 90)]
        assert (shortest(policies, 31), longest(policies, 31)) == (5, 90)

    def test_partition_names_round_trip(self) -> None:
        """A partition's name says its day; other tables are not partitions."""
        assert partition_day(partition_name(date(2026, 1, 2))) == date(2026, 1, 2)
        assert partition_day("messages") is None


class TestBackoff:
    def test_doubles_up_to_the_cap(self) -> None:
        """0.2, 0.4, 0.8 ... never above the cap."""
        backoff = Backoff(initial=0.2, cap=1.0)
        assert [backoff.delay(n) for n in range(4)] == [0.2, 0.4, 0.8, 1.0]


class TestEmailSenderVerdict:
    """An inbound mail's stored view says whether its sender passed SPF/DKIM/DMARC, so
    the console can flag an unverified sender (identity files such mail apart)."""

    def mail(self, **metadata: str) -> InboundMessage:
        return InboundMessage(event_id="e1", occurred_at=T, channel=Channel.EMAIL,
                              provider="smtp", channel_account="support@shop.test",
                              sender=Address(value="ann@example.com"),
                              recipient=Address(value="support@shop.test"), text="hi",
                              provider_message_id="<e1@example.com>",
                              metadata=metadata)

    def test_the_verdict_is_kept_and_a_missing_one_is_none(self) -> None:
        assert message_from_inbound(self.mail(email_auth="pass")).content == {
            "email_auth": "pass"}
        assert message_from_inbound(self.mail(email_auth="fail")).content == {
            "email_auth": "fail"}
        assert message_from_inbound(self.mail()).content == {"email_auth": "none"}

    def test_other_channels_carry_no_verdict(self) -> None:
        assert "email_auth" not in message_from_inbound(MSG).content
