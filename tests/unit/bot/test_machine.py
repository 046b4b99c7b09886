"""The answer bot's state machine: answer, resolve, hand off, and never hold a customer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from omniroute.bot.machine import (
    BotSession,
    Found,
    Phase,
    on_expire,
    on_message,
    on_request,
    on_resolved,
    wants_search,
)
from omniroute.bot.policy import BotPolicy, Hours, parse_bot
from omniroute.contract import (
    Address,
    Channel,
    ConversationEvent,
    ConversationEventKind,
    InboundMessage,
)
from omniroute.contract.inbound import ThreadHints
from omniroute.routing.requests import RoutingRequest, RoutingRequestKind

AT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)  # a Tuesday
POLICY = BotPolicy(enabled=True, threshold=0.4, feedback_window_s=60, max_misses=2)
REFUND = Found("refund-policy", "en", "How refunds work", "refunds", 0.9,
               "Refunds within **14 days**.")
Kind = ConversationEventKind


def route(kind: RoutingRequestKind = RoutingRequestKind.ROUTE,
          channel: Channel = Channel.WHATSAPP, at: datetime = AT) -> RoutingRequest:
    return RoutingRequest(event_id=f"r-{kind.value}-{at.timestamp()}", occurred_at=at, kind=kind,
                          conversation_id="c1", customer_id="u1", channel=channel,
                          waiting_since=AT)


def message(text: str, n: int = 1, at: datetime = AT) -> InboundMessage:
    return InboundMessage(event_id=f"m{n}", occurred_at=at, channel=Channel.WHATSAPP,
                          provider="whatsapp", channel_account="phone-1",
                          sender=Address(value="+821012345678"),
                          recipient=Address(value="phone-1"), provider_message_id=f"wamid{n}",
                          text=text)


def held() -> BotSession:
    step = on_request(None, route(), POLICY, AT)
    assert step.session is not None and step.requests == []
    return step.session


def kinds(events: list[ConversationEvent]) -> list[Kind]:
    return [e.kind for e in events]


class TestTakingConversations:
    def test_the_bot_holds_a_new_conversation_back_from_the_router(self) -> None:
        """A ROUTE request on an enabled channel is held: no agent is offered it."""
        assert held().phase is Phase.LISTENING

    def test_other_channels_pools_and_hours_go_straight_to_the_router(self) -> None:
        """Switched off per channel, pool or business hours, requests pass through."""
        only_webchat = BotPolicy(enabled=True, channels=frozenset({"webchat"}))
        assert on_request(None, route(), only_webchat, AT).requests == [route()]
        other_pool = BotPolicy(enabled=True, pools=frozenset({"sales"}))
        assert on_request(None, route(), other_pool, AT).requests == [route()]
        raw = {"pools": {"support": {"business_hours": {"tue": ["08:00-18:00"]}}},
               "routing": {"default_pool": "support"}, "bot": {"hours": "closed"}}
        after_hours_only = parse_bot(raw)
        assert after_hours_only.hours is Hours.CLOSED
        assert on_request(None, route(), after_hours_only, AT).requests == [route()]
        night = AT + timedelta(hours=12)
        assert on_request(None, route(at=night), after_hours_only, night).requests == []

    def test_a_handed_off_conversation_stays_with_people(self) -> None:
        """Routed again (parked, then the customer wrote), it goes to the router, not the bot."""
        gone = on_message(held(), message("agent please"), None, POLICY).session
        assert gone is not None and gone.phase is Phase.HANDED_OFF
        again = route(at=AT + timedelta(minutes=5))
        step = on_request(gone, again, POLICY, again.occurred_at)
        assert step.requests == [again] and step.session == gone

    def test_updates_while_held_stay_held_and_keep_the_wait(self) -> None:
        """A channel change while the bot holds the conversation is not sent to the router."""
        step = on_request(held(), route(RoutingRequestKind.UPDATE, Channel.WEBCHAT), POLICY, AT)
        assert step.requests == [] and step.session is not None and step.session.held
        assert step.session.held.channel is Channel.WEBCHAT
        assert step.session.held.waiting_since == AT


class TestAnswering:
    def test_a_good_hit_is_answered_and_yes_resolves_by_bot(self) -> None:
        """Answer with the article, ask; "yes" is bot_resolved and resolved, no agent."""
        answered = on_message(held(), message("how do refunds work"), REFUND, POLICY)
        assert kinds(answered.events) == [Kind.BOT_ANSWERED]
        assert answered.events[0].article_id == "refund-policy"
        text = answered.outbound[0].text or ""
        assert "14 days" in text and "yes or no" in text
        assert answered.outbound[0].recipient.value == "+821012345678"
        assert answered.session is not None and answered.session.phase is Phase.ASKED
        done = on_message(answered.session, message("yes, thanks!", 2), None, POLICY)
        assert kinds(done.events) == [Kind.BOT_RESOLVED, Kind.RESOLVED]
        assert done.requests == [] and done.session and done.session.phase is Phase.RESOLVED

    def test_thanks_alone_closes_without_a_word(self) -> None:
        """A user run: "yes, thanks!" after the bot had resolved the conversation reopened
        it, and the bot asked the customer to rephrase. Thanks alone is resolved quietly;
        thanks with a question in it is still searched and answered."""
        for text in ("yes, thanks!", "Thank you so much 🙏", "ok 감사합니다", "네 감사해요~"):
            step = on_message(held(), message(text), None, POLICY)
            assert kinds(step.events) == [Kind.BOT_RESOLVED, Kind.RESOLVED], text
            assert step.events[0].reason == "the customer only said thanks"
            assert step.outbound == [] and step.requests == [], text
        asking = message("thanks, but how do refunds work?")
        assert wants_search(held(), asking)
        answered = on_message(held(), asking, REFUND, POLICY)
        assert kinds(answered.events) == [Kind.BOT_ANSWERED]
        missed = on_message(held(), message("thanks, but where is order 5521?"), None, POLICY)
        assert missed.events == [] and "other words" in (missed.outbound[0].text or "")

    def test_an_email_is_answered_in_its_thread(self) -> None:
        """The bot's answer to a mail carries its subject and Message-ID (email-delivery's
        Subject and In-Reply-To); a WhatsApp answer carries no thread."""
        mail = message("how do refunds work").model_copy(update={
            "channel": Channel.EMAIL, "provider": "smtp", "channel_account": "help@acme.test",
            "sender": Address(value="jo@example.com"),
            "thread": ThreadHints(message_id="m1@example.com", references=["m0@example.com"],
                                  reply_token="old-conversation", subject="Refund?")})
        (answer,) = on_message(held(), mail, REFUND, POLICY).outbound
        assert answer.thread == ThreadHints(message_id="m1@example.com",
                                            references=["m0@example.com"], subject="Refund?")
        (chat,) = on_message(held(), message("how do refunds work"), REFUND, POLICY).outbound
        assert chat.thread is None

    def test_no_reply_within_the_window_resolves(self) -> None:
        """Silence after "did this help?" counts as helped (bot_resolved)."""
        asked = on_message(held(), message("refund"), REFUND, POLICY).session
        assert asked is not None and asked.deadline == AT + timedelta(seconds=60)
        assert on_expire(asked, AT, AT).events == []  # another deadline: stale
        done = on_expire(asked, asked.deadline, asked.deadline)
        assert kinds(done.events) == [Kind.BOT_RESOLVED, Kind.RESOLVED]
        # it says it closes, not "Glad that helped!", which nobody said (user run 43)
        (closing,) = done.outbound
        assert (closing.text or "").startswith("I'll close this conversation for now.")
        said_yes = on_message(asked, message("yes"), None, POLICY).outbound
        assert [m.text for m in said_yes] == ["Glad that helped! Write again any time."]

    def test_an_ambiguous_question_is_a_miss(self) -> None:
        """Two articles scoring alike (택배 alone): ask to rephrase rather than guess."""
        tie = Found("delivery-fees", "ko", "배송비", "delivery", 0.76, "...", runner_up=0.76,
                    runner_up_title="배송 조회")
        step = on_message(held(), message("택배가 안 왔어요"), tie, POLICY)
        assert step.events == [] and step.session and step.session.phase is Phase.LISTENING
        assert "“배송비”, “배송 조회”" in (step.outbound[0].text or "")  # both named: pick one
        weak = Found("delivery-fees", "ko", "배송비", "delivery", 0.35, "...", runner_up=0.3,
                     runner_up_title="배송 조회")  # both below the threshold: not named
        assert "배송비" not in (on_message(held(), message("택배"), weak, POLICY).outbound[0].text
                              or "")
        clear = Found("delivery-fees", "ko", "배송비", "delivery", 0.76, "...", runner_up=0.5)
        assert kinds(on_message(held(), message("배송비"), clear, POLICY).events) == [
            Kind.BOT_ANSWERED]

    def test_what_the_words_found_is_named_beside_the_intents_guess(self) -> None:
        """User run 58: the customer's words found "My item arrived damaged" below the
        threshold; the intent's article is named beside it, and neither is answered with,
        whatever the guess scored."""
        guessed = Found("damaged-item", "en", "My item arrived damaged", "delivery", 0.22,
                        "...", runner_up=0.9, runner_up_title="How long does delivery take?",
                        guessed=True)
        step = on_message(held(), message("the blender box is also damaged"), guessed, POLICY)
        assert step.events == [] and step.session and step.session.phase is Phase.LISTENING
        assert "“My item arrived damaged”" in (step.outbound[0].text or "")
        assert "“How long does delivery take?”" in (step.outbound[0].text or "")

    def test_korean_customers_are_answered_in_korean(self) -> None:
        """The bot speaks the customer's language."""
        hit = Found("refund-policy", "ko", "환불 규정 안내", "refunds", 0.8, "14일 이내 환불")
        step = on_message(held(), message("환불받고 싶어요"), hit, POLICY)
        assert "해결되셨나요" in (step.outbound[0].text or "")


