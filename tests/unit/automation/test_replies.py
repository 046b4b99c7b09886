"""Automatic replies, escalation and the survey (pure decisions, literal inputs)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from omniroute.automation.config import WorkspaceAutomation, parse_automation
from omniroute.automation.hours import describe_opening, next_opening
from omniroute.automation.memory import ConversationMemory, CustomerMemory
from omniroute.automation.queue import QueueView
from omniroute.automation.replies import (
    asks_for_help,
    plan_message,
    plan_survey,
    read_survey_answer,
)
from omniroute.automation.survey import parse_rating, rating_choices, split_rating
from omniroute.automation.templates import render
from omniroute.automation.wait import (
    QueueState,
    Wait,
    describe_wait,
    expected_wait,
    round_wait,
)
from omniroute.errors import ConfigurationError
from omniroute.routing.policy import BusinessHours
from omniroute.triage import triage

MONDAY_10 = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)  # Monday 10:00 in Seoul
SATURDAY = datetime(2026, 12, 5, 3, 0, tzinfo=UTC)  # Saturday 12:00 in Seoul
SEOUL_WEEKDAYS = BusinessHours("Asia/Seoul", {d: ((9 * 60, 18 * 60),) for d in range(5)})
QUEUE = QueueState(position=3, agents_available=2, free_slots=0, concurrency=2,
                   handle_time_s=300)
ANGRY = "환불 언제 해주는 거예요?? 2주째 기다리고 있는데 진짜 화가 나네요"
WS = WorkspaceAutomation()


def memory(**fields: object) -> ConversationMemory:
    return ConversationMemory(conversation_id="cnv_1", **fields)  # type: ignore[arg-type]


class TestExpectedWait:
    """Position, agents, concurrency and handle time; Intercom-style rounding."""

    def test_free_slot_means_no_wait(self) -> None:
        assert expected_wait(QueueState(1, 1, 1, 1, 300)) == 0.0

    def test_concurrency_factor_not_nominal_concurrency(self) -> None:
        # 3 ahead of nobody free: 3 x 300 s / (2 agents x 1.7) = 264.7 s
        assert expected_wait(QUEUE) == pytest.approx(264.7, abs=0.1)

    def test_no_agent_available_is_unknown(self) -> None:
        assert expected_wait(QueueState(2, 0, 0, 1, 300)) is None

    @pytest.mark.parametrize(("seconds", "wait"), [
        (30, Wait("moment")), (61, Wait("minutes", 2)), (264.7, Wait("minutes", 5)),
        (11 * 60 + 1, Wait("minutes", 15)), (59 * 60, Wait("hours", 1)),
        (3601, Wait("hours", 2)), (4 * 3600, Wait("later")), (None, Wait("later"))])
    def test_rounded_up_and_capped(self, seconds: float | None, wait: Wait) -> None:
        assert round_wait(seconds) == wait

    def test_words(self) -> None:
        assert describe_wait(Wait("minutes", 5), "ko") == "약 5분 안에"
        assert describe_wait(Wait("minutes", 1), "en") == "in about 1 minute"
        assert describe_wait(Wait("later"), "xx") == "later today"


class TestBusinessHours:
    """Next opening in the pool's time zone, in the customer's language."""

    def test_saturday_opens_monday(self) -> None:
        opening = next_opening(SEOUL_WEEKDAYS, SATURDAY)
        assert opening is not None and opening.isoformat() == "2026-12-07T09:00:00+09:00"
        assert describe_opening(opening, SATURDAY, "ko") == "월요일 09:00"
        assert describe_opening(opening, SATURDAY, "en") == "Monday 09:00"

    def test_evening_opens_tomorrow(self) -> None:
        evening = datetime(2026, 11, 30, 11, 0, tzinfo=UTC)  # Monday 20:00 in Seoul
        opening = next_opening(SEOUL_WEEKDAYS, evening)
        assert describe_opening(opening, evening, "ko") == "내일 09:00"

    def test_never_open(self) -> None:
        assert next_opening(BusinessHours("UTC", {}), SATURDAY) is None


class TestAcknowledgement:
    """Instant acknowledgement with the expected wait, once per conversation per day."""

    def test_korean_acknowledgement_with_wait(self) -> None:
        plan = plan_message(memory(), triage(ANGRY), "telegram", MONDAY_10, WS,
                            SEOUL_WEEKDAYS, QUEUE)
        assert [r.kind for r in plan.replies] == ["acknowledgement"]
        assert "약 5분 안에" in plan.replies[0].text
        assert "주문번호" in plan.replies[0].text  # a refund without an order number

    def test_never_asks_for_an_order_number_already_given(self) -> None:
        found = triage(ANGRY + " 주문번호 20261130-5521")
        plan = plan_message(memory(), found, "telegram", MONDAY_10, WS, SEOUL_WEEKDAYS, QUEUE)
        assert "주문번호" not in plan.replies[0].text

    def test_order_number_given_earlier_in_the_conversation_counts(self) -> None:
        earlier = memory(slots={"order_number": "A-1234"})
        plan = plan_message(earlier, triage("Where is my parcel?"), "sms", MONDAY_10, WS,
                            None, QUEUE)
        assert "order number" not in plan.replies[0].text

    def test_once_per_conversation_per_day(self) -> None:
        first = plan_message(memory(), triage(ANGRY), "sms", MONDAY_10, WS, None, QUEUE)
        again = plan_message(first.memory, triage("???"), "sms", MONDAY_10 + timedelta(hours=2),
                             WS, None, QUEUE)
        next_day = plan_message(first.memory, triage("아직이요?"), "sms",
                                MONDAY_10 + timedelta(days=1), WS, None, QUEUE)
        assert (len(again.replies), len(next_day.replies)) == (0, 1)

    def test_never_after_a_human_took_part(self) -> None:
        plan = plan_message(memory(human_engaged=True), triage(ANGRY), "sms", MONDAY_10, WS,
                            None, QUEUE)
        assert plan.replies == []

    def test_no_reply_to_spam(self) -> None:
        spam = triage("카지노 무료 쿠폰 클릭 http://bit.ly/x http://a.xyz/y")
        assert plan_message(memory(), spam, "sms", MONDAY_10, WS, None, QUEUE).replies == []

    def test_workspace_template_per_channel_and_language(self) -> None:
        config = parse_automation({"workspaces": {"acme": {"templates": {"acknowledgement": {
            "telegram:ko": "텔레그램 접수 완료 ({wait})", "*:ko": "접수 완료"}}}}})
        ws = config.for_workspace("acme")
        plan = plan_message(memory(), triage("배송 조회 부탁해요 주문 A-1234"), "telegram",
                            MONDAY_10, ws, None, QUEUE)
        assert plan.replies[0].text == "텔레그램 접수 완료 (약 5분 안에)"
        assert render("acknowledgement", "ko", "sms", ws.templates, wait="") == "접수 완료"


class TestOutOfOffice:
    """Outside the pool's business hours: one out-of-office reply with the next opening."""

    def test_out_of_office_instead_of_acknowledgement(self) -> None:
        plan = plan_message(memory(), triage(ANGRY), "telegram", SATURDAY, WS, SEOUL_WEEKDAYS,
                            QUEUE)
        assert [r.kind for r in plan.replies] == ["out_of_office"]
        assert "월요일 09:00" in plan.replies[0].text

    def test_only_once(self) -> None:
        first = plan_message(memory(), triage(ANGRY), "sms", SATURDAY, WS, SEOUL_WEEKDAYS, QUEUE)
        second = plan_message(first.memory, triage("여보세요?"), "sms",
                              SATURDAY + timedelta(minutes=5), WS, SEOUL_WEEKDAYS, QUEUE)
        assert second.replies == []


