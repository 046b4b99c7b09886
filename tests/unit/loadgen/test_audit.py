"""The soak audit's verdicts, on literal topic views (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from omniroute.contract import (
    AssignmentEvent,
    Channel,
    ConversationEvent,
    Direction,
    MessageRef,
)
from omniroute.loadgen.audit import judge, observe

T0 = datetime(2026, 12, 1, 9, tzinfo=UTC)


def added(token: str, conversation: str, event_id: str | None = None) -> ConversationEvent:
    return ConversationEvent(
        event_id=event_id or f"{token}.added", occurred_at=T0, conversation_id=conversation,
        customer_id="cus", kind="message_added", message=MessageRef(
            source_event_id=token, direction=Direction.INBOUND, channel=Channel.SMS,
            text=f"soak {token} hello"))


def assigned(conversation: str, agent: str, minutes: int, kind: str = "assigned") -> AssignmentEvent:
    return AssignmentEvent(event_id=f"{conversation}.{agent}.{kind}.{minutes}", agent_id=agent,
                           kind=kind, conversation_id=conversation,
                           occurred_at=T0 + timedelta(minutes=minutes))


class TestJudge:
    """Each invariant's offenders are found; a clean run has none."""

    def test_a_clean_run_has_no_offenders(self) -> None:
        """Every message added once, in one conversation per customer, assigned, stored."""
        seen = observe([added("a", "c1"), added("b", "c1")], [assigned("c1", "ann", 1)])
        findings = judge(seen, {"a", "b"}, {"a": 1, "b": 1}, {"a": ["c1"], "b": ["c1"]})
        assert findings.ok and findings.conversations == 1

    def test_lost_duplicated_split_and_unrouted_are_named(self) -> None:
        """A missing message, one added twice, a customer in two conversations, no agent."""
        seen = observe([added("a", "c1"), added("b", "c2"), added("b", "c2", "other-id")], [])
        findings = judge(seen, {"a", "b", "c"}, {"a": 1, "b": 1, "c": 1},
                         {"a": ["c1"], "b": ["c2"]})
        assert findings.lost == ["c"]
        assert findings.duplicated == ["b"]
        assert findings.split == [1]
        assert findings.unrouted == ["c1", "c2"]

    def test_a_second_agent_while_the_first_holds_it_is_double_assignment(self) -> None:
        """assigned ann, assigned bob (no revoke between): double-assigned; with a revoke: fine."""
        twice = observe([added("a", "c1")], [assigned("c1", "ann", 1), assigned("c1", "bob", 2)])
        assert judge(twice, {"a"}, {"a": 1}, {"a": ["c1"]}).double_assigned == ["c1"]
        handed = observe([added("a", "c1")], [assigned("c1", "ann", 1),
                                               assigned("c1", "ann", 2, "revoked"),
                                               assigned("c1", "bob", 3)])
        assert judge(handed, {"a"}, {"a": 1}, {"a": ["c1"]}).double_assigned == []

    def test_history_without_the_conversation_link_is_incomplete(self) -> None:
        """A stored row without (or with another) conversation id counts as missing history."""
        seen = observe([added("a", "c1"), added("b", "c1")], [assigned("c1", "ann", 1)])
        findings = judge(seen, {"a", "b"}, {"a": 1, "b": 1}, {"a": [None], "b": ["c1"]})
        assert findings.history_missing == ["a"]