class TestHandingOff:
    def test_no_hands_off_with_the_held_request_intent_and_slots(self) -> None:
        """ "No" releases the held request (age kept) with intent, language and slots."""
        asked = on_message(held(), message("refund for order A-123456 please"), REFUND,
                           POLICY).session
        step = on_message(asked, message("no, that did not help", 2), None, POLICY)
        assert kinds(step.events) == [Kind.HANDED_OFF, Kind.NOTE_ADDED]
        handoff = step.events[0]
        assert handoff.triage == {"language": "en", "intent": "refunds",
                                  "slot.order_number": "A-123456"}
        assert "A-123456" in (step.events[1].note or "")
        (request,) = step.requests
        assert request.kind is RoutingRequestKind.ROUTE and request.intent == "refunds"
        assert request.waiting_since == AT and request.reason
        assert step.session is not None and step.session.phase is Phase.HANDED_OFF

    def test_the_handoff_finds_a_package_number_as_automation_does(self) -> None:
        """The bot's slots are automation's: a user run's bot handoff said "Slots: none
        found" for "my parcel is 2 weeks late, package 7781" (the bot wanted "order")."""
        asked = on_message(held(), message("my parcel is 2 weeks late, package 7781"), REFUND,
                           POLICY).session
        step = on_message(asked, message("no, that did not help", 2), None, POLICY)
        assert step.events[0].triage["slot.order_number"] == "7781"

    def test_the_same_question_again_goes_to_a_person(self) -> None:
        """User run 60: a customer asked "where is my order ORD-4011?", got the order-status
        article, and asked again about another order; the same article came back, and the
        bot said it could not find an article about that. Asking again is a "no"."""
        asked = on_message(held(), message("how do refunds work"), REFUND, POLICY).session
        step = on_message(asked, message("how do refunds work for ORD-4022?", 2), REFUND,
                          POLICY)
        assert kinds(step.events)[0] is Kind.HANDED_OFF and step.requests
        assert step.events[0].reason == "the customer asked again after the article"
        assert "person" in (step.outbound[0].text or "")
        assert "could not find" not in " ".join(o.text or "" for o in step.outbound)

    def test_a_weak_clear_hit_is_offered_and_yes_answers_with_it(self) -> None:
        """User run 61: "My blender lid is broken, please send a replacement" found the
        damaged-item article at 0.29 (next 0.07) and the bot said it found nothing. It now
        offers the article; "yes" answers with it (the shell finds it again by its id)."""
        damaged = Found("damaged-item", "en", "My item arrived damaged", "delivery", 0.29,
                        "Send us a photo.", runner_up=0.07, runner_up_title="Returning an item")
        offered = on_message(held(), message("My blender lid is broken"), damaged, POLICY)
        assert "“My item arrived damaged”" in (offered.outbound[0].text or "")
        assert "Reply yes to read it" in (offered.outbound[0].text or "")
        session = offered.session
        assert session is not None and session.suggested == ("damaged-item", "en")
        assert wants_search(session, message("yes please", 2))
        assert wants_search(session, message("yes thanks", 2))  # not a sign-off here
        sure = Found("damaged-item", "en", "My item arrived damaged", "delivery", 1.0,
                     "Send us a photo.")
        step = on_message(session, message("yes please", 2), sure, POLICY)
        assert kinds(step.events) == [Kind.BOT_ANSWERED] and step.session is not None
        assert step.session.phase is Phase.ASKED and step.session.suggested is None
        close = Found("damaged-item", "en", "My item arrived damaged", "delivery", 0.29,
                      "...", runner_up=0.2, runner_up_title="Returning an item")
        rephrase = on_message(held(), message("lid"), close, POLICY)  # not clearly ahead
        assert "other words" in (rephrase.outbound[0].text or "")
        assert rephrase.session is not None and rephrase.session.suggested is None

    def test_a_person_is_reachable_from_every_state(self) -> None:
        """ "Talk to a human" hands off at once, before or after an answer."""
        first = on_message(held(), message("I want to talk to a human"), REFUND, POLICY)
        assert kinds(first.events)[0] is Kind.HANDED_OFF and first.requests
        asked = on_message(held(), message("refund"), REFUND, POLICY).session
        later = on_message(asked, message("상담원 연결해 주세요", 2), None, POLICY)
        assert kinds(later.events)[0] is Kind.HANDED_OFF and later.requests

    def test_an_escalation_by_triage_releases_the_conversation(self) -> None:
        """A request triage marked "customer asked for a human" is never held."""
        escalation = route().model_copy(update={"reason": "customer asked for a human"})
        assert on_request(None, escalation, POLICY, AT).requests == [escalation]
        update = route(RoutingRequestKind.UPDATE).model_copy(
            update={"reason": "customer asked for a human", "priority": 80})
        step = on_request(held(), update, POLICY, AT)
        assert kinds(step.events)[0] is Kind.HANDED_OFF
        assert step.requests[0].priority == 80 and step.requests[0].waiting_since == AT

    def test_the_second_miss_hands_off(self) -> None:
        """Nothing found: ask to rephrase once, then a person takes over."""
        first = on_message(held(), message("vegan recipes"), None, POLICY)
        assert first.requests == [] and "other words" in (first.outbound[0].text or "")
        second = on_message(first.session, message("dinner ideas", 2), None, POLICY)
        assert kinds(second.events)[0] is Kind.HANDED_OFF and second.requests
        assert second.events[0].triage["intent"] == "unknown"

    def test_a_weak_hit_is_a_miss_and_silence_after_a_miss_hands_off(self) -> None:
        """Below the threshold the bot does not answer; no reply then goes to a person."""
        weak = Found("refund-policy", "en", "How refunds work", "refunds", 0.2, "...")
        missed = on_message(held(), message("hmm"), weak, POLICY).session
        assert missed is not None and missed.phase is Phase.LISTENING and missed.deadline
        step = on_expire(missed, missed.deadline, missed.deadline)
        assert kinds(step.events)[0] is Kind.HANDED_OFF and step.requests

    def test_every_path_ends_with_a_person_or_a_resolution_within_bounds(self) -> None:
        """Whatever the customer says, within max_misses + 1 messages the bot lets go."""
        for script in (["?", "??", "???"], ["refund", "refund", "refund"],
                       ["refund", "something else", "more"]):
            session: BotSession | None = held()
            for n, text in enumerate(script):
                found = REFUND if text == "refund" else None
                step = on_message(session, message(text, n), found, POLICY)
                session = step.session
            assert session is not None and not session.phase.holding, script


