"""The sink's projection of self-service steps and bot answers into ``selfservice_events``."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from omniroute.contract import (
    Channel,
    ConversationEvent,
    ConversationEventKind,
    SelfServiceEvent,
    SelfServiceEventKind,
)
from omniroute.history.projection import plan_batch

AT = datetime(2026, 12, 1, 9, tzinfo=UTC)


class TestSelfServiceProjection:
    def test_article_views_and_bot_answers_become_rows(self) -> None:
        """A widget article view and a bot's article answer are both funnel rows."""
        viewed = SelfServiceEvent(event_id="v1", occurred_at=AT, visitor_id="vis_1",
                                  kind=SelfServiceEventKind.ARTICLE_VIEWED,
                                  article_id="refund-policy", language="ko")
        answered = ConversationEvent(event_id="b1", occurred_at=AT, conversation_id="c1",
                                     customer_id="cu1", kind=ConversationEventKind.BOT_ANSWERED,
                                     channel=Channel.WHATSAPP, article_id="refund-policy")
        plan = plan_batch([viewed, answered])
        assert plan.selfservice == [
            ("v1", "default", AT, "article_viewed", "vis_1", None, None, "webchat",
             "refund-policy", "ko", None, None),
            ("b1", "default", AT, "bot_answered", None, "cu1", "c1", "whatsapp",
             "refund-policy", None, None, None),
        ]
        assert [e.kind for e in plan.conversation_events] == [ConversationEventKind.BOT_ANSWERED]

    def test_incomplete_steps_are_refused(self) -> None:
        """A view without its article, or a step without anyone, is not a valid event."""
        with pytest.raises(ValidationError, match="needs article_id"):
            SelfServiceEvent(event_id="x", visitor_id="v", kind="article_viewed")
        with pytest.raises(ValidationError, match="visitor_id or a customer_id"):
            SelfServiceEvent(event_id="x", kind="self_serve_tried", query="refund")
        with pytest.raises(ValidationError, match="needs article_id"):
            ConversationEvent(event_id="x", conversation_id="c", customer_id="u",
                              kind="bot_answered")
