"""Sending the CSAT survey is recorded as a ``survey_sent`` event (analytics' response rate)."""

from __future__ import annotations

from datetime import UTC, datetime

from omniroute.automation.emit import Batch
from omniroute.automation.memory import ReplyRoute
from omniroute.automation.replies import Reply
from omniroute.contract import Address, Channel, ConversationEventKind

AT = datetime(2026, 12, 1, 9, tzinfo=UTC)


def batch() -> Batch:
    return Batch(workspace="default", customer_id="cus_1", conversation_id="cnv_1",
                 base="evt1", at=AT)


def route() -> ReplyRoute:
    return ReplyRoute(channel=Channel.TELEGRAM, channel_account="bot",
                      recipient=Address(value="7001"))


class TestSurveySent:
    """Exactly the survey, not every automatic reply, leaves a ``survey_sent`` event."""

    def test_the_survey_reply_records_survey_sent(self) -> None:
        """One outbound survey and one ``survey_sent`` event of the conversation."""
        out = batch()
        out.reply(route(), Reply("survey", "How did we do? 1-5", [("5", "5")]), "survey")
        assert [m.automation for m in out.outbound] == ["survey"]
        assert [e.kind for e in out.events] == [ConversationEventKind.SURVEY_SENT]
        assert out.events[0].conversation_id == "cnv_1"

    def test_an_acknowledgement_records_no_survey(self) -> None:
        """Other automatic replies add no event."""
        out = batch()
        out.reply(route(), Reply("acknowledgement", "We will answer in about 5 minutes"))
        assert out.events == []