class TestAfterwards:
    def test_an_agents_resolution_after_handoff_is_human_resolved(self) -> None:
        """The funnel's last step: a handed-off conversation resolved by an agent."""
        gone = on_message(held(), message("agent please"), None, POLICY).session
        resolved = ConversationEvent(event_id="res1", occurred_at=AT, conversation_id="c1",
                                     customer_id="u1", kind=Kind.RESOLVED, agent_id="ada")
        step = on_resolved(gone, resolved)
        assert kinds(step.events) == [Kind.HUMAN_RESOLVED] and step.events[0].agent_id == "ada"
        assert step.session is None

    def test_the_bots_own_resolution_is_not_human(self) -> None:
        """The bot's resolved event coming back is ignored."""
        asked = on_message(held(), message("refund"), REFUND, POLICY).session
        done = on_message(asked, message("yes", 2), None, POLICY)
        own = done.events[1]
        after = on_resolved(done.session, own)
        assert after.events == [] and after.session is None
        again = on_request(None, route(RoutingRequestKind.ROUTE), POLICY, AT)
        assert again.session is not None
        assert on_resolved(again.session, own).session == again.session

    def test_search_only_for_questions_in_held_conversations(self) -> None:
        """Yes/no/person replies and conversations the bot does not hold need no search."""
        assert wants_search(held(), message("where is my parcel"))
        assert not wants_search(held(), message("yes"))
        assert not wants_search(None, message("where is my parcel"))


