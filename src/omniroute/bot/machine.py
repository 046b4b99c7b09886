"""One conversation with the answer bot: a pure state machine.

States (:class:`Phase`)::

    (new ROUTE request) ─ not the bot's pool/channel/hours ─▶ PASSTHROUGH (router decides)
          │ the bot's
          ▼
      LISTENING ── answer found ──▶ ASKED ── "yes" / no reply in time ──▶ RESOLVED (bot)
          ▲  │                        │
          │  └ no answer (miss) ──────┤── "no", another miss, "a person please",
          └──── rephrase? ◀───────────┘   no reply after a miss  ──▶ HANDED_OFF (router)

While LISTENING or ASKED the conversation's ROUTE request is held here, so no
agent is offered it; every way out of those states either resolves the
conversation or releases the request to the router with intent, slots and
reason. A request for a person is honoured from any state, a "no" at once,
and misses are bounded, so no loop keeps a customer from a human.

Every function returns a :class:`Step`: the new session (None: forget it) and
what to emit. Event ids derive from the input's id, so replays emit the same.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel

from omniroute.bot.policy import BotPolicy
from omniroute.bot.replies import Meaning, closing, language_of, meaning, say
from omniroute.bot.triage import triage
from omniroute.contract import (
    Address,
    Author,
    AuthorKind,
    Channel,
    ConversationEvent,
    ConversationEventKind,
    InboundMessage,
    OutboundMessage,
)
from omniroute.contract.inbound import ThreadHints
from omniroute.conversations.mailthread import thread_of
from omniroute.conversations.state import derived_event_id
from omniroute.knowledge.articles import summary
from omniroute.routing.requests import RoutingRequest, RoutingRequestKind

Kind = ConversationEventKind
BOT = Author(kind=AuthorKind.BOT, id="answer-bot", name="Answer bot")
MAX_TEXTS = 10
RESOLVED_BY_BOT = "bot_resolved"


class Phase(StrEnum):
    """Where the conversation stands with the bot."""

    PASSTHROUGH = "passthrough"
    LISTENING = "listening"
    ASKED = "asked"
    HANDED_OFF = "handed_off"
    RESOLVED = "resolved"

    @property
    def holding(self) -> bool:
        """Whether the bot holds the conversation back from the router."""
        return self in (Phase.LISTENING, Phase.ASKED)


@dataclass(frozen=True)
class Found:
    """The best article a search found for the customer's question."""

    article_id: str
    language: str
    title: str
    category: str | None
    score: float
    body: str
    runner_up: float = 0.0
    """The score of the second-best article: too close means the question is ambiguous."""
    runner_up_title: str | None = None
    guessed: bool = False
    """The runner-up came from the triaged intent, not from the customer's words (which
    found this article, below the threshold): name both, answer with neither."""

    def answers(self, policy: BotPolicy) -> bool:
        """Good enough to answer with: above the threshold and clearly ahead of the next."""
        return self.score >= policy.threshold and self.score - self.runner_up >= policy.margin

    def suggests(self, policy: BotPolicy) -> bool:
        """Under the threshold but at half of it or more, and at least twice the next
        article's score: worth offering ("did you mean …?"), not worth answering with."""
        return policy.threshold / 2 <= self.score < policy.threshold \
            and self.runner_up <= self.score / 2

    def ambiguous(self, policy: BotPolicy) -> bool:
        """Two articles both good enough and too close to choose between, or one the
        customer's words found and one their intent did (:attr:`guessed`)."""
        return self.runner_up_title is not None and (
            self.runner_up >= policy.threshold or self.guessed) and not self.answers(policy)


class ReplyRoute(BaseModel):
    """Where the bot's messages go: the customer's latest channel and address."""

    channel: Channel
    channel_account: str
    recipient: str
    thread: ThreadHints | None = None
    """An email's: the subject and References of the bot's replies."""