class TestEscalation:
    """'상담원 연결' escalates from any state, once per conversation."""

    def test_escalates_with_raised_priority(self) -> None:
        plan = plan_message(memory(), triage("상담원 연결"), "kakao", MONDAY_10, WS, None, QUEUE)
        assert plan.escalate and plan.memory.priority >= WS.escalation_priority
        assert [r.kind for r in plan.replies] == ["escalated"]

    def test_escalates_even_after_acknowledgement_and_assignment(self) -> None:
        busy = memory(human_engaged=True, auto_replied_on=MONDAY_10.date().isoformat())
        plan = plan_message(busy, triage("I want to talk to a human"), "sms", MONDAY_10, WS,
                            None, QUEUE)
        assert plan.escalate and plan.replies == []

    def test_only_once(self) -> None:
        first = plan_message(memory(), triage("상담원 연결"), "sms", MONDAY_10, WS, None, QUEUE)
        again = plan_message(first.memory, triage("상담원 연결!!"), "sms", MONDAY_10, WS, None,
                             QUEUE)
        assert not again.escalate


class TestSurvey:
    """After resolve, only if a human took part; ratings parsed; expiry; a comment."""

    def test_never_after_a_bot_only_conversation(self) -> None:
        assert plan_survey(memory(), MONDAY_10, "sms", WS)[1] is None

    def test_once_with_buttons_in_the_customer_language(self) -> None:
        after, reply = plan_survey(memory(human_engaged=True, language="ko"), MONDAY_10,
                                   "telegram", WS)
        assert reply is not None and "1(불만족)" in reply.text
        assert reply.choices[4] == ("csat:5", "5 매우 만족")
        assert plan_survey(after, MONDAY_10, "telegram", WS)[1] is None

    def test_rating_then_comment(self) -> None:
        sent, _ = plan_survey(memory(human_engaged=True, language="ko"), MONDAY_10, "sms", WS)
        rated = read_survey_answer(sent, "5", None, MONDAY_10 + timedelta(minutes=1), "sms", WS)
        assert rated is not None and (rated.score, rated.comment) == (5, None)
        comment = read_survey_answer(rated.memory, "상담원분이 친절했어요", None,
                                     MONDAY_10 + timedelta(minutes=3), "sms", WS)
        assert comment is not None and (comment.score, comment.comment) == (5, "상담원분이 친절했어요")
        later = read_survey_answer(comment.memory, "또 문의드려요", None,
                                   MONDAY_10 + timedelta(minutes=4), "sms", WS)
        assert later is None

    def test_a_score_and_a_comment_in_one_message(self) -> None:
        """A user run's visitor answered "5, very quick, thank you!": too long to be a rating,
        it reopened the conversation and the score was lost."""
        sent, _ = plan_survey(memory(human_engaged=True), MONDAY_10, "webchat", WS)
        both = read_survey_answer(sent, "5, very quick, thank you!", None,
                                  MONDAY_10 + timedelta(minutes=1), "webchat", WS)
        assert both is not None and (both.score, both.comment) == (5, "very quick, thank you!")
        assert both.reply is not None and both.reply.kind == "survey_thanks"
        assert read_survey_answer(both.memory, "and thanks again", None,
                                  MONDAY_10 + timedelta(minutes=2), "webchat", WS) is None

    @pytest.mark.parametrize(("text", "score", "comment"), [
        ("5, very quick, thank you!", 5, "very quick, thank you!"),
        ("1 - nobody answered my question", 1, "nobody answered my question"),
        ("4. Could be faster", 4, "Could be faster"), ("4점 빨랐어요", 4, "빨랐어요"),
        ("5/5 great service", 5, "great service"), ("5 stars, thanks", 5, "thanks"),
        ("\uff11, 최악이에요", 1, "최악이에요"), ("3) ok but slow", 3, "ok but slow")])
    def test_split_rating(self, text: str, score: int, comment: str) -> None:
        assert split_rating(text) == (score, comment)

    @pytest.mark.parametrize("text", [
        "2 items are missing from my order", "5,000 won was charged twice", "3.5 stars",
        "5", "5.", "2024-01-01 order", "6, great", "", "where is my refund"])
    def test_no_score_with_a_comment(self, text: str) -> None:
        assert split_rating(text) is None

    def test_expired_survey_is_not_answered(self) -> None:
        sent, _ = plan_survey(memory(human_engaged=True), MONDAY_10, "sms", WS)
        assert read_survey_answer(sent, "5", None, MONDAY_10 + timedelta(days=2), "sms",
                                  WS) is None

    def test_a_question_is_not_a_rating(self) -> None:
        sent, _ = plan_survey(memory(human_engaged=True), MONDAY_10, "sms", WS)
        assert read_survey_answer(sent, "환불은 언제 들어오나요?", None, MONDAY_10, "sms",
                                  WS) is None

    @pytest.mark.parametrize("text", [
        "1. Where is my refund?", "5, thanks! When will it arrive?", "2 - ¿dónde está mi pedido",
        "4점, 배송은 언제 오나요\uff1f"])
    def test_a_score_before_a_question_is_a_message(self, text: str) -> None:
        """A numbered question after a survey was read as a score of 1 and its comment: the
        conversation stayed resolved and nobody answered it."""
        sent, _ = plan_survey(memory(human_engaged=True), MONDAY_10, "sms", WS)
        assert read_survey_answer(sent, text, None, MONDAY_10, "sms", WS) is None

    def test_a_question_after_the_rating_is_no_comment(self) -> None:
        sent, _ = plan_survey(memory(human_engaged=True), MONDAY_10, "sms", WS)
        rated = read_survey_answer(sent, "5", None, MONDAY_10, "sms", WS)
        assert rated is not None
        assert read_survey_answer(rated.memory, "Thanks! And when will my parcel arrive?", None,
                                  MONDAY_10 + timedelta(minutes=1), "sms", WS) is None
        with_payload = read_survey_answer(sent, "Satisfied?", "csat:4", MONDAY_10, "sms", WS)
        assert with_payload is not None and with_payload.score == 4  # the button decides

    @pytest.mark.parametrize(("text", "needs_help"), [
        ("Parcel still not here. Order ORD-5555", True),  # user run 57: it was the comment
        ("I still have not received my refund", True), ("환불이 아직 안 됐어요", True),
        ("Also I need to change my delivery address", True),
        ("Cancel my subscription please", True), ("Let me talk to a person", True),
        ("The delivery was quick, thanks!", False), ("nobody helped me, terrible", False),
        ("Ada was great", False), ("상담원분이 친절했어요", False)])
    def test_a_request_after_the_rating_is_no_comment(self, text: str, needs_help: bool) -> None:
        """A message naming something to be done (a topic said without praise, an order
        number, a person asked for) opens the conversation again; feedback stays the
        comment."""
        sent, _ = plan_survey(memory(human_engaged=True), MONDAY_10, "sms", WS)
        rated = read_survey_answer(sent, "5", None, MONDAY_10, "sms", WS)
        assert rated is not None
        found = triage(text, WS.triage)
        assert asks_for_help(found) is needs_help
        comment = read_survey_answer(rated.memory, text, None, MONDAY_10 + timedelta(minutes=1),
                                     "sms", WS, lambda: asks_for_help(found))
        assert (comment is None) is needs_help
        assert comment is None or comment.comment == text

    @pytest.mark.parametrize(("text", "score"), [
        ("5", 5), (" 4점", 4), ("3/5", 3), ("★★★★", 4), ("😡", 1), ("👍", 5),
        ("매우 만족", 5), ("만족해요", 4), ("보통", 3), ("별로였어요", 2), ("최악", 1),
        ("Great!", 5), ("good", 4), ("ok", 3), ("bad", 2), ("terrible", 1)])
    def test_parse_rating(self, text: str, score: int) -> None:
        assert parse_rating(text) == score

    @pytest.mark.parametrize(("text", "score"), [
        ("\uff15", 5), ("４点です。", 4), ("3点", 3), ("２分", 2), ("5 de 5", 5),
        ("大変満足", 5), ("満足です", 4), ("普通", 3), ("やや不満", 2), ("最悪", 1),
        ("非常满意", 5), ("满意", 4), ("一般", 3), ("不满意", 2), ("非常不满意", 1),
        ("¡Excelente!", 5), ("buena", 4), ("aceptable", 3), ("regular", 2), ("muy mala", 1)])
    def test_the_survey_languages_answers(self, text: str, score: int) -> None:
        """The ja, zh and es surveys ask for a number: Japanese and Chinese keyboards type
        it full-width (U+FF15 for 5), which was an ordinary message that reopened the conversation
        and lost the rating; their words and units ("点", "分") count too."""
        assert parse_rating(text) == score

    @pytest.mark.parametrize("text", ["6", "12345", "where is my refund", "", "?", "\uff15\uff10",
                                      "no está bien", "¿dónde está mi pedido?"])
    def test_not_a_rating(self, text: str) -> None:
        assert parse_rating(text) is None

    def test_button_payload(self) -> None:
        assert parse_rating(None, "csat:2") == 2
        assert [p for p, _ in rating_choices("en")] == [f"csat:{i}" for i in range(1, 6)]