class TestSwitchedOffLive:
    """An admin switches the bot off (``PUT /api/v1/admin/bot``) while it holds conversations."""

    OFF = BotPolicy(enabled=False, threshold=0.4, feedback_window_s=60, max_misses=2)

    def test_new_conversations_go_straight_to_the_router(self) -> None:
        step = on_request(None, route(), self.OFF, AT)
        assert step.requests and step.session is not None
        assert step.session.phase is Phase.PASSTHROUGH

    def test_a_held_conversation_goes_to_a_person_at_the_customers_next_message(self) -> None:
        step = on_message(held(), message("how do refunds work"), REFUND, self.OFF)
        assert all("14 days" not in (m.text or "") for m in step.outbound), "no article"
        assert kinds(step.events) == [Kind.HANDED_OFF, Kind.NOTE_ADDED]
        assert step.events[0].reason == "the answer bot was switched off"
        assert [r.kind for r in step.requests] == [RoutingRequestKind.ROUTE]

    def test_a_wait_ended_early_by_the_sweep_hands_off_instead_of_resolving(self) -> None:
        asked = on_message(held(), message("refund"), REFUND, POLICY).session
        assert asked is not None and asked.phase is Phase.ASKED
        step = on_expire(asked, asked.deadline, AT, enabled=False)  # type: ignore[arg-type]
        assert kinds(step.events) == [Kind.HANDED_OFF, Kind.NOTE_ADDED], \
            "not bot_resolved: nobody said yes"
        assert [r.kind for r in step.requests] == [RoutingRequestKind.ROUTE]