class BotSession(BaseModel):
    """What the bot remembers about one conversation."""

    conversation_id: str
    customer_id: str
    workspace: str
    phase: Phase
    held: RoutingRequest | None = None
    language: str = "en"
    misses: int = 0
    answered: list[str] = []
    deadline: datetime | None = None
    reply: ReplyRoute | None = None
    texts: list[str] = []
    category: str | None = None
    suggested: tuple[str, str] | None = None
    """The article (id, language) a miss offered ("reply yes to read it")."""


@dataclass
class Step:
    """The bot's decision: the new session (None: forget it) and what to emit."""

    session: BotSession | None
    outbound: list[OutboundMessage] = field(default_factory=list)
    events: list[ConversationEvent] = field(default_factory=list)
    requests: list[RoutingRequest] = field(default_factory=list)


SWITCHED_OFF = "the answer bot was switched off"
"""Why a conversation the bot held went to a person when an admin switched the bot off."""

THANKED = "the customer only said thanks"
"""Why the bot closed a conversation without a word: its message was thanks or assent
alone (typically after the bot had resolved it), and a person would only close it again."""


def on_request(session: BotSession | None, request: RoutingRequest, policy: BotPolicy,
               at: datetime) -> Step:
    """A routing request of the conversation: hold it (the bot's), or pass it to the router."""
    if session is not None and session.phase.holding:
        if request.kind is RoutingRequestKind.CANCEL:
            return Step(None)
        held = session.held
        if held is not None:
            request = request.model_copy(update={
                "kind": RoutingRequestKind.ROUTE, "waiting_since": held.waiting_since})
        session = session.model_copy(update={"held": request})
        if escalated(request):
            return hand_off(session, "triage: the customer asked for a person",
                            request.event_id, at)
        return Step(session)
    fresh = session is None or session.phase is Phase.RESOLVED  # handed-off stays with people
    if request.kind is RoutingRequestKind.ROUTE and fresh and not escalated(request):
        pool = policy.pool_for(request.channel.value, request.pool, request.intent,
                               request.language, dict(request.skills))
        if policy.answers(request.channel.value, pool, at):
            return Step(BotSession(
                conversation_id=request.conversation_id, customer_id=request.customer_id,
                workspace=request.workspace, phase=Phase.LISTENING, held=request,
                language=request.language or "en"))
    passthrough = BotSession(conversation_id=request.conversation_id,
                             customer_id=request.customer_id, workspace=request.workspace,
                             phase=Phase.PASSTHROUGH)
    return Step(passthrough if session is None or session.phase.holding else session,
                requests=[request])


def escalated(request: RoutingRequest) -> bool:
    """Whether triage upstream already escalated the request to a person."""
    return bool(request.reason and "human" in request.reason.lower())


def wants_search(session: BotSession | None, message: InboundMessage) -> bool:
    """Whether the shell should search the knowledge base before :func:`on_message`."""
    if session is None or not session.phase.holding or not message.text:
        return False
    read = meaning(message.text)
    return read is Meaning.QUESTION or (  # "thanks, but how do refunds work?" asks too
        read is Meaning.YES and session.phase is Phase.LISTENING
        and (session.suggested is not None or not closing(message.text)))