class TestQueueView:
    """Queue state from waiting work, presence, assignments and handle times."""

    def test_position_agents_and_handle_time(self) -> None:
        view = QueueView()
        view.presence("alice", "support", True, 2)
        for i, since in enumerate((10.0, 20.0, 30.0)):
            view.wait("support", f"c{i}", since)
        view.assigned("c0", "alice", "support", 40.0)
        view.assigned("c1", "alice", "support", 41.0)
        state = view.state("support", "c2", 300.0)
        assert (state.position, state.agents_available, state.free_slots) == (1, 1, 0)
        for i in range(5):
            view.wait("support", f"h{i}", 50.0 + i)
            view.assigned(f"h{i}", "bob", "support", 100.0)
            view.resolved(f"h{i}", 100.0 + 60 * (i + 1))
        assert view.state("support", "c2", 300.0).handle_time_s == 180.0

    @staticmethod
    def _figures(at: float, waiting: int, available: int, free: int, concurrency: int = 2
                 ) -> dict[str, object]:
        """A router's published statistics of a pool (``pool_stats`` + ``published_at``)."""
        return {"pool": "support", "waiting": waiting, "published_at": at, "agents": {},
                "staffing": {"available": available, "free_slots": free,
                             "concurrency": concurrency}}

    def test_a_restarted_worker_counts_the_routers_agents(self) -> None:
        """A worker's own view starts empty: without the routers' figures it knew no agent
        and told a customer "later today" while an agent had a free slot (user run 14)."""
        from omniroute.automation.wait import expected_wait, round_wait

        view = QueueView()
        view.wait("support", "new", 1000.0)
        alone = view.state("support", "new", 180.0, entering=True, now=1000.0)
        assert alone.agents_available == 0 and round_wait(expected_wait(alone)).unit == "later"
        view.router_stats("support", self._figures(999.0, waiting=0, available=2, free=1))
        seen = view.state("support", "new", 180.0, entering=True, now=1000.0)
        assert (seen.position, seen.agents_available, seen.free_slots, seen.concurrency) \
            == (1, 2, 1, 2)
        assert round_wait(expected_wait(seen)).unit == "moment"

    def test_an_agent_on_duty_since_the_figures_counts_at_once(self) -> None:
        """Figures lag a presence change by up to 2 s: a customer who wrote a second after
        the first agent went available was told "later today" (user run 25)."""
        from omniroute.automation.wait import expected_wait, round_wait

        view = QueueView()
        view.router_stats("support", self._figures(1000.0, waiting=0, available=0, free=0))
        view.presence("ada", "support", True, 3, at=1000.5)
        view.wait("support", "new", 1001.0)
        state = view.state("support", "new", 180.0, entering=True, now=1001.0)
        assert (state.agents_available, state.free_slots, state.concurrency) == (1, 3, 3)
        assert round_wait(expected_wait(state)).unit == "moment"
        # the next figures count her (or not: the router may have lost her) and stand
        view.router_stats("support", self._figures(1002.0, waiting=0, available=0, free=0))
        later = view.state("support", "new", 180.0, entering=True, now=1002.5)
        assert (later.agents_available, later.free_slots) == (0, 0)

    def test_a_change_the_figures_already_count_leaves_them_alone(self) -> None:
        view = QueueView()
        view.presence("ada", "support", True, 3, at=999.0)
        view.presence("jun", "support", True, 2, at=999.5)
        view.router_stats("support", self._figures(1000.0, waiting=4, available=1, free=0))
        state = view.state("support", "c", 180.0, entering=True, now=1001.0)
        assert (state.position, state.agents_available, state.free_slots) == (5, 1, 0)
        view.presence("jun", "support", False, None, at=1000.5)  # away: fewer, figures stand
        state = view.state("support", "c", 180.0, entering=True, now=1001.0)
        assert (state.agents_available, state.free_slots) == (1, 0)
        # one more on duty while the figures count one: they know ada's load, this view
        # does not (3 free slots by its count), so the figures stand until the next
        view.presence("jun", "support", True, 2, at=1000.7)
        state = view.state("support", "c", 180.0, entering=True, now=1001.0)
        assert (state.agents_available, state.free_slots) == (1, 0)

    def test_an_agent_on_duty_since_the_router_observed_counts(self) -> None:
        """Figures are observed (``observed_at``) up to 2 s before they are published: ada went
        available between the two, and a customer writing then was told "later today"
        (user run 48)."""
        from omniroute.automation.wait import expected_wait, round_wait

        view = QueueView()
        view.router_stats("support", {**self._figures(1002.0, waiting=0, available=0, free=0),
                                      "observed_at": 1000.0})
        view.presence("ada", "support", True, 3, at=1001.0)
        view.wait("support", "new", 1002.5)
        state = view.state("support", "new", 180.0, entering=True, now=1002.5)
        assert (state.agents_available, state.free_slots) == (1, 3)
        assert round_wait(expected_wait(state)).unit == "moment"

    def test_an_offered_conversation_is_not_ahead_in_the_queue(self) -> None:
        """The router's free slots already leave out a conversation offered to an agent;
        this view holds it as waiting (no offer reaches it). Counted twice, a customer
        writing while ada (3 chats) had offers pending was told "in about 2 minutes" with
        a slot free (user run 48)."""
        from omniroute.automation.wait import expected_wait, round_wait

        view = QueueView()
        view.wait("support", "offered", 1000.0, entered=1000.0)
        view.router_stats("support", {**self._figures(1002.0, waiting=0, available=1, free=1),
                                      "observed_at": 1001.0})
        view.wait("support", "new", 1003.0, entered=1003.0)
        state = view.state("support", "new", 180.0, entering=True, now=1003.0)
        assert (state.position, state.free_slots) == (1, 1)
        assert round_wait(expected_wait(state)).unit == "moment"

    def test_conversations_sent_since_the_figures_are_ahead(self) -> None:
        """A burst the router has not counted yet: each newcomer is behind the others this
        worker sent it since the figures were observed."""
        view = QueueView()
        view.router_stats("support", {**self._figures(1002.0, waiting=2, available=1, free=0),
                                      "observed_at": 1001.0})
        view.wait("support", "c0", 1000.5, entered=1000.5)  # one of the figures' two
        positions = []
        for i, at in enumerate((1001.5, 1002.0, 1003.0), start=1):
            view.wait("support", f"c{i}", at, entered=at)
            positions.append(view.state("support", f"c{i}", 180.0, entering=True,
                                        now=at).position)
        assert positions == [3, 4, 5]
        # already waiting (a later message): its place among those this worker saw
        assert view.state("support", "c1", 180.0, now=1003.0).position == 2

    def test_entering_queues_behind_the_routers_whole_queue(self) -> None:
        view = QueueView()
        view.wait("support", "mine", 1000.0)
        view.router_stats("support", self._figures(999.0, waiting=6, available=2, free=0))
        assert view.state("support", "mine", 180.0, entering=True, now=1000.0).position == 7
        # already waiting (a later message): the router's count includes those behind it
        assert view.state("support", "mine", 180.0, now=1000.0).position == 1

    def test_stale_or_older_figures_fall_back_to_the_own_view(self) -> None:
        view = QueueView()
        view.presence("ada", "support", True, 3)
        view.router_stats("support", self._figures(900.0, waiting=9, available=5, free=5))
        stale = view.state("support", "c", 180.0, entering=True, now=900.0 + 16)
        assert (stale.position, stale.agents_available, stale.free_slots) == (1, 1, 3)
        view.router_stats("billing", {"waiting": 1, "published_at": 916.0})  # no staffing
        assert "billing" not in view.router

    def test_no_pool_is_an_unknown_wait(self) -> None:
        """No pool takes the conversation (the router parks it): no pool's figures or
        agents count for it, although both pools have free slots and agents on duty."""
        view = QueueView()
        view.presence("ada", "support", True, 3)
        view.router_stats("support", self._figures(10.0, waiting=2, available=3, free=1,
                                                   concurrency=3))
        view.router_stats("billing", self._figures(10.0, waiting=1, available=1, free=1,
                                                   concurrency=1))
        for entering in (True, False):
            state = view.state(None, "c", 180.0, entering=entering, now=11.0)
            assert (state.position, state.agents_available, state.free_slots) == (1, 0, 0)
            assert describe_wait(round_wait(expected_wait(state)), "en") == "later today"
        view.wait("support", "c", 5.0)
        view.stop_waiting("c")  # re-routed, and parked: it leaves support's queue
        assert view.state("support", "d", 180.0, now=11.0).position == 1


class TestConfig:
    """The automation file."""

    def test_bad_value_names_the_file(self) -> None:
        with pytest.raises(ConfigurationError, match=r"auto\.toml"):
            parse_automation({"defaults": {"survey_expiry_hours": "soon"}}, "auto.toml")

    def test_workspace_overrides_defaults(self) -> None:
        config = parse_automation({"defaults": {"survey": False},
                                   "workspaces": {"acme": {"skills": {"refund": "money"}}}})
        assert not config.for_workspace("other").survey
        assert not config.for_workspace("acme").survey
        assert triage(ANGRY, config.for_workspace("acme").triage).skills == {"money": 1}

    def test_memory_keeps_latest_conversations(self) -> None:
        customer = CustomerMemory(customer_id="c")
        for i in range(8):
            customer = customer.with_conversation(ConversationMemory(conversation_id=f"cnv_{i}"))
        assert list(customer.conversations) == [f"cnv_{i}" for i in range(3, 8)]
