"""Decisions about automatic replies (pure): acknowledgement, out of office, escalation, survey.

Rules (support-metrics.md section 4):

- an acknowledgement with the expected wait, or out of business hours an
  out-of-office reply with the next opening time, goes out at most once per
  conversation per UTC day, never once a human agent has been assigned, never
  to spam;
- the acknowledgement asks for an order number only when the intent is about
  an order and the customer has not given one in this conversation;
- "talk to a human" escalates (once per conversation) from any state;
- the survey follows a resolve only when a human took part, once, in the
  customer's language; a reply is a rating only before the survey expires; a
  later free-text reply within the comment window becomes the comment.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from omniroute.automation.config import WorkspaceAutomation
from omniroute.automation.hours import describe_opening, is_open, next_opening
from omniroute.automation.memory import ConversationMemory
from omniroute.automation.survey import asks, parse_rating, rating_choices, split_rating
from omniroute.automation.templates import render
from omniroute.automation.wait import QueueState, describe_wait, expected_wait, round_wait
from omniroute.routing.policy import BusinessHours
from omniroute.triage import Triage
from omniroute.triage.intents import NO_INTENT

ORDER_INTENTS = frozenset({"order_status", "delivery", "refund", "cancellation"})


@dataclass(frozen=True)
class Reply:
    """An automatic message to send: which kind, its text, its buttons."""

    kind: str
    text: str
    choices: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class MessagePlan:
    """What automation does about one inbound message."""

    memory: ConversationMemory
    replies: list[Reply]
    escalate: bool


def plan_message(memory: ConversationMemory, found: Triage, channel: str, at: datetime,
                 config: WorkspaceAutomation, hours: BusinessHours | None,
                 queue: QueueState | Callable[[], QueueState]) -> MessagePlan:
    """Remember what the message told us; decide the replies and whether to escalate.

    ``queue`` may be a function giving the queue state: it is called only for an
    acknowledgement (at most one per conversation and day), as it scans the pool's
    waiting conversations.
    """
    language = found.language if found.language_detected or memory.language is None \
        else memory.language
    keep_intent = found.intent == NO_INTENT and memory.intent is not None
    memory = memory.model_copy(update={
        "language": language, "slots": {**memory.slots, **found.slots},
        "priority": max(memory.priority, found.priority),
        "intent": memory.intent if keep_intent else found.intent,
        "sentiment": found.sentiment if found.sentiment is not None else memory.sentiment,
        "skills": {**memory.skills, **found.skills}})
    if found.spam:
        return MessagePlan(memory, [], False)
    replies: list[Reply] = []
    escalate = found.human_requested and config.escalation and not memory.escalated
    today = at.date().isoformat()
    open_now = is_open(hours, at)
    if escalate:
        memory = memory.model_copy(update={
            "escalated": True, "priority": max(memory.priority, config.escalation_priority)})
        if open_now and not memory.human_engaged:
            replies.append(Reply("escalated", render("escalated", language, channel,
                                                     config.templates)))
    if memory.human_engaged or memory.auto_replied_on == today:
        return MessagePlan(memory, replies, escalate)
    if not open_now and hours is not None and config.out_of_office:
        opening = describe_opening(next_opening(hours, at), at, language)
        replies.append(Reply("out_of_office", render("out_of_office", language, channel,
                                                     config.templates, opening=opening)))
    elif open_now and config.acknowledgement and not replies:
        if callable(queue):
            queue = queue()
        wait = describe_wait(round_wait(expected_wait(queue)), language)
        text = render("acknowledgement", language, channel, config.templates, wait=wait,
                      position=queue.position)
        if found.intent in ORDER_INTENTS and "order_number" not in memory.slots:
            text += " " + render("ask_order_number", language, channel, config.templates)
        replies.append(Reply("acknowledgement", text))
    if replies:
        memory = memory.model_copy(update={"auto_replied_on": today})
    return MessagePlan(memory, replies, escalate)


def plan_survey(memory: ConversationMemory, at: datetime, channel: str,
                config: WorkspaceAutomation) -> tuple[ConversationMemory, Reply | None]:
    """The survey after a resolve: only after a human took part, only once."""
    if not config.survey or not memory.human_engaged or memory.survey_sent_at is not None:
        return memory, None
    language = memory.language or config.triage.default_language
    reply = Reply("survey", render("survey", language, channel, config.templates),
                  rating_choices(language))
    return memory.model_copy(update={
        "survey_sent_at": at, "survey_expires_at": at + config.survey_expiry}), reply


@dataclass(frozen=True)
class SurveyAnswer:
    """A customer's answer to a survey: a score (first reply) or a comment (afterwards)."""

    memory: ConversationMemory
    score: int
    comment: str | None
    reply: Reply | None


def asks_for_help(found: Triage) -> bool:
    """Whether a message names something the customer needs done: an order number, a person
    asked for, or a topic (refund, delivery, account, ...) said without praise. After a
    rating such a message is a new request, not the rating's comment: "Parcel still not
    here. Order ORD-5555" (user run 57) was filed as a comment, and no agent read it.
    Praise ("The delivery was quick, thanks!", "상담원분이 친절했어요": the agent was kind,
    which names an agent) and complaints about the service ("nobody helped me, terrible")
    stay comments."""
    topical = found.intent not in (NO_INTENT, "complaint") or found.human_requested
    return bool(found.slots) or (topical and found.sentiment_label != "positive")


def read_survey_answer(memory: ConversationMemory, text: str | None, payload: str | None,
                       at: datetime, channel: str, config: WorkspaceAutomation,
                       request: Callable[[], bool] = lambda: False) -> SurveyAnswer | None:
    """The rating or comment in a reply to a pending survey; None: an ordinary message.

    ``request`` says whether the text asks for something (:func:`asks_for_help` of its
    triage): then it is never a comment."""
    if memory.survey_sent_at is None or memory.survey_expires_at is None:
        return None
    if not payload and asks(text):  # "1. Where is my refund?": for an agent, not a score
        return None
    if memory.rating is None:
        if at > memory.survey_expires_at:
            return None
        both = None if payload else split_rating(text)  # "5, very quick, thank you!"
        score = both[0] if both else parse_rating(text, payload)
        if score is None:
            return None
        language = memory.language or config.triage.default_language
        thanks = Reply("survey_thanks", render("survey_thanks", language, channel,
                                               config.templates))
        comment = both[1][:4000] if both else None
        update = {"rating": score, "rated_at": at} | ({"commented": True} if comment else {})
        return SurveyAnswer(memory.model_copy(update=update), score, comment, thanks)
    if (memory.commented or memory.rated_at is None or not text
            or at > memory.rated_at + config.comment_window or request()):
        return None
    return SurveyAnswer(memory.model_copy(update={"commented": True}), memory.rating,
                        text[:4000], None)