def on_message(session: BotSession | None, message: InboundMessage, found: Found | None,
               policy: BotPolicy) -> Step:
    """A customer message in a conversation the bot holds (others: nothing to do)."""
    if session is None or not session.phase.holding:
        return Step(session)
    text = message.text or ""
    session = session.model_copy(update={
        "reply": ReplyRoute(channel=message.channel, channel_account=message.channel_account,
                            recipient=message.sender.value,
                            thread=thread_of(message)),
        "language": language_of(text, session.language),
        "texts": [*session.texts, text[:1000]][-MAX_TEXTS:] if text else session.texts,
    })
    ids, at = message.event_id, message.occurred_at
    if not policy.enabled:
        return hand_off(session, SWITCHED_OFF, ids, at)
    read = meaning(text)
    if read is Meaning.HUMAN:
        return hand_off(session, "the customer asked for a person", ids, at)
    if session.phase is Phase.ASKED and read is Meaning.YES:
        return resolve(session, "the customer said the answer helped", ids, at)
    if session.phase is Phase.ASKED and read is Meaning.NO:
        return hand_off(session, "the customer said the article did not help", ids, at)
    if found is not None and found.answers(policy):
        if found.article_id not in session.answered:
            return answer(session, found, policy, ids, at)
        # the same question again (user run 60's "where is my order?" twice): the article
        # did not help, and "I could not find an article about that" would be untrue
        return hand_off(session, "the customer asked again after the article", ids, at)
    if closing(text):  # "thanks" after the bot resolved: nothing to answer, no "rephrase"
        return resolve(session, THANKED, ids, at, thank=False)
    misses = session.misses + 1
    if misses >= policy.max_misses or not text:
        return hand_off(session.model_copy(update={"misses": misses}),
                        "no knowledge-base article answers the question", ids, at)
    session = session.model_copy(update={
        "misses": misses, "phase": Phase.LISTENING, "suggested": None,
        "deadline": at + timedelta(seconds=policy.feedback_window_s)})
    if found is not None and found.ambiguous(policy):  # name both: the customer picks
        prompt = say("ambiguous", session.language, first=found.title,
                     second=found.runner_up_title or "")
    elif found is not None and found.suggests(policy) and found.article_id not in session.answered:
        # user run 61: "My blender lid is broken, please send a replacement" found the
        # damaged-item article at 0.29 (next 0.07), and the bot said it had found nothing
        prompt = say("suggest", session.language, title=found.title)
        session = session.model_copy(update={"suggested": (found.article_id, found.language)})
    else:
        prompt = say("rephrase", session.language)
    return Step(session, outbound=[_say(session, prompt, derived_event_id(ids, "bot-rephrase"),
                                        at)])


def on_expire(session: BotSession | None, deadline: datetime, at: datetime,
              enabled: bool = True) -> Step:
    """A wait ended: no reply to "did this help?" resolves; none after a miss hands off.
    With the bot switched off (``enabled`` false: the sweep ends every wait at once) the
    conversation goes to a person either way."""
    if session is None or session.deadline != deadline or not session.phase.holding:
        return Step(session)
    ids = f"{session.conversation_id}.{int(deadline.timestamp() * 1000)}"
    if not enabled:
        return hand_off(session, SWITCHED_OFF, ids, at)
    if session.phase is Phase.ASKED:  # (user run 43: it said "Glad that helped!" to silence)
        return resolve(session, "no reply within the feedback window", ids, at, line="closed")
    return hand_off(session, "no reply to the bot", ids, at)


def on_resolved(session: BotSession | None, event: ConversationEvent) -> Step:
    """Someone resolved the conversation: an agent's resolution is human_resolved.

    The bot's own resolution coming back ends the session (unless the customer
    already wrote again and a new one started).
    """
    if session is None:
        return Step(None)
    if event.reason == RESOLVED_BY_BOT or session.phase is Phase.RESOLVED:
        return Step(None if session.phase is Phase.RESOLVED else session)
    if session.phase.holding:
        return Step(None)  # resolved by automation while the bot held it: nothing to release
    human = ConversationEvent(
        event_id=derived_event_id(event.event_id, "human"), occurred_at=event.occurred_at,
        workspace=session.workspace, conversation_id=session.conversation_id,
        customer_id=session.customer_id, kind=Kind.HUMAN_RESOLVED, channel=event.channel,
        agent_id=event.agent_id, pool=event.pool, reason=event.reason)
    return Step(None, events=[human])


def answer(session: BotSession, found: Found, policy: BotPolicy, ids: str,
           at: datetime) -> Step:
    """Answer with the article and ask whether it helped."""
    link = policy.link(found.article_id, found.language)
    text = say("answer", session.language, title=found.title, body=summary(found.body),
               link=f"\n{link}" if link else "")
    session = session.model_copy(update={
        "phase": Phase.ASKED, "answered": [*session.answered, found.article_id],
        "suggested": None,
        "category": found.category or session.category,
        "deadline": at + timedelta(seconds=policy.feedback_window_s)})
    event = _event(session, Kind.BOT_ANSWERED, derived_event_id(ids, "bot-answered"), at,
                   article_id=found.article_id, reason=f"score {found.score:.2f}")
    return Step(session, outbound=[_say(session, text, derived_event_id(ids, "bot-answer"), at)],
                events=[event])


def resolve(session: BotSession, why: str, ids: str, at: datetime, thank: bool = True,
            line: str = "resolved") -> Step:
    """Bot-resolved: say ``line`` to the customer (the thanks; unless ``thank`` is off),
    record it and close the conversation."""
    session = session.model_copy(update={"phase": Phase.RESOLVED, "deadline": None,
                                         "held": None})
    events = [
        _event(session, Kind.BOT_RESOLVED, derived_event_id(ids, "bot-resolved"), at,
               reason=why, article_id=session.answered[-1] if session.answered else None),
        _event(session, Kind.RESOLVED, derived_event_id(ids, "bot-resolve"), at,
               reason=RESOLVED_BY_BOT),
    ]
    thanks = [_say(session, say(line, session.language),
                   derived_event_id(ids, "bot-thanks"), at)] if thank else []
    return Step(session, outbound=thanks, events=events)


def hand_off(session: BotSession, why: str, ids: str, at: datetime) -> Step:
    """Release the held request to the router with triage, and tell the agent why."""
    held = session.held
    intent = held.intent if held else None
    found = triage(session.texts, session.language, intent, session.category)
    session = session.model_copy(update={"phase": Phase.HANDED_OFF, "deadline": None,
                                          "held": None})
    note = _note(found, why, session)
    events = [
        _event(session, Kind.HANDED_OFF, derived_event_id(ids, "bot-handoff"), at, reason=why,
               triage=found),
        _event(session, Kind.NOTE_ADDED, derived_event_id(ids, "bot-note"), at, note=note),
    ]
    requests = []
    if held is not None:
        requests.append(held.model_copy(update={
            "event_id": derived_event_id(ids, "bot-route"), "occurred_at": at,
            "kind": RoutingRequestKind.ROUTE, "intent": found["intent"][:64],
            "language": session.language, "reason": f"answer bot handoff: {why}"[:200]}))
    outbound = [_say(session, say("handoff", session.language),
                     derived_event_id(ids, "bot-handoff-say"), at)] if session.reply else []
    return Step(session, outbound=outbound, events=events, requests=requests)


def _note(found: dict[str, str], why: str, session: BotSession) -> str:
    slots = ", ".join(f"{k.removeprefix('slot.')}={v}" for k, v in found.items()
                      if k.startswith("slot.")) or "none found"
    tried = ", ".join(session.answered) or "none"
    asked = " / ".join(t[:200] for t in session.texts[-3:]) or "-"
    return (f"Answer bot handoff: {why}. Intent: {found['intent']}. Slots: {slots}. "
            f"Language: {found['language']}. Articles tried: {tried}. Customer wrote: {asked}")


def _event(session: BotSession, kind: Kind, event_id: str, at: datetime,
           **fields: object) -> ConversationEvent:
    channel = session.reply.channel if session.reply else None
    return ConversationEvent(event_id=event_id, occurred_at=at, workspace=session.workspace,
                             conversation_id=session.conversation_id,
                             customer_id=session.customer_id, kind=kind, channel=channel,
                             **fields)


def _say(session: BotSession, text: str, event_id: str, at: datetime) -> OutboundMessage:
    reply = session.reply
    assert reply is not None  # the bot speaks only after the customer wrote
    return OutboundMessage(
        event_id=event_id, occurred_at=at, workspace=session.workspace,
        conversation_id=session.conversation_id, customer_id=session.customer_id,
        channel=reply.channel, channel_account=reply.channel_account,
        recipient=Address(value=reply.recipient), author=BOT, text=text, thread=reply.thread)
